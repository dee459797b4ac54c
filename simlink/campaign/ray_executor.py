"""The Ray backend: ``simlink run S.yaml --backend ray [--address ADDR]``.

One long-lived actor per worker, each holding the CPUs its TF thread pools
use, calls :func:`~simlink.campaign.worker.configure_process` and builds one
:class:`~simlink.campaign.worker.Worker` when it starts; cells go to the
actors a few at a time, and each returns a dict of floats, so only plain
Python and NumPy objects cross process boundaries. A killed actor is
restarted (its in-flight cells are retried on the new process); a run
interrupted past that loses only the cells in flight, as with the local
backend.

``ray`` is an optional dependency (the ``ray`` extra): it is imported only
when this backend is used, and this module only by
:func:`~simlink.campaign.executors.make_executor` and
:func:`~simlink.campaign.executors.check_backend` when it is chosen.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import Iterator, Sequence

from simlink._tf_logging import QUIET_ENV
from simlink.campaign.cells import CellTask
from simlink.campaign.errors import CampaignError
from simlink.campaign.worker import Plan, Worker, configure_process
from simlink.pool import cpu_count
from simlink.paths import cache_dir

#: cells queued per actor: one running, one ready to start as soon as it ends
IN_FLIGHT_PER_ACTOR = 2
#: times a lost actor is restarted, and a cell it was running retried
MAX_RESTARTS = 3
#: driver environment variables the actors get too (the cache is set explicitly):
#: TensorFlow's log level, so that actors on other nodes log as this process does
FORWARDED_ENV = tuple(QUIET_ENV)


def require_ray() -> ModuleType:
    """The ``ray`` module, or a :class:`CampaignError` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise CampaignError(f"backend ray needs the ray extra: pip install 'simlink[ray]' "
                            f"({exc})") from None
    return ray


class CellActor:
    """The body of one Ray actor: a :class:`Worker` in a process of its own."""

    def __init__(self, plan: Plan, threads: int):
        configure_process(threads)
        self.worker = Worker(plan)

    def run(self, task: CellTask) -> dict[str, float]:
        return self.worker.run(task)


def _absolute(plan: Plan) -> Plan:
    """``plan`` with absolute paths: actors may run in another working
    directory (on other nodes they always do)."""
    return dataclasses.replace(
        plan, test_data={env: str(Path(p).resolve()) for env, p in plan.test_data.items()},
        weights_dir=str(Path(plan.weights_dir).resolve()))


class RayExecutor:
    """Cells on Ray actors (see the module docstring).

    ``workers``: the number of actors, at most the cluster's CPU count
    (``None``: one per CPU); each is given up to ``cluster CPUs // workers``
    CPUs (fewer where the nodes could not hold every actor otherwise) and
    as many TF threads. ``address``: the
    cluster to join; without it a local Ray instance with this machine's
    CPUs is started, and shut down at exit. When this process is already
    connected to Ray, that connection is used as it is.
    """

    def __init__(self, plan: Plan, workers: int | None = None, address: str | None = None):
        self.plan, self.workers, self.address = _absolute(plan), workers, address
        self._actors: list = []

    def __enter__(self) -> "RayExecutor":
        self._ray = ray = require_ray()
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            local = {} if self.address else {"num_cpus": cpu_count(), "include_dashboard": False}
            # Worker output (TF and Sionna start-up chatter) would break the
            # progress bar; errors come back as exceptions, the rest stays in
            # Ray's session logs.
            ray.init(address=self.address or "local", log_to_driver=False,
                     logging_level=logging.WARNING, **local)
        return self

    def __exit__(self, *exc) -> None:
        for actor in self._actors:
            self._ray.kill(actor, no_restart=True)   # frees their CPUs for the next run
        self._actors = []
        if self._owns_ray:
            self._ray.shutdown()

    def layout(self, n_tasks: int) -> tuple[int, int]:
        """``(actors, CPUs and TF threads per actor)`` for ``n_tasks`` cells on
        the connected cluster."""
        node_cpus = [int(n["Resources"].get("CPU", 0)) for n in self._ray.nodes() if n["Alive"]]
        total = sum(node_cpus)
        if total < 1:
            raise CampaignError("the Ray cluster has no CPUs")
        workers = self.workers or total
        if workers > total:
            # An actor holds its CPU for its whole life: actors beyond the
            # cluster's CPUs would never start, and the cells queued on them
            # would wait forever.
            warnings.warn(f"--workers {workers} exceeds the Ray cluster's {total} CPUs; "
                          f"using {total} workers")
            workers = total
        workers = min(workers, n_tasks)
        # The most CPUs per actor such that every actor fits on some node.
        threads = max(1, total // workers)
        while threads > 1 and sum(n // threads for n in node_cpus) < workers:
            threads -= 1
        return workers, threads

    def _start(self, n_tasks: int) -> list:
        ray = self._ray
        workers, threads = self.layout(n_tasks)
        env = {"SIMLINK_CACHE": str(cache_dir().resolve()),
               **{k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}}
        actor_class = ray.remote(CellActor).options(
            num_cpus=threads, max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS,
            runtime_env={"env_vars": env})
        # The plan goes by value (it is small): a restarted actor reruns its
        # constructor, and an object-store reference to the plan may be gone
        # by then.
        self._actors = [actor_class.remote(self.plan, threads) for _ in range(workers)]
        return self._actors

    def map_unordered(self, tasks: Sequence[CellTask]) -> Iterator[tuple[CellTask, dict]]:
        if not tasks:
            return
        from ray.exceptions import RayActorError

        ray, todo = self._ray, iter(tasks)
        actors = self._actors or self._start(len(tasks))
        pending: dict = {}   # ObjectRef -> (actor index, task)

        def submit(i: int) -> None:
            if (task := next(todo, None)) is not None:
                pending[actors[i].run.remote(task)] = (i, task)

        for _ in range(IN_FLIGHT_PER_ACTOR):   # round-robin, so few cells still spread out
            for i in range(len(actors)):
                submit(i)
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            i, task = pending.pop(ref)
            try:
                result = ray.get(ref)
            except RayActorError as exc:
                if exc.actor_init_failed:
                    raise CampaignError(f"a Ray worker could not start: {exc}") from None
                raise CampaignError(f"a Ray worker was lost more than {MAX_RESTARTS} times "
                                    f"({exc}); rerun with --resume") from None
            submit(i)   # before yielding, so the actor stays busy while the cell is stored
            yield task, result
