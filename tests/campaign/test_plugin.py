"""A new method and a new environment added from one file, outside the package.

This file is also the plugin: the scenario below names it under ``plugins:``,
so ``simlink`` imports it (in the CLI process and in every worker) and the two
classes register themselves. They register only then (module name
``simlink_plugin_*``), so the pytest session keeps the built-in registry.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest
import yaml

from simlink.channels import EnvBase, environment
from simlink.channels.source import BLOCK, SyntheticSource
from simlink.estimators import Estimate, Estimator, register
from simlink.observation.grid import complex_awgn
from simlink.system import PosFloat

AS_PLUGIN = __name__.startswith("simlink_plugin_")


class ToyEnv(EnvBase):
    """I.i.d. Rayleigh UL CSI; the DL CSI is ``gain`` times it."""
    kind: Literal["toy_env"]
    gain: PosFloat = 0.5


class ToySource(SyntheticSource):
    def draw(self, seed: np.random.SeedSequence):
        shape = (BLOCK, self.system.n_bs, self.system.n_ue, self.system.n_subcarriers_ul)
        h_ul = complex_awgn(shape, 1.0, np.random.default_rng(seed))
        return h_ul, (self.env.gain * h_ul).astype(np.complex64)


class ToyScale(Estimator):
    """The BS's UL CSI scaled by a least-squares scalar learned from the training pairs.

    Parameters
    ----------
    shrink : float
        Extra factor on the learned scalar.
    """
    kind = "toy_scale"
    requires = frozenset({"ul_csi"})

    shrink: PosFloat = 1.0

    def fit(self, train, *, rng, parts=None):
        own = train.for_env(train.target)   # fit_scope "environment": the target's split
        a = np.vdot(own.H_ul, own.H_dl) / np.vdot(own.H_ul, own.H_ul)
        return self.set_state({"a": np.array([a], np.complex64)}, train.system)

    def get_state(self):
        return {"a": self.a_}

    def set_state(self, state, system):
        self.a_ = np.asarray(state["a"], np.complex64)
        return self

    def system_problems(self, system):
        if system.n_subcarriers_ul != system.n_subcarriers_dl:
            return [("kind", "toy_scale needs n_subcarriers_ul == n_subcarriers_dl")]
        return []

    def estimate(self, obs):
        return Estimate((self.shrink * self.a_[0] * obs.ul_csi).astype(np.complex64))


if AS_PLUGIN:
    environment(ToyEnv)(ToySource)
    register(ToyScale)

SCENARIO = {
    "name": "toy", "seed": 1, "plugins": [Path(__file__).name],
    "system": {"fc_ul_hz": 3.5e9, "fc_dl_hz": 3.6e9, "n_subcarriers_ul": 8, "n_subcarriers_dl": 8,
               "bs_array": {"kind": "ula", "n": 4}, "ue_array": {"kind": "ula", "n": 1}},
    "environments": [{"name": "toy-a", "kind": "toy_env", "gain": 0.5},
                     {"name": "gauss", "kind": "gaussian"}],
    "estimators": [{"name": "scaled", "kind": "toy_scale"}, {"name": "ul", "kind": "no_estimation"},
                   {"name": "ls", "kind": "ls"}],
    "sweep": {"snr_db": [0, 20], "n_test": 64, "n_train": 64, "chunk": 32},
    "smoke": {"n_test": 32, "n_train": 32},
}


def simlink(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("simlink")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    """The scenario beside a copy of this file (``plugins:`` is relative to the scenario)."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / Path(__file__).name).write_text(Path(__file__).read_text())
    path = folder / "toy.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    return path


def test_validate_and_list_see_the_plugin(scenario_file):
    done = simlink("validate", str(scenario_file), cwd=scenario_file.parent)
    assert done.returncode == 0, done.stderr
    done = simlink("list", "toy_scale", "--plugin", Path(__file__).name, cwd=scenario_file.parent)
    assert done.returncode == 0, done.stderr
    assert "requires: ul_csi" in done.stdout and "shrink: float > 0 = 1.0" in done.stdout


def test_plugin_requirements_are_checked(scenario_file):
    bad = dict(SCENARIO, system={**SCENARIO["system"], "n_subcarriers_dl": 4})
    path = scenario_file.with_name("bad.yaml")
    path.write_text(yaml.safe_dump(bad))
    done = simlink("validate", str(path), cwd=path.parent)
    assert done.returncode == 2
    assert "estimators[0].kind: toy_scale needs n_subcarriers_ul == n_subcarriers_dl" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_run_finds_the_plugin_rows(scenario_file, workers):
    out = scenario_file.parent / f"run{workers}"
    done = simlink("run", str(scenario_file), "--smoke", "--quiet", "--workers", workers,
                   "--out", str(out), cwd=scenario_file.parent)
    assert done.returncode == 0, done.stderr
    df = pd.read_csv(out / "results.csv")
    toy = df[(df.environment == "toy-a") & (df.estimator == "scaled")]
    assert sorted(toy.snr_db) == [0.0, 20.0] and (toy.n_samples == 32).all()
    # The learned scalar is the gain g, so the error is g n and NMSE = noise_var / P_ul, where
    # normalising E|h|^2 = 1 over both bands makes the UL power P_ul = 2 / (1 + g^2).
    g = SCENARIO["environments"][0]["gain"]
    expected = 10 * np.log10(10 ** (-20 / 10) * (1 + g ** 2) / 2)
    assert toy.set_index("snr_db").nmse_db[20.0] == pytest.approx(expected, abs=0.6)
    assert set(df.estimator) == {"scaled", "ul", "ls"} and set(df.environment) == {"toy-a", "gauss"}
