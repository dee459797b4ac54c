"""Peer check: simlink's chain against Sionna's documented CDL downlink chain.

Both chains get the same CDL realisations, grid, code, modulation, ZF
precoding and perfect CSI. Sionna's example gives every stream unit power
(total 2 for two streams), simlink gives the BS unit total power, so the
example runs at twice simlink's noise variance: the same per-stream SNR.
"""
import numpy as np
import pytest
import tensorflow as tf

from simlink.link.chain import link_chain, link_metrics, simulate_link
from simlink.link.reference import SionnaDownlink

PEER_SNRS_DB = (6.0, 9.0)    # the waterfall of this link: BLER ~ 0.1 and 0.02
SNRS_DB = PEER_SNRS_DB + (12.0,)
HIGH_SNR_DB = 18.0
SEED = 11
MAX_DIFF = 4


@pytest.fixture(scope="module")
def simlink_bler(cdl):
    """snr_db -> (block_errors, blocks) of simlink's chain."""
    out = {}
    for snr_db in SNRS_DB + (HIGH_SNR_DB,):
        c = simulate_link(cdl.H, cdl.H, cdl.link, cdl.system, snr_db, SEED)
        out[snr_db] = (c["block_errors"], c["blocks"])
    return out


@pytest.fixture(scope="module")
def paired(cdl):
    """snr_db -> (simlink's block errors, Sionna's, blocks) on common random
    numbers: the same channels, the same information bits and the same noise
    samples (Sionna's chain draws them as simlink's does, at twice the noise
    variance for its twice the transmit power)."""
    link, system = cdl.link, cdl.system
    chain = link_chain(link, system)
    model = SionnaDownlink(num_streams=system.n_ue, fft_size=system.n_subcarriers_dl,
                           subcarrier_spacing=system.subcarrier_spacing_hz,
                           num_ofdm_symbols=link.num_ofdm_symbols,
                           pilot_ofdm_symbol_indices=list(link.dmrs_symbols),
                           num_bits_per_symbol=link.num_bits_per_symbol,
                           coderate=link.code_rate, perfect_csi=True)
    n, bs = len(cdl.h_freq), link.batch_size
    out = {}
    for snr_db in PEER_SNRS_DB:
        no = 10.0 ** (-snr_db / 10.0)
        ours = theirs = blocks = 0
        for i in range(link.max_batches):
            idx = (i * bs + np.arange(bs)) % n
            ours += chain.run_batch(cdl.H[idx], cdl.H[idx], no, (SEED, i))[1]
            b, b_hat = model(tf.constant(cdl.h_freq[idx]), tf.constant(system.n_ue * no, tf.float32),
                             tf.constant([SEED, i], tf.int64))
            theirs += int(tf.reduce_sum(tf.cast(tf.reduce_any(b != b_hat, -1), tf.int32)))
            blocks += int(np.prod(b.shape[:-1]))
        out[snr_db] = (ours, theirs, blocks)
    return out


def test_bler_agrees_with_sionna_example(paired):
    """With common random numbers the two chains fail on the same blocks but
    for those whose outcome hangs on rounding. Measured here: 120 / 120 block
    errors at 6 dB, 21 / 21 at 9 dB (1,280 blocks each). Offsetting simlink's
    SNR by 0.1 dB moves its count to 125, by 0.2 dB to 133 (6 dB): the bound
    of MAX_DIFF blocks catches a 0.2 dB shift and leaves room for rounding
    on another CPU or TF build."""
    for snr_db in PEER_SNRS_DB:
        ours, theirs, blocks = paired[snr_db]
        assert abs(ours - theirs) <= MAX_DIFF, f"{snr_db} dB: simlink {ours}/{blocks}, Sionna {theirs}/{blocks}"
    # the comparison has power only where errors occur
    assert min(paired[6.0][:2]) >= 50


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
    link = cdl.link.model_copy(update={"max_batches": 10})
    for snr_db in (6.0, 9.0):          # on the waterfall, where CSI errors cost blocks
        counts = [simulate_link(cdl.H, H, link, cdl.system, snr_db, SEED) for H in (cdl.H, H_csi)]
        perfect, noisy = (link_metrics(c) for c in counts)
        assert noisy["goodput_bps_hz"] < perfect["goodput_bps_hz"], (snr_db, noisy, perfect)
        # the BLER gap exceeds 3 standard errors of a two-proportion difference,
        # so the ordering is not a draw that another build could reverse
        n = counts[0]["blocks"]
        se = np.sqrt((perfect["bler"] * (1 - perfect["bler"]) + noisy["bler"] * (1 - noisy["bler"])) / n)
        assert noisy["bler"] - perfect["bler"] > 3 * se, (snr_db, noisy, perfect, se)
