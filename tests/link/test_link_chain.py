"""simlink.link.chain / precoding: configuration, accounting, precoders, Monte Carlo loop."""
import math

import numpy as np
import pytest
import tensorflow as tf
from pydantic import ValidationError

from simlink.system import SystemCfg
from simlink.link.chain import (COUNT_KEYS, LinkCfg, code_block_sizes, exponential_pdp_freq_cov,
                                link_chain, link_metrics, merge_counts, simulate_link)
from simlink.link.precoding import num_streams, precoding_matrix


# ---------------------------------------------------------------- configuration
def test_linkcfg_defaults_and_validation():
    cfg = LinkCfg.model_validate({"dmrs_symbols": [3, 10], "precoder": "zf"})
    assert cfg.dmrs_symbols == (3, 10) and cfg.feedback_ber == 0.0
    assert hash(cfg) == hash(LinkCfg.model_validate_json(cfg.model_dump_json()))
    assert (cfg.adaptation, cfg.num_bits_per_symbol, cfg.code_rate, cfg.label) == ("olla", None, None,
                                                                                  "olla-t1")
    fixed = LinkCfg.model_validate({"adaptation": "fixed"})
    assert (fixed.num_bits_per_symbol, fixed.code_rate, fixed.label) == (4, 0.5, "16qam-r0.5")
    assert LinkCfg.model_validate(fixed.model_dump()) == fixed
    for bad in ({"dmrs_symbols": [2, 14]}, {"dmrs_symbols": [2, 2]}, {"dmrs_symbols": []},
                {"adaptation": "fixed", "num_bits_per_symbol": 3},
                {"adaptation": "fixed", "code_rate": 1.0}, {"num_bits_per_symbol": 4},
                {"adaptation": "olla", "code_rate": 0.5}, {"adaptation": "ola"}, {"mcs_table": 3},
                {"bler_target": 0.0}, {"feedback_ber": 0.6},
                {"precoder": "svd"}, {"unknown": 1}):
        with pytest.raises(ValidationError):
            LinkCfg.model_validate(bad)


def test_code_block_segmentation():
    assert code_block_sizes(2496, 0.5) == (1, 2496, 1248)
    c, n, k = code_block_sizes(12 * 624 * 8, 0.9)      # 256-QAM on 624 subcarriers
    assert c > 1 and c * n == 12 * 624 * 8 and k <= 8448 and k == int(n * 0.9)


def test_lmmse_design_covariance_is_a_covariance():
    r = exponential_pdp_freq_cov(48, 30e3, 300e-9)
    np.testing.assert_allclose(r, r.conj().T, atol=1e-7)
    np.testing.assert_allclose(np.diag(r), 1.0, atol=1e-7)
    assert np.linalg.eigvalsh(r).min() > -1e-5


# ---------------------------------------------------------------- precoders
def _rayleigh(shape, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
            ).astype(np.complex64)


def test_mrt_is_the_matched_beam():
    h = _rayleigh([4, 6, 1, 8])                          # [b, n_sc, n_ue=1, n_bs]
    g = precoding_matrix(tf.constant(h), "mrt", tf.constant(0.1)).numpy()
    want = np.conj(np.swapaxes(h, -1, -2)) / np.linalg.norm(h, axis=(-2, -1), keepdims=True)
    np.testing.assert_allclose(g, want, atol=1e-5)


def test_rank1_beam_is_the_dominant_eigen_beam():
    h = _rayleigh([4, 6, 2, 8])
    g = precoding_matrix(tf.constant(h), "mrt", tf.constant(0.1)).numpy()
    assert g.shape == (4, 6, 8, 1) and num_streams("mrt", 2) == 1
    v1 = np.conj(np.linalg.svd(h)[2][..., 0, :])        # dominant right singular vector
    np.testing.assert_allclose(np.abs(np.einsum("...a,...a->...", v1.conj(), g[..., 0])), 1.0,
                               atol=1e-4)


@pytest.mark.parametrize("precoder", ["zf", "rzf"])
def test_zf_family_has_unit_total_power(precoder):
    h = _rayleigh([4, 6, 2, 8])
    g = precoding_matrix(tf.constant(h), precoder, tf.constant(0.05)).numpy()
    assert g.shape == (4, 6, 8, 2) and num_streams(precoder, 2) == 2
    np.testing.assert_allclose(np.linalg.norm(g, axis=(-2, -1)), 1.0, atol=1e-5)
    heff = h @ g
    offdiag = np.abs(heff[..., 0, 1]) + np.abs(heff[..., 1, 0])
    if precoder == "zf":
        assert offdiag.max() < 1e-4                     # no inter-stream interference
    else:                                               # regularised: small leakage
        assert 0 < offdiag.mean() < 0.5 * np.abs(heff[..., 0, 0]).mean()
    # the closed form H^H (H H^H + alpha I)^-1, alpha = K s2 (0 for ZF), unit-norm
    # columns shared over the K streams: a regulariser off by any factor moves it
    H = h.astype(np.complex128)
    Hh = np.conj(np.swapaxes(H, -1, -2))
    alpha = 0.0 if precoder == "zf" else 2 * 0.05
    G = Hh @ np.linalg.inv(H @ Hh + alpha * np.eye(2))
    G = G / np.linalg.norm(G, axis=-2, keepdims=True) / np.sqrt(2)
    np.testing.assert_allclose(g, G, atol=1e-5)
    if precoder == "rzf":
        G10 = Hh @ np.linalg.inv(H @ Hh + 10 * alpha * np.eye(2))
        G10 = G10 / np.linalg.norm(G10, axis=-2, keepdims=True) / np.sqrt(2)
        assert np.abs(G10 - g).max() > 100 * 1e-5      # the check resolves a 10x regulariser


# ---------------------------------------------------------------- accounting
def _counts(**kw):
    base = dict(batches=1, slots=10, blocks=20, block_errors=5, bits=2000, bit_errors=100,
                info_bits_ok=1500, re_total=1400, re_data=1200, mcs_sum=150, overhead=0.1,
                feedback_bits=float("nan"), feedback_re=2912)
    return {**base, **kw}


def test_metrics_and_goodput_accounting():
    m = link_metrics(_counts())
    assert m["ber"] == 0.05 and m["bler"] == 0.25 and m["mcs_index"] == 15
    assert math.isnan(link_metrics(_counts(mcs_sum=math.nan))["mcs_index"])   # a fixed MCS
    assert m["goodput_bps_hz"] == pytest.approx(0.9 * 1500 / 1400)
    with_fb = link_metrics(_counts(feedback_bits=64.0))
    assert with_fb["goodput_bps_hz"] == pytest.approx(0.9 * 1500 / 1400 - 64 / 2912)


def test_counts_merge_by_summation():
    a, b = _counts(), _counts(block_errors=1, bit_errors=7, info_bits_ok=1900)
    merged = merge_counts([a, b])
    assert all(merged[k] == a[k] + b[k] for k in COUNT_KEYS)
    assert link_metrics(merged)["bler"] == pytest.approx(6 / 40)
    with pytest.raises(ValueError, match="overhead"):
        merge_counts([a, _counts(overhead=0.2)])


# ---------------------------------------------------------------- Monte Carlo loop
def test_same_seed_same_counts_and_cached_chain(cdl):
    link = cdl.link.model_copy(update={"max_batches": 2})
    a = simulate_link(cdl.H, cdl.H, link, cdl.system, 6.0, seed=5)
    b = simulate_link(cdl.H, cdl.H, link, cdl.system, 6.0, seed=5)
    c = simulate_link(cdl.H, cdl.H, link, cdl.system, 6.0, seed=6)
    assert a == b and a["bit_errors"] != c["bit_errors"]
    assert link_chain(link, cdl.system) is link_chain(cdl.link, cdl.system)
    assert link_chain(link, cdl.system).jit_compile


def test_stops_at_target_block_errors_or_max_batches(cdl):
    link = cdl.link.model_copy(update={"max_batches": 5, "target_block_errors": 100})
    low = simulate_link(cdl.H, cdl.H, link, cdl.system, -5.0, seed=1)
    assert low["batches"] == 1 and low["block_errors"] >= 100      # 128 blocks per batch
    high = simulate_link(cdl.H, cdl.H, link, cdl.system, 30.0, seed=1,
                         overhead=0.1, feedback_bits=64.0)
    assert high["batches"] == 5 and high["block_errors"] == 0
    # error-free: 2 streams x 4 bits x rate 1/2 on 12 of 14 OFDM symbols
    period_res = cdl.system.pilots.period_symbols * cdl.system.n_subcarriers_dl
    assert link_metrics(high)["goodput_bps_hz"] == pytest.approx(
        0.9 * 2 * 4 * 0.5 * 12 / 14 - 64 / period_res, rel=1e-3)
    assert high["slots"] == 5 * link.batch_size
    assert high["re_total"] == high["slots"] * 14 * cdl.system.n_subcarriers_dl
    assert high["re_data"] == high["slots"] * 12 * cdl.system.n_subcarriers_dl
    assert high["info_bits_ok"] == high["bits"]


def test_rejects_mismatched_shapes(cdl):
    with pytest.raises(ValueError, match="H_csi"):
        simulate_link(cdl.H, cdl.H[:, :4], cdl.link, cdl.system, 0.0, seed=0)


# ---------------------------------------------------------------- UE-side estimation
def test_ue_estimators_rank_as_expected(cdl):
    """Paired runs (same seed): LS on the DMRS loses to the genie; LMMSE
    interpolation recovers most of that loss."""
    link = cdl.link.model_copy(update={"max_batches": 4})
    errors = {}
    for est in ("perfect", "ls", "lmmse"):
        cfg = link.model_copy(update={"ue_estimator": est})
        errors[est] = simulate_link(cdl.H, cdl.H, cfg, cdl.system, 6.0, seed=2)["block_errors"]
    assert errors["perfect"] < errors["ls"] and errors["lmmse"] < errors["ls"], errors
    lmmse = link_chain(link.model_copy(update={"ue_estimator": "lmmse"}), cdl.system)
    assert not lmmse.jit_compile           # Sionna's LMMSEInterpolator has no XLA kernel
    ls = link.model_copy(update={"ue_estimator": "ls", "max_batches": 2})
    assert simulate_link(cdl.H, cdl.H, ls, cdl.system, 15.0, seed=2)["block_errors"] <= 2


def test_default_config_single_antenna_ue(cdl):
    """The default chain (MRT, LS at the UE) on the first UE antenna."""
    system = SystemCfg.model_validate({**cdl.system.model_dump(),
                                       "ue_array": {"kind": "ula", "n": 1}})
    H = np.ascontiguousarray(cdl.H[:, :, :1])
    link = LinkCfg(adaptation="fixed", max_batches=4, target_block_errors=10**9)
    assert math.isclose(link_metrics(simulate_link(H, H, link, system, 20.0, 3))["bler"], 0.0)
    low = link_metrics(simulate_link(H, H, link, system, -3.0, 3))
    assert low["bler"] > 0.5 and low["goodput_bps_hz"] < 1.0
