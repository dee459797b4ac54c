"""Peer check: simlink's chain against Sionna's documented CDL downlink chain.

Both chains get the same CDL realisations, grid, code, modulation, ZF
precoding and perfect CSI. Sionna's example gives every stream unit power
(total 2 for two streams), simlink gives the BS unit total power, so the
example runs at twice simlink's noise variance: the same per-stream SNR.
"""
import math

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config

from simlink.link.chain import link_metrics, simulate_link
from simlink.link.reference import SionnaDownlink

PEER_SNRS_DB = (6.0, 9.0)    # the waterfall of this link: BLER ~ 0.1 and 0.02
SNRS_DB = PEER_SNRS_DB + (12.0,)
HIGH_SNR_DB = 18.0
SEED = 11


@pytest.fixture(scope="module")
def simlink_bler(cdl):
    """snr_db -> (block_errors, blocks) of simlink's chain."""
    out = {}
    for snr_db in SNRS_DB + (HIGH_SNR_DB,):
        c = simulate_link(cdl.H, cdl.H, cdl.link, cdl.system, snr_db, SEED)
        out[snr_db] = (c["block_errors"], c["blocks"])
    return out


@pytest.fixture(scope="module")
def sionna_bler(cdl):
    """snr_db -> (block_errors, blocks) of Sionna's example chain, same batches."""
    link, system = cdl.link, cdl.system
    model = SionnaDownlink(num_streams=system.n_ue, fft_size=system.n_subcarriers_dl,
                           subcarrier_spacing=system.subcarrier_spacing_hz,
                           num_ofdm_symbols=link.num_ofdm_symbols,
                           pilot_ofdm_symbol_indices=list(link.dmrs_symbols),
                           num_bits_per_symbol=link.num_bits_per_symbol,
                           coderate=link.code_rate, perfect_csi=True)
    config.seed = SEED
    n, bs = len(cdl.h_freq), link.batch_size
    out = {}
    for snr_db in PEER_SNRS_DB:
        no = tf.constant(system.n_ue * 10.0 ** (-snr_db / 10.0), tf.float32)
        errors = blocks = 0
        for i in range(link.max_batches):
            h = cdl.h_freq[(i * bs + np.arange(bs)) % n]
            b, b_hat = model(tf.constant(h), no)
            errors += int(tf.reduce_sum(tf.cast(tf.reduce_any(b != b_hat, -1), tf.int32)))
            blocks += int(np.prod(b.shape[:-1]))
        out[snr_db] = (errors, blocks)
    return out


def two_proportion_z(e1: int, n1: int, e2: int, n2: int) -> float:
    """|z| of the pooled two-proportion test (0 when both counts are zero)."""
    p = (e1 + e2) / (n1 + n2)
    if p in (0.0, 1.0):
        return 0.0
    return abs(e1 / n1 - e2 / n2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def test_bler_agrees_with_sionna_example(simlink_bler, sionna_bler):
    # The chains share channels, so their outcomes are positively correlated
    # and the independent-samples z-test is conservative. 3.29: two-sided 0.1%.
    for snr_db in PEER_SNRS_DB:
        (e1, n1), (e2, n2) = simlink_bler[snr_db], sionna_bler[snr_db]
        z = two_proportion_z(e1, n1, e2, n2)
        assert z < 3.29, (f"{snr_db} dB: simlink BLER {e1}/{n1}, Sionna {e2}/{n2}, z={z:.2f}")
    # The comparison has power only where errors occur.
    assert simlink_bler[6.0][0] >= 50 and sionna_bler[6.0][0] >= 50


def test_perfect_csi_bler_falls_with_snr_to_zero(simlink_bler):
    bler = [e / n for e, n in (simlink_bler[s] for s in SNRS_DB)]
    assert all(a > b for a, b in zip(bler, bler[1:])), bler
    errors, blocks = simlink_bler[HIGH_SNR_DB]
    assert errors == 0 and blocks >= 1000


def test_worse_csi_never_improves_goodput(cdl):
    rng = np.random.default_rng(0)
    # BS-side CSI at an NMSE of -7 dB
    noise = rng.standard_normal(cdl.H.shape + (2,), dtype=np.float32) @ np.array([1, 1j])
    H_csi = (cdl.H + np.sqrt(0.2 / 2) * noise).astype(np.complex64)
    link = cdl.link.model_copy(update={"max_batches": 6})
    for snr_db in (9.0, 15.0):
        perfect = link_metrics(simulate_link(cdl.H, cdl.H, link, cdl.system, snr_db, SEED))
        noisy = link_metrics(simulate_link(cdl.H, H_csi, link, cdl.system, snr_db, SEED))
        assert noisy["goodput_bps_hz"] < perfect["goodput_bps_hz"], (snr_db, noisy, perfect)
        assert noisy["bler"] > perfect["bler"]
