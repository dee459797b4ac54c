"""The prestarted worker pool of ``--workers N`` (simlink.pool)."""
import time

from simlink import pool


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def _processes(p) -> list:
    return list(p._processes.values())


def _ended(processes, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(q.is_alive() for q in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(q.is_alive() for q in processes)


def test_prestarted_workers_start_at_once_and_run_with_one_blas_thread():
    """All N processes exist right after prestart (before any cell is queued),
    take hands that pool over once, and a worker's BLAS runs one thread."""
    pool.prestart(2)
    try:
        p = pool._prestarted
        assert sum(q.is_alive() for q in _processes(p)) == 2
        assert pool.take(2) is p and pool.take(2) is None
        assert set(p.submit(_blas_threads).result(timeout=300)) == {1}   # every BLAS loaded
    finally:
        pool.stop(p)


def test_a_pool_of_the_wrong_size_or_unused_is_ended():
    pool.prestart(2)
    processes = _processes(pool._prestarted)
    assert pool.take(3) is None                       # a run with another worker count
    assert _ended(processes)
    pool.prestart(1)
    processes = _processes(pool._prestarted)
    pool.discard()                                    # the run failed its checks
    assert pool._prestarted is None and _ended(processes)
