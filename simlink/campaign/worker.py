"""What every executor runs in each of its processes.

A :class:`Plan` (picklable, plain data) says what to run; each process calls
:func:`configure_tf` once, builds one :class:`Worker` from the plan and calls
:meth:`Worker.run` once per cell. The executors
(:mod:`simlink.campaign.executors`, :mod:`simlink.campaign.ray_executor`)
only decide where those processes are and how cells reach them.
"""
from __future__ import annotations

import os
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


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def configure_tf(seed: int, threads: int | None = None) -> bool:
    """Make this process's TF ops deterministic.

    Sionna's generator is seeded first: once determinism is on, TF refuses
    to create it from a non-deterministic state (and unseeded ops fail, so a
    global seed is set too; each cell reseeds both).

    Parameters
    ----------
    seed : int
        The scenario seed.
    threads : int, optional
        Size of the TF intra- and inter-op thread pools; only possible before
        TF runs its first op. None leaves TF's default.

    Returns
    -------
    bool
        Whether op determinism was already enabled (so a caller can restore it).
    """
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
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
