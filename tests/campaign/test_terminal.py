"""What a researcher sees in the terminal: the compact summary tables, and no
TensorFlow/absl start-up lines on stderr from any command."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from simlink._tf_logging import drop_noise, is_noise
from simlink.campaign.report import summary_table
from simlink.campaign.store import COLUMNS

REPO = Path(__file__).resolve().parents[2]
#: what TensorFlow, absl and CUDA print at start-up (never simlink)
NOISE = re.compile(r"^[IWEF]\d{4} |cudart|oneDNN|TF-TRT|cuda|absl", re.IGNORECASE)


def table(rows: list[dict]) -> pd.DataFrame:
    """A results table with the given cells; every other column NaN."""
    return pd.DataFrame([{"link": "", **r} for r in rows], columns=COLUMNS)


def block(text: str, title: str) -> list[list[str]]:
    """The rows (split on blanks) of the block whose first line starts with ``title``."""
    for b in text.split("\n\n"):
        lines = b.splitlines()
        if lines[0].startswith(title):
            return [line.split() for line in lines[1:]]
    raise AssertionError(f"no block {title!r} in:\n{text}")


def titles(text: str) -> list[str]:
    return [b.splitlines()[0] for b in text.split("\n\n")]


@pytest.mark.fast
def test_values_land_in_their_row_and_column():
    df = table([{"environment": env, "estimator": est, "snr_db": snr,
                 "nmse_db": -10 * i - snr / 10 - (0.04 if env == "b" else 0)}
                for env in ("a", "b") for i, est in enumerate(("ls", "lmmse"))
                for snr in (0.0, 10.0, 20.0)])
    df.loc[(df.environment == "a") & (df.estimator == "lmmse") & (df.snr_db == 10), "nmse_db"] = math.nan
    df.loc[(df.environment == "b") & (df.estimator == "ls") & (df.snr_db == 0), "nmse_db"] = -math.inf
    text = summary_table(df)
    # rate is all NaN: NMSE blocks only, one per environment, in table order
    assert titles(text) == ["a: NMSE [dB] vs SNR [dB]", "b: NMSE [dB] vs SNR [dB]"]
    assert block(text, "a:") == [["estimator", "0", "10", "20"],
                                 ["ls", "0.0", "-1.0", "-2.0"],
                                 ["lmmse", "-10.0", "-", "-12.0"]]
    assert block(text, "b:") == [["estimator", "0", "10", "20"],
                                 ["ls", "-inf", "-1.0", "-2.0"],
                                 ["lmmse", "-10.0", "-11.0", "-12.0"]]


@pytest.mark.fast
def test_rate_and_goodput_blocks_where_they_were_measured():
    rows = [{"environment": "cdl", "estimator": est, "snr_db": snr, "link": link,
             "nmse_db": -snr, "rate_bps_hz": snr / 10 + 0.123,
             "goodput_bps_hz": snr / 10 + (1 if link == "64qam" else 0)}
            for est in ("perfect", "ls") for snr in (0.0, 5.0) for link in ("16qam", "64qam")]
    text = summary_table(table(rows))
    # NMSE and rate do not depend on the link: one block each, not one per link
    assert titles(text) == ["cdl: NMSE [dB] vs SNR [dB]", "cdl: rate [bit/s/Hz] vs SNR [dB]",
                            "cdl: goodput [bit/s/Hz], link 16qam vs SNR [dB]",
                            "cdl: goodput [bit/s/Hz], link 64qam vs SNR [dB]"]
    assert block(text, "cdl: rate")[1:] == [["perfect", "0.12", "0.62"], ["ls", "0.12", "0.62"]]
    assert block(text, "cdl: NMSE")[2] == ["ls", "-0.0", "-5.0"]
    assert block(text, "cdl: goodput [bit/s/Hz], link 64qam")[1] == ["perfect", "1.00", "1.50"]


@pytest.mark.fast
def test_one_block_set_per_pilot_density():
    rows = [{"environment": "cdl", "estimator": "ls", "snr_db": 0.0, "pilot_density": alpha,
             "nmse_db": -alpha, "rate_bps_hz": alpha}
            for alpha in (0.25, 0.5)]
    text = summary_table(table(rows))
    assert titles(text) == ["cdl, pilot density 0.25: NMSE [dB] vs SNR [dB]",
                            "cdl, pilot density 0.25: rate [bit/s/Hz] vs SNR [dB]",
                            "cdl, pilot density 0.5: NMSE [dB] vs SNR [dB]",
                            "cdl, pilot density 0.5: rate [bit/s/Hz] vs SNR [dB]"]
    assert block(text, "cdl, pilot density 0.5: rate")[1] == ["ls", "0.50"]


@pytest.mark.fast
def test_a_long_snr_list_is_split_to_fit_the_width():
    snrs = [float(s) for s in range(-30, 42, 2)]
    rows = [{"environment": "umi", "estimator": est, "snr_db": s, "nmse_db": -s - 0.05}
            for est in ("a_long_estimator_name", "ls") for s in snrs]
    text = summary_table(table(rows), width=100)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 100
    headers = [line.split()[1:] for line in lines if line.startswith("estimator")]
    assert len(headers) > 1 and [float(s) for h in headers for s in h] == snrs
    ls = [v for line in lines if line.startswith("ls ") for v in line.split()[1:]]
    assert ls == [f"{-s - 0.05:.1f}" for s in snrs]


@pytest.mark.fast
def test_noise_filter_drops_tensorflow_start_up_lines_only():
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "I0000 00:00:1796158795.442668    8182 cudart_stub.cc:31] Could not find cuda drivers on "
        "your machine, GPU will not be used.\n",
        "E0000 00:00:1758131045.203198 3722035 cuda_dnn.cc:8579] Unable to register cuDNN factory\n",
        "2025-09-17 14:44:05.176998: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] "
        "Unable to register cuFFT factory\n",
        "W0917 14:44:05.228000 3722035 py_utils.cc:38] TF-TRT Warning: Could not find TensorRT\n",
        "I0917 14:44:05.228000 3722035 port.cc:153] oneDNN custom operations are on.\n",
    ]
    kept = ["error: scenario.yaml: no such file\n", "some/module.py:3: UserWarning: careful\n",
            "F0917 14:44:05.228000 3722035 x.cc:1] Check failed: fatal lines always show\n"]
    assert drop_noise(noise + kept, 3) == kept
    assert drop_noise(noise, 0) == noise   # TF_CPP_MIN_LOG_LEVEL=0 shows everything
    assert is_noise(noise[2], 3) and not is_noise(noise[2], 2)   # ERROR lines show at level 2


def _env() -> dict[str, str]:
    """This environment less the TF settings the test suite makes: simlink
    must quiet TensorFlow by itself."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def _simlink(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("simlink")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "simlink.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=REPO, env=_env(),
                          timeout=timeout)


def _noise(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if NOISE.search(line)]


@pytest.mark.parametrize("args", [["list"], ["validate", "scenarios/quickstart.yaml"]])
def test_commands_print_no_tensorflow_start_up_lines(args):
    proc = _simlink(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _noise(proc.stderr) == []


def test_a_run_with_spawned_workers_is_quiet_and_ends_with_the_summary(tiny, tmp_path):
    """The spawned workers import TensorFlow themselves."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny.model_dump(mode="json")))
    proc = _simlink("run", str(spec), "--smoke", "--workers", "2", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _noise(proc.stderr) == []
    assert "gauss: NMSE [dB] vs SNR [dB]" in proc.stdout
    assert "gauss: rate [bit/s/Hz] vs SNR [dB]" in proc.stdout
    assert str(tmp_path / "out" / "results.csv") in proc.stdout

    report = _simlink("report", str(tmp_path / "out"))
    assert report.returncode == 0, report.stderr[-3000:]
    assert _noise(report.stderr) == []
    assert report.stdout.split("\n\nevery column")[0] == proc.stdout.split("\n\nevery column")[0]


def test_import_simlink_then_channels_generate(tiny, tmp_path):
    """As the README shows, in a fresh interpreter, with TensorFlow as quiet."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny.model_dump(mode="json")))
    script = ("import sys, simlink\n"
              "s = simlink.load_scenario(sys.argv[1])\n"
              "pair = simlink.channels.generate(s.environments[0], s.system, n=3, seed=0)\n"
              "print(pair['H_dl'].shape)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(spec)], capture_output=True,
                          text=True, cwd=tmp_path, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "(3, 4, 2, 12)"
    assert _noise(proc.stderr) == []
