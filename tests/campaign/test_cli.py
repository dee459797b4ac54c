"""The command line beyond ``validate``: datagen, train, run, report, bad
worker counts and Ctrl-C, in process (``simlink.cli.main``)."""
from __future__ import annotations

import json

import pytest
import yaml

from simlink import campaign
from simlink.campaign.training import weights_dir
from simlink.cli import main
from simlink.paths import cache_dir


@pytest.fixture()
def scenario_file(tiny, tmp_path, monkeypatch):
    """The tiny scenario as a file, with a cache of its own (datagen and train start empty)."""
    monkeypatch.setenv("SIMLINK_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny.model_dump(mode="json")))
    return path


def test_datagen_train_run_report(scenario_file, tmp_path, capsys):
    assert main(["datagen", str(scenario_file), "--smoke", "--quiet"]) == 0
    data = sorted(p.name for p in (cache_dir()).rglob("*.h5"))
    assert data, "datagen wrote no dataset"
    assert main(["train", str(scenario_file), "--smoke", "--quiet"]) == 0
    weights = sorted(p.name for p in weights_dir().rglob("*") if p.is_file())
    assert weights, "train cached no weights (lmmse learns a covariance)"
    out = tmp_path / "out"
    assert main(["run", str(scenario_file), "--smoke", "--quiet", "--out", str(out)]) == 0
    # the run found both: no new dataset and no new weights
    assert sorted(p.name for p in (cache_dir()).rglob("*.h5")) == data
    assert sorted(p.name for p in weights_dir().rglob("*") if p.is_file()) == weights
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "gauss" in printed and "NMSE [dB]" in printed and str(out / "results.csv") in printed


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one_is_a_usage_error(scenario_file, capsys, workers):
    assert main(["run", str(scenario_file), "--workers", workers]) == 2
    assert capsys.readouterr().err.strip() == "--workers: must be at least 1"


def test_a_negative_seed_is_a_usage_error(scenario_file, capsys):
    assert main(["run", str(scenario_file), "--smoke", "--seed", "-3"]) == 2
    assert capsys.readouterr().err.strip() == "--seed: must be a non-negative integer, got -3"


def test_report_of_a_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "nothing" in err[0]


def test_ctrl_c_exits_130_and_says_how_to_resume(scenario_file, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(campaign, "run", interrupted)
    assert main(["run", str(scenario_file), "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted: finished cells are kept; re-run with --resume"


@pytest.mark.fast
@pytest.mark.parametrize("command", [[], ["validate"], ["list"], ["datagen"], ["train"], ["run"], ["report"]])
def test_help_has_examples_and_no_markup(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text
    assert "\nexamples:\n  simlink " + (command[0] if command else "") in text

