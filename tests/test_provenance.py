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
