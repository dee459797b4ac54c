"""What every executor runs in each of its processes.

A :class:`Plan` (picklable, plain data) says what to run; each worker process
calls :func:`configure_process` once, builds one :class:`Worker` per plan and
calls :meth:`Worker.run` once per cell. The executors
(:mod:`simlink.campaign.executors`, :mod:`simlink.campaign.ray_executor`)
only decide where those processes are and how cells reach them.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from simlink.campaign.cells import CellTask, seed_generators
from simlink.config import Scenario


@dataclass(frozen=True)
class Plan:
    """Everything a worker needs, picklable.

    Attributes
    ----------
    scenario : Scenario
        The effective scenario (smoke sizes and seed override applied).
    test_data : dict of str to str
        Each environment's test dataset path.
    weights : dict of str to dict of str to str or None
        Estimator name -> environment name -> weight key (None: nothing learned).
    weights_dir : str
        The weight cache folder.
    """
    scenario: Scenario
    test_data: dict[str, str]
    weights: dict[str, dict[str, str | None]]
    weights_dir: str


#: BLAS threads of a process running cells: the cells' matrices are small, so
#: OpenBLAS's threads buy nothing on one worker (``benchmarks/link.py``,
#: blas_threads: quickstart 34.7 s at 1 thread vs 34.6 s at the default on 2
#: cores) and with several workers they would only oversubscribe the cores
BLAS_THREADS = 1


def configure_process(threads: int | None = None) -> None:
    """Size this process's thread pools for running cells: TF's intra- and
    inter-op pools to ``threads`` (only possible before TF runs its first op;
    None leaves TF's default) and BLAS to :data:`BLAS_THREADS`. For worker
    processes; :class:`Worker` makes the ops deterministic."""
    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    threadpool_limits(BLAS_THREADS, user_api="blas")


def make_deterministic(seed: int) -> bool:
    """Make this process's TF ops deterministic.

    Sionna's generator is seeded first: once determinism is on, TF refuses
    to create it from a non-deterministic state (and unseeded ops fail, so a
    global seed is set too; each cell reseeds both). Returns whether op
    determinism was already enabled (so a caller can restore it).
    """
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    was_enabled = tf_config.is_op_determinism_enabled()
    seed_generators(seed)
    tf.config.experimental.enable_op_determinism()
    return was_enabled


class Worker:
    """Per-process cell runner: estimators loaded once, recent test chunks kept.

    Parameters
    ----------
    plan : Plan
        What to run; the estimators are loaded from ``plan.weights_dir``.
    """

    def __init__(self, plan: Plan):
        from simlink.campaign.training import load_estimators

        self.plan = plan
        self.was_deterministic = make_deterministic(plan.scenario.seed)
        self.estimators = load_estimators(plan.scenario, plan.weights, Path(plan.weights_dir))
        self._data: OrderedDict[tuple, tuple] = OrderedDict()
        self._warm: set[tuple] = set()

    def _chunk(self, task: CellTask):
        from simlink.channels import load_dataset

        key = (task.environment, task.start, task.stop)
        if key not in self._data:
            d = load_dataset(self.plan.test_data[task.environment], task.start, task.stop)
            self._data[key] = (d["H_ul"], d["H_dl"])
            while len(self._data) > max(2, len(self.plan.scenario.environments)):
                self._data.popitem(last=False)
        return self._data[key]

    def run(self, task: CellTask) -> dict[str, float]:
        """The raw sums of one cell (see :func:`simlink.campaign.cells.compute_cell`)."""
        from simlink.campaign.cells import compute_cell

        est = self.estimators[(task.estimator, task.environment)]
        H_ul, H_dl = self._chunk(task)
        # The first call per process and batch shape pays one-time costs
        # (tracing, XLA compilation, kernel set-up): run it untimed so that
        # latency_ms measures inference only. The pilot density sets the
        # shapes of the pilot observation, so each density warms up anew.
        warm_key = (id(est), task.stop - task.start, task.pilot_density)
        warm_up = warm_key not in self._warm
        self._warm.add(warm_key)
        return compute_cell(task, est, H_ul, H_dl, self.plan.scenario, warm_up=warm_up)
