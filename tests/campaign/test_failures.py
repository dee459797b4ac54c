"""User errors in a campaign end with one line and exit code 2, and keep what finished."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from simlink import progress
from simlink.cli import main

BAD_SHAPE = '''
import numpy as np
from simlink.estimators import Estimate, Estimator, register


@register
class HalfBand(Estimator):
    """Returns half of the DL band (a broken method)."""
    kind = "half_band"
    requires = frozenset({"dl_true"})

    def estimate(self, obs):
        return Estimate(np.asarray(obs.H_dl[..., ::2], np.complex64))
'''


def test_n_train_zero_with_a_learning_method(tiny, tmp_path, capsys):
    data = tiny.model_dump(mode="json")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**data, "sweep": {**data["sweep"], "n_train": 0}}))
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: sweep.n_train is 0 but estimators ['lmmse'] need training data"]
    assert not progress.is_quiet(), "an in-process --quiet run left the bars off for its caller"


def test_wrong_shape_is_one_line_and_finished_cells_stay(tiny, tmp_path):
    (tmp_path / "half_band.py").write_text(BAD_SHAPE)
    scenario = {**tiny.model_dump(mode="json"), "plugins": ["half_band.py"],
                "estimators": [{"name": "perfect", "kind": "perfect"},
                               {"name": "half", "kind": "half_band"}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    exe = Path(sys.executable).with_name("simlink")
    done = subprocess.run([str(exe), "run", str(path), "--quiet", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: estimator 'half' returned shape (16, 4, 2, 6), expected (16, 4, 2, 12)"]
    # the cell of `perfect` that ran before it is on disk, and the manifest says the run did not finish
    cells = [json.loads(p.read_text()) for p in (tmp_path / "out" / "cells").glob("*.json")]
    assert cells and all(c["task"]["estimator"] == "perfect" for c in cells)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "running"


DIES = '''
import multiprocessing
import os
import signal

import numpy as np
from simlink.estimators import Estimate, Estimator, register


@register
class Dies(Estimator):
    """Perfect CSI, except that with SIMLINK_TEST_DIE set a spawned worker is killed."""
    kind = "dies"
    requires = frozenset({"dl_true"})

    def estimate(self, obs):
        if os.environ.get("SIMLINK_TEST_DIE") and multiprocessing.parent_process() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return Estimate(np.asarray(obs.H_dl, np.complex64))
'''


def test_a_worker_that_dies_is_one_line_and_resume_finishes(tiny, tmp_path):
    """A spawned worker killed mid-run (SIGKILL: no Python cleanup) breaks the
    pool: one line, exit 2, the cells this process finished meanwhile are kept
    whole, and --resume reuses them and finishes."""
    import os
    (tmp_path / "dies.py").write_text(DIES)
    scenario = {**tiny.model_dump(mode="json"), "plugins": ["dies.py"],
                "estimators": [{"name": "perfect", "kind": "perfect"}, {"name": "dies", "kind": "dies"}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    exe, out = Path(sys.executable).with_name("simlink"), tmp_path / "out"
    cmd = [str(exe), "run", str(path), "--quiet", "--workers", "2", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "SIMLINK_TEST_DIE": "1"})
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: a worker process died") and line.endswith("rerun with --resume")
    kept = {p.name: json.loads(p.read_text()) for p in (out / "cells").glob("*.json")}
    assert kept   # this process ran the fifth cell while the spawned one took the first four
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"

    # one worker finishes the rest (the table does not depend on the worker count)
    resumed = subprocess.run([*cmd[:4], "--out", str(out), "--resume"], capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["cells_reused"] == len(kept)


def test_weights_missing_from_the_cache_name_the_file(tiny, tmp_path):
    """A worker whose weight cache lacks a fitted estimator's file (e.g. a
    Ray node without the shared cache) says which file, in one line."""
    from simlink.campaign import CampaignError
    from simlink.campaign.training import load_estimators
    weights = {"perfect": {"gauss": None}, "ls": {"gauss": None}, "ul": {"gauss": None},
               "lmmse": {"gauss": "0123456789abcdef"}}
    with pytest.raises(CampaignError) as info:
        load_estimators(tiny, weights, tmp_path)
    assert str(info.value) == (f"{tmp_path / '0123456789abcdef.npz'}: weights of 'lmmse' missing "
                               "from the cache (run `simlink train` first)")


def test_corrupt_weights_are_refitted(tiny, tmp_path, capsys):
    """A truncated weight file is not trusted: the run warns, fits again and
    ends with the table of an intact cache."""
    from simlink.campaign import run, train
    from simlink.campaign.training import weights_dir
    fits = train(tiny, quiet=True)["fits"]
    (fit,) = [f for f in fits if f["estimator"] == "lmmse"]
    path = weights_dir() / f"{fit['key']}.npz"
    reference = run(tiny, tmp_path / "a", quiet=True)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.warns(UserWarning, match="unreadable weight cache"):
        again = run(tiny, tmp_path / "b", quiet=True)
    timing = ["latency_ms", "latency_s_sum"]
    pd.testing.assert_frame_equal(again.drop(columns=timing), reference.drop(columns=timing))
