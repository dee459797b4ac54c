"""Every committed results folder was made by ``simlink run`` on a clean tree
at a commit of this history, from the scenario file of the same name as it
stands now (a scenario edited without re-making its results fails here)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from simlink.campaign.cells import effective_scenario
from simlink.config import load_scenario

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = sorted(p for p in (ROOT / "results").iterdir() if p.is_dir())


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)


def test_there_are_committed_results():
    assert FOLDERS, "results/ holds no campaign folder"


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_results_folder_provenance(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["smoke"] is False
    assert manifest["git_dirty"] is False, f"{folder.name}: made on a tree with uncommitted changes"
    commit = manifest["git_commit"]
    assert commit and len(commit) == 40
    if _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout: the commit cannot be looked up")
    assert _git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0, (
        f"{folder.name}: commit {commit} is not in this branch's history")
    scenario = effective_scenario(load_scenario(ROOT / "scenarios" / f"{folder.name}.yaml"))
    assert manifest["scenario_hash"] == scenario.content_hash(), (
        f"scenarios/{folder.name}.yaml changed after results/{folder.name} was made: re-make it")
    assert (folder / "results.csv").is_file() and (folder / "results.parquet").is_file()


def test_ordering_counts_wins_losses_and_ties():
    import pandas as pd

    from simlink.campaign.report import ordering
    rows = [("a", 0.0, 1.0), ("b", 0.0, 0.5), ("a", 5.0, 1.0), ("b", 5.0, 1.004),
            ("a", 10.0, 1.0), ("b", 10.0, 2.0), ("a", 15.0, 1.0)]
    df = pd.DataFrame([{"environment": "e", "estimator": e, "snr_db": s, "link": "", "goodput_bps_hz": g}
                       for e, s, g in rows])
    assert ordering(df, "a", "b") == {"wins": 1, "losses": 1, "ties": 1, "cells": 3}


def test_link_adaptation_orders_the_methods():
    """results/link_cdl: on goodput, LMMSE beats LS and perfect CSI beats LMMSE
    in at least 80% of the cells where they differ (ties within 0.005 bit/s/Hz
    left out, at most a third of the cells tied)."""
    import pandas as pd

    from simlink.campaign.report import ordering
    df = pd.read_parquet(ROOT / "results" / "link_cdl" / "results.parquet")
    assert df.mcs_index.notna().all(), "results/link_cdl was made without link adaptation"
    for better, worse in [("lmmse", "ls"), ("perfect", "lmmse")]:
        o = ordering(df, better, worse)
        assert o["wins"] >= 0.8 * (o["wins"] + o["losses"]) and o["ties"] <= o["cells"] / 3, (better, worse, o)
