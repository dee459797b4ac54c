"""Interrupted runs, resume, corrupt cell files and foreign results folders."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from simlink.campaign import CampaignError, run
from simlink.campaign.store import read_table

# Runs the tiny scenario in a child process with LS slowed down, so the
# parent can kill it between cells.
CHILD = textwrap.dedent("""
    import sys, time
    from simlink.config import parse_scenario
    from simlink.estimators.ls import LS
    slow = LS.estimate
    def estimate(self, obs):
        time.sleep(0.3)
        return slow(self, obs)
    LS.estimate = estimate
    import simlink.campaign
    simlink.campaign.run(parse_scenario({scenario!r}), sys.argv[1], quiet=True)
""")


def test_sigkill_then_resume_gives_the_uninterrupted_table(tiny, reference, tmp_path, comparable):
    out = tmp_path / "killed"
    script = CHILD.format(scenario=tiny.model_dump(mode="json"))
    proc = subprocess.Popen([sys.executable, "-c", script, str(out)])
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "cells").glob("*.json"))) < 8:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no cells written in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = len(list((out / "cells").glob("*.json")))
    assert done < 24
    if (out / "results.parquet").exists():     # a table written mid-run is whole
        assert read_table(out)["n_samples"].sum() <= done * 16

    df = run(tiny, out, resume=True, quiet=True)
    pd.testing.assert_frame_equal(comparable(df), comparable(reference[1]))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["cells_reused"] == done
    assert not list((out / "cells").glob(".*tmp*"))


def test_corrupt_cell_files_are_recomputed(tiny, reference, tmp_path, comparable):
    out = tmp_path / "corrupt"
    run(tiny, out, quiet=True)
    cells = sorted((out / "cells").glob("*.json"))
    text = cells[0].read_text()
    cells[0].write_text(text[: len(text) // 2])                 # truncated
    rec = json.loads(cells[1].read_text())
    del rec["result"]["rate_sum"]
    cells[1].write_text(json.dumps(rec))                         # incomplete
    with pytest.warns(UserWarning) as record:
        df = run(tiny, out, resume=True, quiet=True)
    messages = " ".join(str(w.message) for w in record)
    assert cells[0].name in messages and cells[1].name in messages
    pd.testing.assert_frame_equal(comparable(df), comparable(reference[1]))
    assert json.loads(cells[0].read_text())["result"]["n"] == 16
    assert json.loads((out / "manifest.json").read_text())["cells_reused"] == len(cells) - 2


def test_foreign_results_folder_is_refused_without_resume(tiny, reference, tmp_path):
    out = reference[0]
    with pytest.raises(CampaignError, match="another scenario"):
        run(tiny, out, seed=tiny.seed + 5, quiet=True)
    # the same scenario may be rerun from scratch
    small = tmp_path / "small"
    run(tiny, small, smoke=True, quiet=True)
    before = {p.name for p in (small / "cells").glob("*.json")}
    run(tiny, small, smoke=True, quiet=True)
    assert {p.name for p in (small / "cells").glob("*.json")} == before
    # resuming into another scenario's folder recomputes its cells
    df = run(tiny, small, smoke=True, seed=99, resume=True, quiet=True)
    assert json.loads((small / "manifest.json").read_text())["cells_reused"] == 0
    assert (df["seed"] == 99).all()
