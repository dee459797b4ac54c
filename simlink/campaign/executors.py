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
per worker that calls ``configure_tf(plan.scenario.seed, threads)`` and
builds one ``Worker(plan)``). :mod:`simlink.campaign.ray_executor` is
imported only when that backend is chosen, so ``ray`` stays optional.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Iterator, Protocol, Sequence

from simlink.campaign.cells import CellTask
from simlink.campaign.errors import CampaignError
from simlink.campaign.worker import Plan, Worker, configure_tf, cpu_count


class Executor(Protocol):
    def __enter__(self) -> "Executor": ...
    def __exit__(self, *exc) -> None: ...
    def map_unordered(self, tasks: Sequence[CellTask]) -> Iterator[tuple[CellTask, dict]]: ...


class InProcessExecutor:
    """``--workers 1``: cells run one after the other in this process."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def __enter__(self) -> "InProcessExecutor":
        self._was_deterministic = configure_tf(self.plan.scenario.seed)
        self.worker = Worker(self.plan)
        return self

    def __exit__(self, *exc) -> None:
        del self.worker
        if not self._was_deterministic:   # leave the caller's process as it was
            from tensorflow.python.framework import config as tf_config
            tf_config.disable_op_determinism()

    def map_unordered(self, tasks: Sequence[CellTask]) -> Iterator[tuple[CellTask, dict]]:
        for task in tasks:
            yield task, self.worker.run(task)


_PROCESS_WORKER: Worker | None = None


def _init_process(plan: Plan, threads: int) -> None:
    global _PROCESS_WORKER
    configure_tf(plan.scenario.seed, threads)
    _PROCESS_WORKER = Worker(plan)


def _run_in_process(task: CellTask) -> dict[str, float]:
    return _PROCESS_WORKER.run(task)


class ProcessExecutor:
    """``--workers N``: N spawned processes, each with its own :class:`Worker`
    and ``cores // N`` TF threads. NumPy arrays in and out."""

    def __init__(self, plan: Plan, workers: int):
        self.plan, self.workers = plan, workers

    def __enter__(self) -> "ProcessExecutor":
        threads = max(1, cpu_count() // self.workers)
        self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"),
                                        initializer=_init_process, initargs=(self.plan, threads))
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def map_unordered(self, tasks: Sequence[CellTask]) -> Iterator[tuple[CellTask, dict]]:
        # Keep a bounded queue in flight so a kill loses few cells and
        # workers never idle.
        pending, todo = {}, iter(tasks)
        try:
            while True:
                while len(pending) < 2 * self.workers and (task := next(todo, None)) is not None:
                    pending[self.pool.submit(_run_in_process, task)] = task
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
