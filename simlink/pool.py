"""Worker processes for ``--workers N``, started before the heavy imports.

A spawned worker spends seconds importing TensorFlow and Sionna before it
can take a cell. :func:`prestart` (called by ``simlink run`` right after
parsing its arguments, before this process imports them itself) starts the
N - 1 processes of ``--workers N`` (the parent is the N-th) so that their
imports overlap the parent's and its dataset and training work; :class:`~simlink.campaign.executors.ProcessExecutor` then
:func:`take` s the pool. This module imports nothing heavy: the workers'
initializer imports the campaign modules inside the child.
(``benchmarks/link.py`` measures the effect.)
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

_prestarted: ProcessPoolExecutor | None = None
_prestarted_workers = 0


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """TF threads of each of ``workers`` processes sharing this machine's CPUs."""
    return max(1, cpu_count() // workers)


def _init(threads: int) -> None:
    from simlink.campaign.worker import configure_process
    configure_process(threads)


def _pid() -> int:
    return os.getpid()


def start(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, all of them started now (each
    imports the campaign modules and sizes its thread pools on start)."""
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init, initargs=(threads_per_worker(workers),))
    # A spawning pool adds one process per submission while none is idle:
    # ``workers`` submissions start them all rather than on demand.
    for _ in range(workers):
        pool.submit(_pid)
    return pool


def prestart(workers: int) -> None:
    """Start the pool of a coming ``--workers`` run now (see the module docstring)."""
    global _prestarted, _prestarted_workers
    discard()
    _prestarted, _prestarted_workers = start(workers), workers


def take(workers: int) -> ProcessPoolExecutor | None:
    """The prestarted pool if it has ``workers`` processes (the caller owns it then)."""
    global _prestarted
    pool, _prestarted = _prestarted, None
    if pool is not None and _prestarted_workers != workers:
        stop(pool)
        return None
    return pool


def discard() -> None:
    """Stop a prestarted pool nobody took (e.g. the run failed its checks)."""
    global _prestarted
    if _prestarted is not None:
        stop(_prestarted)
        _prestarted = None


def stop(pool: ProcessPoolExecutor) -> None:
    """End ``pool``'s processes now, without waiting for their queued work or
    their TensorFlow teardown (a prestarted pool may still be importing)."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.terminate()
