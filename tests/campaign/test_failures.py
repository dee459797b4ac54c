"""User errors in a campaign end with one line and exit code 2, and keep what finished."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
