"""Output and cache paths that cannot be created or written: exit 2 and one
line naming the path and the reason, before any work; a disk that fills up
in the middle of a run loses no finished cell."""
from __future__ import annotations

import errno
import os

import pandas as pd
import pytest
import yaml

from simlink.campaign import store as store_module
from simlink.cli import main
from simlink.fileio import atomic_write


@pytest.fixture()
def scenario_file(tiny, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny.model_dump(mode="json")))
    return path


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SIMLINK_CACHE", str(cache))
    return cache


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("out, reason", [
    ("/proc/simlink-out", "No such file or directory"),     # a kernel filesystem refuses folders
    ("/sys/simlink-out", "Operation not permitted"),        # read-only for root too
])
def test_run_into_a_folder_that_cannot_be_made(scenario_file, fresh_cache, capsys, out, reason):
    assert main(["run", str(scenario_file), "--quiet", "--out", out]) == 2
    line = _one_line(capsys)
    assert out in line and reason in line and line.startswith("error: results folder")
    assert not (fresh_cache / "datasets").exists(), "work started before the folder was checked"


def test_out_naming_an_existing_file(scenario_file, fresh_cache, tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("not a folder")
    assert main(["run", str(scenario_file), "--quiet", "--out", str(target)]) == 2
    line = _one_line(capsys)
    assert str(target) in line and "a file is in the way" in line
    assert target.read_text() == "not a folder"
    assert not (fresh_cache / "datasets").exists()


@pytest.mark.parametrize("command", ["datagen", "train", "run"])
def test_cache_that_cannot_be_created(scenario_file, tmp_path, monkeypatch, capsys, command):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SIMLINK_CACHE", str(blocker / "cache"))
    extra = ["--out", str(tmp_path / "out")] if command == "run" else []
    assert main([command, str(scenario_file), "--quiet", *extra]) == 2
    line = _one_line(capsys)
    assert line == (f"error: SIMLINK_CACHE {blocker / 'cache'}: cannot create the folder: "
                    f"a file is in the way ({blocker})")


def test_read_only_cache(scenario_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMLINK_CACHE", "/sys/simlink-cache")
    assert main(["datagen", str(scenario_file), "--quiet"]) == 2
    assert _one_line(capsys) == ("error: SIMLINK_CACHE /sys/simlink-cache: cannot write there: "
                                 "Operation not permitted")


def test_report_into_a_plots_folder_blocked_by_a_file(reference, tmp_path, capsys):
    import shutil
    folder = tmp_path / "copy"
    shutil.copytree(reference[0], folder)
    shutil.rmtree(folder / "plots")
    (folder / "plots").write_text("x")
    assert main(["report", str(folder)]) == 2
    line = _one_line(capsys)
    assert str(folder / "plots") in line and "a file is in the way" in line


def test_full_disk_mid_run_keeps_every_finished_cell(tiny, reference, comparable, tmp_path,
                                                     monkeypatch, capsys, scenario_file):
    """The third cell write finds the disk full (ENOSPC from the file system
    call inside atomic_write): the run stops with one line, the two cells
    written before are intact, and --resume ends with the reference table."""
    real = store_module.atomic_write_json
    calls = {"cells": 0}

    def filling_disk(path, obj):
        if path.parent.name == "cells":
            calls["cells"] += 1
            if calls["cells"] >= 3:
                def no_space(f):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
                return atomic_write(path, no_space)
        return real(path, obj)

    out = tmp_path / "out"
    monkeypatch.setattr(store_module, "atomic_write_json", filling_disk)
    assert main(["run", str(scenario_file), "--quiet", "--out", str(out)]) == 2
    line = _one_line(capsys)
    assert "No space left on device" in line and "the 2 finished cells are kept" in line
    assert "--resume" in line and str(out / "cells") in line
    assert sorted(p.name for p in (out / "cells").iterdir()) == sorted(
        p.name for p in (out / "cells").glob("*.json")), "a partial cell file was left behind"
    assert len(list((out / "cells").glob("*.json"))) == 2

    monkeypatch.setattr(store_module, "atomic_write_json", real)
    assert main(["run", str(scenario_file), "--quiet", "--out", str(out), "--resume"]) == 0
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / "results.parquet")),
                                  comparable(reference[1]))
