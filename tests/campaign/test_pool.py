"""The prestarted worker pool of ``--workers N`` (simlink.pool)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from simlink import pool

WHERE = '''
import os
from pathlib import Path

import numpy as np
from simlink.estimators import Estimate, Estimator, register


@register
class Where(Estimator):
    """Perfect CSI; leaves a file named after the process that ran the cell."""
    kind = "where"
    requires = frozenset({"dl_true"})

    def estimate(self, obs):
        Path(os.environ["SIMLINK_TEST_PIDS"], str(os.getpid())).touch()
        return Estimate(np.asarray(obs.H_dl, np.complex64))
'''


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


def test_n_workers_are_this_process_and_n_minus_1_spawned(tiny, tmp_path):
    """``--workers 2`` runs cells in exactly two processes: ``simlink run``
    itself (it takes the fifth cell while the spawned worker has the first
    four queued) and one spawned worker."""
    (tmp_path / "where.py").write_text(WHERE)
    scenario = {**tiny.model_dump(mode="json"), "plugins": ["where.py"],
                "estimators": [{"name": "where", "kind": "where"}]}
    path, pids = tmp_path / "s.yaml", tmp_path / "pids"
    path.write_text(yaml.safe_dump(scenario))
    pids.mkdir()
    exe = Path(sys.executable).with_name("simlink")
    proc = subprocess.Popen([str(exe), "run", str(path), "--quiet", "--workers", "2",
                             "--out", str(tmp_path / "out")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SIMLINK_TEST_PIDS": str(pids)})
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    ran = {int(p.name) for p in pids.iterdir()}
    assert proc.pid in ran and len(ran) == 2
