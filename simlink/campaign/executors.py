"""Executors: where the cells of a campaign run.

Every backend runs the same per-process object,
:class:`~simlink.campaign.worker.Worker`, built once per process from a
picklable :class:`~simlink.campaign.worker.Plan` (it loads the estimators
from the weight cache) and called once per cell with a :class:`CellTask`;
the result is a dict of plain floats. An executor only has to implement
:class:`Executor`: a context manager whose ``map_unordered(tasks)`` yields
``(task, result)`` as cells finish, in any order (the store sorts).

Backends: ``local`` (:class:`InProcessExecutor`, or :class:`ProcessExecutor`
with ``workers`` processes) and ``ray``
(:class:`~simlink.campaign.ray_executor.RayExecutor`: one long-lived actor
per worker that calls ``configure_process(threads)`` and builds one
``Worker(plan)``). :mod:`simlink.campaign.ray_executor` is
imported only when that backend is chosen, so ``ray`` stays optional.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Iterator, Protocol, Sequence

from simlink.campaign.cells import CellTask
from simlink.campaign.errors import CampaignError
from threadpoolctl import threadpool_limits

from simlink import pool as worker_pool
from simlink.campaign.worker import BLAS_THREADS, Plan, Worker


class Executor(Protocol):
    def __enter__(self) -> "Executor": ...
    def __exit__(self, *exc) -> None: ...
    def map_unordered(self, tasks: Sequence[CellTask]) -> Iterator[tuple[CellTask, dict]]: ...


class InProcessExecutor:
    """``--workers 1``: cells run one after the other in this process (with
    :data:`~simlink.campaign.worker.BLAS_THREADS` BLAS threads while they run)."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def __enter__(self) -> "InProcessExecutor":
        self._blas = threadpool_limits(BLAS_THREADS, user_api="blas")
        self.worker = Worker(self.plan)
        return self

    def __exit__(self, *exc) -> None:
        was_deterministic = self.worker.was_deterministic
        del self.worker
        self._blas.restore_original_limits()
        if not was_deterministic:   # leave the caller's process as it was
            from tensorflow.python.framework import config as tf_config
            tf_config.disable_op_determinism()

    def map_unordered(self, tasks: Sequence[CellTask]) -> Iterator[tuple[CellTask, dict]]:
        for task in tasks:
            yield task, self.worker.run(task)


#: this process's worker and the plan it was built for (a pool serves every
#: plan it is given, one after the other)
_WORKER: tuple[Plan, Worker] | None = None


def _run_in_process(plan: Plan, task: CellTask) -> dict[str, float]:
    global _WORKER
    if _WORKER is None or _WORKER[0] != plan:
        _WORKER = None                     # free the last plan's estimators first
        _WORKER = (plan, Worker(plan))
    return _WORKER[1].run(task)


class ProcessExecutor:
    """``--workers N``: this process and N - 1 spawned ones (:mod:`simlink.pool`,
    prestarted by ``simlink run``) run the cells, each spawned process with its
    own :class:`Worker` and ``cores // N`` TF threads; NumPy arrays in and out.

    This process takes the next cell itself whenever no spawned worker's
    result is waiting: N processes import TensorFlow instead of N + 1, which
    on N cores is one import (seconds) less before the first cell, and the
    parent no longer idles through the run (``benchmarks/link.py``). This
    process keeps its TF thread pools: its dataset generation and training,
    before the cells, use every core.
    """

    def __init__(self, plan: Plan, workers: int):
        self.plan, self.spawned = plan, workers - 1

    def __enter__(self) -> "ProcessExecutor":
        self.pool = worker_pool.take(self.spawned) or worker_pool.start(self.spawned)
        self.local = InProcessExecutor(self.plan).__enter__()
        return self

    def __exit__(self, *exc) -> None:
        # Every result this run will use is in (or the run is failing): the
        # workers hold nothing worth a clean TensorFlow teardown.
        worker_pool.stop(self.pool)
        self.local.__exit__(*exc)

    def map_unordered(self, tasks: Sequence[CellTask]) -> Iterator[tuple[CellTask, dict]]:
        # A bounded queue in flight, so that a kill loses few cells, deep
        # enough that the spawned workers do not run dry while this process
        # computes a long cell (it refills the queue only between its cells).
        pending, todo = {}, iter(tasks)
        try:
            while True:
                while len(pending) < 4 * self.spawned and (task := next(todo, None)) is not None:
                    pending[self.pool.submit(_run_in_process, self.plan, task)] = task
                done = [fut for fut in pending if fut.done()]
                if not done:
                    if (task := next(todo, None)) is not None:
                        yield task, self.local.worker.run(task)
                        continue
                    if not pending:
                        return
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield pending.pop(fut), fut.result()
        except BrokenProcessPool as exc:
            raise CampaignError(f"a worker process died ({exc}); rerun with --resume") from None


def check_backend(backend: str, workers: int | None = 1, address: str | None = None) -> None:
    """Reject unusable executor options before any work starts."""
    if workers is not None and workers < 1:
        raise CampaignError(f"--workers must be >= 1, got {workers}")
    if backend == "ray":
        from simlink.campaign.ray_executor import require_ray
        require_ray()
        return
    if backend != "local":
        raise CampaignError(f"unknown backend {backend!r} (use local or ray)")
    if address is not None:
        raise CampaignError("--address only applies to --backend ray")


def make_executor(backend: str, plan: Plan, *, workers: int | None = 1,
                  address: str | None = None) -> Executor:
    """The executor for ``backend``: ``local`` runs in this process, or in
    ``workers`` spawned processes; ``ray`` runs ``workers`` actors on the
    cluster at ``address`` (a local Ray instance without one). ``workers``
    ``None``: one process locally, one actor per cluster CPU on Ray."""
    check_backend(backend, workers, address)
    if backend == "ray":
        from simlink.campaign.ray_executor import RayExecutor
        return RayExecutor(plan, workers, address)
    return InProcessExecutor(plan) if workers in (None, 1) else ProcessExecutor(plan, workers)
