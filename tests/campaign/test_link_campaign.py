"""Campaigns with a ``link:`` section: the per-cell link loop as the runner wires it."""
from __future__ import annotations

import numpy as np
import pytest

from simlink import metrics
from simlink.campaign import run
from simlink.campaign.cells import effective_scenario
from simlink.config import parse_scenario

LINKS = [{"name": "qpsk", "adaptation": "fixed", "num_bits_per_symbol": 2, "code_rate": 0.5, "batch_size": 8,
          "max_batches": 3, "target_block_errors": 1000},
         {"name": "16qam", "adaptation": "fixed", "num_bits_per_symbol": 4, "code_rate": 0.5, "batch_size": 8,
          "max_batches": 3, "target_block_errors": 1000}]
SCENARIO = {
    "name": "link-tiny", "seed": 4,
    "system": {"fc_ul_hz": 3.5e9, "fc_dl_hz": 3.6e9, "n_subcarriers_ul": 12, "n_subcarriers_dl": 12,
               "bs_array": {"kind": "ula", "n": 4}, "ue_array": {"kind": "ula", "n": 1},
               "pilots": {"comb": 4, "period_symbols": 14}},
    "environments": [{"name": "gauss", "kind": "gaussian", "bs_correlation": 0.9}],
    "estimators": [{"name": "perfect", "kind": "perfect"},
                   {"name": "codebook", "kind": "codebook", "n1": 4, "n2": 1, "gain_bits": 2},
                   {"name": "klt", "kind": "klt", "cr": 0.25, "bits": 4}],
    "sweep": {"snr_db": [0.0, 10.0], "n_test": 8, "n_train": 8, "chunk": 8},
    "smoke": {"n_test": 8, "n_train": 8, "link_batches": 1},
}


def _scenario(feedback_ber: float):
    return parse_scenario({**SCENARIO, "link": [{**link, "feedback_ber": feedback_ber} for link in LINKS]})


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return run(_scenario(0.0), tmp_path_factory.mktemp("link") / "out", quiet=True)


def test_one_row_per_link_configuration_with_every_link_column(clean):
    assert len(clean) == 1 * 3 * 2 * len(LINKS)
    assert sorted(set(clean.link)) == ["16qam", "qpsk"]
    assert clean[["ber", "bler", "goodput_bps_hz"]].notna().all().all()
    assert clean.mcs_index.isna().all(), "a fixed MCS has no MCS index"
    # the last configuration's counts are its own: 16-QAM carries twice QPSK's bits per slot
    by = clean.set_index(["estimator", "snr_db", "link"])
    assert (by.xs("16qam", level="link").bits == 2 * by.xs("qpsk", level="link").bits).all()
    assert (clean.blocks > 0).all()


def test_goodput_charges_the_feedback_payload(clean):
    system = _scenario(0.0).system
    feedback_re = system.pilots.period_symbols * system.n_subcarriers_dl
    for _, row in clean.iterrows():
        expect = metrics.goodput_bps_hz(row.info_bits_ok, row.re_total, row.pilot_overhead,
                                        row.feedback_bits, feedback_re)
        assert row.goodput_bps_hz == pytest.approx(expect, rel=1e-12)
    cb = clean[clean.estimator == "codebook"]
    assert (cb.feedback_bits > 0).all() and clean[clean.estimator == "perfect"].feedback_bits.isna().all()
    # a compressed report: n_ue x M x B = 1 x round(0.25 x 2 x 12 x 4) x 4 bits
    assert (clean[clean.estimator == "klt"].feedback_bits == 24 * 4).all()


def test_feedback_bit_errors_reach_the_decoder(clean, tmp_path):
    noisy = run(_scenario(0.5), tmp_path / "noisy", quiet=True)
    cb = lambda df: df[(df.estimator == "codebook") & (df.link == "qpsk")].set_index("snr_db")  # noqa: E731
    # at p = 0.5 the report is noise: the BS precodes on a random beam, so the
    # beamforming rate (and the clean report's is the best codeword's) drops
    assert (cb(noisy).rate_bps_hz < cb(clean).rate_bps_hz - 0.2).all()
    klt = lambda df: df[(df.estimator == "klt") & (df.link == "qpsk")].set_index("snr_db")  # noqa: E731
    assert (klt(noisy).nmse_db > klt(clean).nmse_db + 3).all()
    perfect = lambda df: df[df.estimator == "perfect"].reset_index(drop=True)  # noqa: E731
    np.testing.assert_array_equal(perfect(noisy).nmse_db, perfect(clean).nmse_db)


def test_smoke_caps_every_link_configuration():
    smoke = effective_scenario(_scenario(0.0), smoke=True)
    assert [(link.max_batches, link.batch_size) for link in smoke.links] == [(1, 8), (1, 8)]
    assert [link.olla_warmup_slots for link in smoke.links] == [8, 8]


def test_link_adaptation_through_the_runner(tmp_path):
    """One OLLA link, one SNR, one channel sample (so that the few MCS the
    loop visits compile quickly): the cell's slots are counted after the
    warm-up and the table reports the mean MCS of the 38.214 table."""
    olla = {"name": "olla", "batch_size": 8, "max_batches": 2, "olla_warmup_slots": 8,
            "target_block_errors": 1000}
    scenario = parse_scenario({**SCENARIO, "estimators": SCENARIO["estimators"][:1],
                               "sweep": {**SCENARIO["sweep"], "snr_db": [10.0], "n_test": 1},
                               "link": olla})
    df = run(scenario, tmp_path / "out", quiet=True)
    assert list(df.link) == ["olla"] and (df.slots == 16).all()
    assert df.mcs_index.between(0, 28).all() and df.goodput_bps_hz.notna().all()
