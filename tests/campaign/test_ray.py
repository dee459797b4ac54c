"""The Ray backend, on a real local Ray instance with 2 CPUs."""
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'simlink[ray]')")

from simlink.campaign import CampaignError, run  # noqa: E402
from simlink.campaign.cells import make_grid  # noqa: E402
from simlink.campaign.executors import Plan  # noqa: E402
from simlink.campaign.ray_executor import RayExecutor  # noqa: E402
from simlink.campaign.store import CellStore  # noqa: E402


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance with 2 CPUs for the tests that share it; the
    executor uses it as it is and leaves it running."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_cli_runs_on_a_local_ray_instance_of_its_own(tiny, tmp_path):
    """Without --address, `simlink run --backend ray` starts a local instance."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny.model_dump(mode="json")))
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "simlink.cli", "run", str(spec), "--out", str(out),
                           "--backend", "ray", "--workers", "1", "--smoke", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 8 and (df["n_samples"] == 16).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["backend"] == "ray"


def test_same_table_as_the_local_backend(tiny, reference, tmp_path, comparable, ray_instance):
    df = run(tiny, tmp_path / "ray", backend="ray", workers=2, quiet=True)
    pd.testing.assert_frame_equal(comparable(df), comparable(reference[1]))
    assert ray.is_initialized()   # the caller's instance is left running
    # The actors are gone, so their CPUs are free for the next run (Ray
    # releases them asynchronously).
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU") != 2:
        assert time.monotonic() < deadline, ray.available_resources()
        time.sleep(0.1)


def test_a_killed_worker_still_completes_every_cell_once(tiny, reference, tmp_path, comparable,
                                                         ray_instance, monkeypatch):
    """SIGKILL one actor's process after a few cells: Ray restarts it, its
    cells in flight are retried, and each cell is delivered exactly once."""
    pids: list[int] = []
    handles: list = []
    restarted: list[int] = []
    start, map_unordered = RayExecutor._start, RayExecutor.map_unordered

    def pid_of(actor) -> int:
        return ray.get(actor.__ray_call__.remote(lambda _: os.getpid()))

    def start_and_note_pids(self, n_tasks):
        actors = start(self, n_tasks)
        handles.extend(actors)
        pids.extend(pid_of(a) for a in actors)
        return actors

    def kill_after_four_cells(self, tasks):
        for k, item in enumerate(map_unordered(self, tasks)):
            if k == 4:   # the other cells are queued or running, two per actor
                os.kill(pids[0], signal.SIGKILL)
            if k == 5:   # the same actor handle answers again, from a new process
                restarted.append(pid_of(handles[0]))
            yield item

    delivered: Counter = Counter()
    write = CellStore.write

    def count_writes(store, task, res):
        delivered[task] += 1
        write(store, task, res)

    monkeypatch.setattr(RayExecutor, "_start", start_and_note_pids)
    monkeypatch.setattr(RayExecutor, "map_unordered", kill_after_four_cells)
    monkeypatch.setattr(CellStore, "write", count_writes)
    df = run(tiny, tmp_path / "killed", backend="ray", workers=2, quiet=True)

    assert len(pids) == 2
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
    assert restarted and restarted[0] not in pids, "Ray did not restart the killed actor"
    assert set(delivered) == set(make_grid(tiny)) and set(delivered.values()) == {1}
    assert (df["n_cells"] == 3).all() and (df["n_samples"] == tiny.sweep.n_test).all()
    pd.testing.assert_frame_equal(comparable(df), comparable(reference[1]))


@pytest.mark.parametrize("workers, n_tasks, layout", [
    (None, 24, (2, 1)),    # default: one actor per cluster CPU, one TF thread each
    (1, 24, (1, 2)),       # fewer actors get more threads
    (None, 1, (1, 2)),     # never more actors than cells
])
def test_layout_follows_the_cluster(tiny, ray_instance, workers, n_tasks, layout):
    with RayExecutor(Plan(tiny, {}, {}, "."), workers) as executor:
        assert executor.layout(n_tasks) == layout


@pytest.mark.parametrize("node_cpus, workers, layout", [
    ([3, 3], 3, (3, 1)),          # 2 CPUs each would fit only two actors
    ([1, 4], 2, (2, 2)),          # both on the 4-CPU node
    ([4, 4, 4, 4], 2, (2, 4)),
])
def test_layout_fits_every_actor_on_some_node(tiny, node_cpus, workers, layout):
    """An actor too big for every node would never start: its cells would wait forever."""
    executor = RayExecutor(Plan(tiny, {}, {}, "."), workers)
    executor._ray = SimpleNamespace(nodes=lambda: [{"Alive": True, "Resources": {"CPU": c}}
                                                   for c in node_cpus])
    assert executor.layout(24) == layout


def test_more_workers_than_cpus_are_capped(tiny, ray_instance):
    with RayExecutor(Plan(tiny, {}, {}, "."), 5) as executor:
        with pytest.warns(UserWarning, match="exceeds the Ray cluster's 2 CPUs"):
            assert executor.layout(24) == (2, 1)


def test_missing_ray_extra_fails_early(tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)     # makes `import ray` fail
    with pytest.raises(CampaignError, match=r"pip install 'simlink\[ray\]'"):
        run(tiny, tmp_path / "x", backend="ray", quiet=True)
    assert not (tmp_path / "x").exists()
