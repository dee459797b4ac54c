"""A campaign run: its table, manifest, plots and laws 4 and 5."""
import json

import numpy as np
import pandas as pd
import pytest

from simlink.campaign import CampaignError, run
from simlink.campaign.cells import effective_scenario, make_grid
from simlink.campaign.store import columns
from simlink.estimators import REGISTRY

from plot_checks import check_metric_figure, figures_of

REQUIRED = ["environment", "estimator", "snr_db", "seed", "n_samples", "nmse_db", "est_snr_db",
            "rate_bps_hz", "ber", "bler", "feedback_bits", "latency_ms", "nmse_db_ci_low",
            "nmse_db_ci_high", "rate_ci95", "nmse_sample_db", "params", "pilot_overhead"]


def test_table_has_one_row_per_point(tiny, reference):
    out, df = reference
    assert list(df.columns) == columns() and set(REQUIRED) <= set(df.columns)
    assert len(df) == len(tiny.environments) * len(tiny.estimators) * len(tiny.sweep.snr_db)
    assert (df["n_samples"] == tiny.sweep.n_test).all()
    assert (df["n_cells"] == 3).all() and (df["seed"] == tiny.seed).all()
    # metrics nobody produced are NaN, never a made-up value
    assert df[["ber", "bler", "feedback_bits", "bits", "blocks"]].isna().all().all()
    perfect = df[df.estimator == "perfect"]
    assert (perfect["nmse_db"] == -np.inf).all() and (perfect["pilot_overhead"] == 0).all()
    ls = df[df.estimator == "ls"]
    assert (ls["pilot_overhead"] == tiny.system.pilot_overhead).all()
    assert np.isfinite(ls[["nmse_db", "nmse_db_ci_low", "nmse_db_ci_high", "rate_ci95"]]).all().all()
    assert (ls["nmse_db_ci_low"] < ls["nmse_db"]).all() and (ls["nmse_db"] < ls["nmse_db_ci_high"]).all()
    assert (df["latency_ms"] > 0).all()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), df)
    assert len(pd.read_csv(out / "results.csv")) == len(df)


def test_chunks_merge_by_summing_raw_sums(reference):
    """The table's figures come from summed raw sums, not averaged ratios."""
    out, df = reference
    cells = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    assert len(cells) == 3 * len(df)
    for (env, est, snr), row in df.set_index(["environment", "estimator", "snr_db"]).iterrows():
        mine = [c["result"] for c in cells
                if (c["task"]["environment"], c["task"]["estimator"], c["task"]["snr_db"]) == (env, est, snr)]
        n = sum(r["n"] for r in mine)
        assert row["rate_bps_hz"] == pytest.approx(sum(r["rate_sum"] for r in mine) / n, rel=1e-12)
        if est != "perfect":
            ratio = sum(r["err_sum"] for r in mine) / sum(r["pow_sum"] for r in mine)
            assert row["nmse_db"] == pytest.approx(10 * np.log10(ratio), rel=1e-12)


def test_manifest_and_plots(tiny, reference, tmp_path, monkeypatch):
    out, _ = reference
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "complete" and m["scenario_hash"] == tiny.content_hash()
    assert m["scenario"]["name"] == "tiny" and m["smoke"] is False
    assert m["seeds"]["scenario"] == tiny.seed and set(m["seeds"]["datasets"]["gauss"]) == {"test", "train"}
    assert m["wall_time_s"] > 0 and m["backend"] == "local" and m["workers"] == 1
    assert {"simlink", "sionna", "tensorflow", "numpy"} <= set(m["versions"])
    assert len(m["git_commit"]) == 40     # the tests run inside the simlink checkout
    assert m["datasets"]["gauss"]["test"]["digest"] and m["datasets"]["gauss"]["train"]["n"] == 64
    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert plots == ["nmse_gauss.png", "rate_gauss.png"]
    # what the figures show: the table's points, their CIs, labelled axes
    _, df = reference
    figures = figures_of(df, tmp_path, monkeypatch)
    assert sorted(figures) == plots
    check_metric_figure(figures["nmse_gauss.png"], df, "nmse_db", "NMSE [dB]",
                        ("nmse_db_ci_low", "nmse_db_ci_high"))
    check_metric_figure(figures["rate_gauss.png"], df, "rate_bps_hz",
                        "effective rate [bit/s/Hz]", "rate_ci95")


def test_law4_perfect_csi_has_the_highest_mean_rate(reference):
    _, df = reference
    for snr, d in df.groupby("snr_db"):
        rates = d.set_index("estimator")["rate_bps_hz"]
        assert rates["perfect"] >= rates.max(), (snr, rates.to_dict())


def test_law5_same_scenario_and_seed_same_table(tiny, reference, tmp_path, comparable):
    from tensorflow.python.framework import config as tf_config

    again = run(tiny, tmp_path / "again", quiet=True)
    pd.testing.assert_frame_equal(comparable(again), comparable(reference[1]))
    assert not tf_config.is_op_determinism_enabled()   # the caller's process is left as it was
    other = run(tiny, tmp_path / "other-seed", quiet=True, seed=tiny.seed + 1)
    assert not np.allclose(other["rate_bps_hz"], again["rate_bps_hz"])
    assert (other["seed"] == tiny.seed + 1).all()


def test_two_workers_give_the_same_table(tiny, reference, tmp_path, comparable):
    df = run(tiny, tmp_path / "w2", workers=2, quiet=True)
    pd.testing.assert_frame_equal(comparable(df), comparable(reference[1]))


def test_every_estimator_sees_the_same_noise(tiny, reference, tmp_path, comparable):
    """A cell's numbers do not depend on which other estimators run."""
    only_ls = tiny.model_copy(update={"estimators": [tiny.estimators[1]]})
    df = run(only_ls, tmp_path / "ls", quiet=True)
    ref = reference[1]
    pd.testing.assert_frame_equal(comparable(df), comparable(ref[ref.estimator == "ls"]))


def test_smoke_and_seed_shape_the_effective_scenario(tiny):
    smoke = effective_scenario(tiny, smoke=True, seed=11)
    assert (smoke.sweep.n_test, smoke.sweep.n_train, smoke.seed) == (16, 32, 11)
    assert len(make_grid(smoke)) == 1 * 4 * 2 * 1          # one chunk of 16 samples
    assert smoke.content_hash() != tiny.content_hash()
    assert effective_scenario(tiny) == tiny


def test_smoke_overrides_train_steps(tiny):
    trainable = [cls for cls in REGISTRY.values() if "train_steps" in cls.Config.model_fields]
    if not trainable:
        pytest.skip("no estimator with train_steps in the schema")
    entry = trainable[0].Config(name="nn", kind=trainable[0].kind)
    scenario = tiny.model_copy(update={"estimators": [*tiny.estimators, entry]})
    smoke = effective_scenario(scenario, smoke=True)
    assert smoke.estimators[-1].train_steps == tiny.smoke.train_steps
    assert smoke.estimators[:-1] == tiny.estimators


def test_progress_bar_shows_the_latest_figure(tiny, tmp_path, capsys):
    small = tiny.model_copy(update={"estimators": tiny.estimators[:2]})
    run(small, tmp_path / "loud", smoke=True)
    err = capsys.readouterr().err
    assert "gauss/" in err and "nmse=" in err and "cell" in err
    run(small, tmp_path / "quiet", smoke=True, quiet=True)
    assert "nmse=" not in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    ({"backend": "ray", "workers": 0}, "--workers"),
    ({"backend": "slurm"}, "unknown backend"),
    ({"workers": 0}, "--workers"),
    ({"address": "1.2.3.4:6379"}, "--address"),
])
def test_bad_executor_options_fail_early(tiny, tmp_path, kwargs, message):
    with pytest.raises(CampaignError, match=message):
        run(tiny, tmp_path / "x", quiet=True, **kwargs)
    assert not (tmp_path / "x").exists()
