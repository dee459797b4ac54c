"""Fixtures of the campaign tests: a private cache, a tiny scenario and one
reference run of it that the other tests compare against."""
from __future__ import annotations

import pandas as pd
import pytest

from simlink.config import parse_scenario

TINY = {
    "name": "tiny",
    "seed": 3,
    "system": {"fc_ul_hz": 3.5e9, "fc_dl_hz": 3.6e9, "n_subcarriers_ul": 12,
               "n_subcarriers_dl": 12, "bs_array": {"kind": "ula", "n": 4},
               "ue_array": {"kind": "ula", "n": 2}},
    "environments": [{"name": "gauss", "kind": "gaussian", "bs_correlation": 0.8}],
    "estimators": [{"name": "perfect", "kind": "perfect"}, {"name": "ls", "kind": "ls"},
                   {"name": "ul", "kind": "no_estimation"}, {"name": "lmmse", "kind": "lmmse"}],
    "sweep": {"snr_db": [0, 10], "n_test": 48, "n_train": 64, "chunk": 16},
    "smoke": {"n_test": 16, "n_train": 32, "train_steps": 2},
}


def tiny_scenario(**changes):
    """The tiny scenario with top-level keys replaced."""
    return parse_scenario({**TINY, **changes})


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Datasets and weights go to a temporary cache (inherited by subprocesses)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIMLINK_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def tiny():
    return tiny_scenario()


@pytest.fixture(scope="session")
def reference(tiny, tmp_path_factory):
    """One uninterrupted in-process run of the tiny scenario: (folder, table)."""
    from simlink.campaign import run

    out = tmp_path_factory.mktemp("reference")
    return out, run(tiny, out, quiet=True)


@pytest.fixture(scope="session")
def comparable():
    """Drops the wall-clock columns of a table (the only ones allowed to differ)."""
    from simlink.campaign import TIMING_COLUMNS

    def drop_timing(df: pd.DataFrame) -> pd.DataFrame:
        return df.drop(columns=list(TIMING_COLUMNS)).reset_index(drop=True)
    return drop_timing
