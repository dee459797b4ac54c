"""``report``, ``prepare_data`` and ``train``."""
import shutil
from pathlib import Path

import pandas as pd
import pytest

from simlink.campaign import CampaignError, prepare_data, report, train


def test_report_prints_the_summary_and_remakes_plots(reference, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(reference[0], out)
    shutil.rmtree(out / "plots")
    df = report(out)
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "gauss: NMSE [dB] vs SNR [dB]"
    assert "gauss: rate [bit/s/Hz] vs SNR [dB]" in text and "lmmse" in text and "goodput" not in text
    pd.testing.assert_frame_equal(df, reference[1])
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["nmse_gauss.png", "rate_gauss.png"]


def test_report_errors_name_the_file(tmp_path):
    with pytest.raises(CampaignError, match="no such results folder"):
        report(tmp_path / "absent")
    with pytest.raises(CampaignError, match="results.parquet: missing"):
        report(tmp_path)
    (tmp_path / "results.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(CampaignError, match="results.parquet: unreadable"):
        report(tmp_path)


def test_prepare_data_and_train_fill_the_caches(tiny):
    data = prepare_data(tiny, smoke=True, quiet=True)
    gauss = data["gauss"]
    assert gauss["test"]["n"] == 16 and gauss["train"]["n"] == 32
    assert Path(gauss["test"]["path"]).is_file() and gauss["test"]["seed"] != gauss["train"]["seed"]
    assert prepare_data(tiny, smoke=True, quiet=True) == data

    first = train(tiny, smoke=True, quiet=True)
    # only lmmse learns something: one fit for the one environment
    assert [(f["estimator"], f["environment"]) for f in first["fits"]] == [("lmmse", "gauss")]
    assert first["weights"]["perfect"] == {"gauss": None}
    again = train(tiny, smoke=True, quiet=True)
    assert [f["status"] for f in again["fits"]] == ["cached"]
    assert again["weights"] == first["weights"]


def test_corrupt_weight_cache_is_refitted(tiny):
    from simlink.campaign.training import weights_dir

    key = train(tiny, smoke=True, quiet=True)["weights"]["lmmse"]["gauss"]
    (weights_dir() / f"{key}.npz").write_bytes(b"broken")
    with pytest.warns(UserWarning, match="unreadable weight cache"):
        fits = train(tiny, smoke=True, quiet=True)["fits"]
    assert [f["status"] for f in fits] == ["trained"]
