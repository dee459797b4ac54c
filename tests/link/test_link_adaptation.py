"""Link adaptation (simlink.link.adaptation): the BS's SINR prediction against
closed forms, and the laws of the outer loop on the real coded chain."""
import numpy as np
import pytest

from simlink.link.adaptation import predicted_sinr
from simlink.link.chain import link_metrics, mcs_modulation, peak_bits_per_symbol, simulate_link
from simlink.link.config import LinkCfg

# 160 counted slots after 32 of warm-up: the outer loop's identity
# n_nack (up + down) - N down = offset change, i.e. BLER - t = change (1 - t) / (N up),
# bounds the BLER's distance from its target by the offset's drift over the run
# (a few dB, clipped at +-20 dB): |BLER - t| < 0.04 leaves a 7 dB drift.
SLOTS = dict(batch_size=40, max_batches=4, target_block_errors=10**9)


def _noisy(H: np.ndarray, nmse_db: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = np.sqrt(np.mean(np.abs(H) ** 2) * 10 ** (nmse_db / 10) / 2)
    return (H + scale * (rng.standard_normal(H.shape) + 1j * rng.standard_normal(H.shape))).astype(np.complex64)


def _per_subcarrier(H: np.ndarray) -> np.ndarray:
    return np.transpose(H, [0, 3, 2, 1])                   # [b, n_sc, n_ue, n_bs]


def test_predicted_sinr_closed_forms(cdl):
    H, no = cdl.H[:16], 0.3
    h = _per_subcarrier(H)
    # MRT on the dominant eigen-beam: the largest singular value squared over the noise
    sigma = np.linalg.svd(h, compute_uv=False)[..., 0]
    np.testing.assert_allclose(predicted_sinr(H, "mrt", no)[..., 0], sigma ** 2 / no, rtol=2e-4)
    # MRT to one UE antenna: the channel's energy over the noise
    one = np.ascontiguousarray(H[:, :, :1])
    np.testing.assert_allclose(predicted_sinr(one, "mrt", no)[..., 0],
                               np.sum(np.abs(_per_subcarrier(one)) ** 2, axis=(-2, -1)) / no, rtol=2e-4)
    # ZF with unit-norm beams over sqrt(K): a diagonal effective channel, stream k at
    # 1 / (K ||column k of H^+||^2 no)
    pinv_norm = np.linalg.norm(np.linalg.pinv(h), axis=-2) ** 2          # [b, n_sc, K]
    np.testing.assert_allclose(predicted_sinr(H, "zf", no), 1 / (2 * pinv_norm * no), rtol=2e-3)


def test_outer_loop_drives_the_bler_to_its_target(cdl):
    """The prediction from CSI at -5 dB NMSE is optimistic; the offset fixes
    it, and without it (ILLA alone) the measured BLER overshoots."""
    H_csi = _noisy(cdl.H, -5.0, 1)
    link = LinkCfg(precoder="mrt", **SLOTS)
    m = link_metrics(simulate_link(cdl.H, H_csi, link, cdl.system, 5.0, seed=7))
    assert abs(m["bler"] - link.bler_target) < 0.04, m
    illa = link_metrics(simulate_link(cdl.H, H_csi, link.model_copy(
        update={"adaptation": "illa", "max_batches": 2}), cdl.system, 5.0, seed=7))
    assert illa["bler"] > link.bler_target + 0.2, "without the outer loop the optimistic prediction overshoots"
    assert illa["mcs_index"] > m["mcs_index"]


def test_better_csi_buys_a_higher_mcs_and_goodput(cdl):
    """Same SNR, same bits and noise: perfect CSI against CSI at 0 dB NMSE."""
    link = LinkCfg(precoder="mrt", **SLOTS)
    perfect = link_metrics(simulate_link(cdl.H, cdl.H, link, cdl.system, 5.0, seed=7))
    coarse = link_metrics(simulate_link(cdl.H, _noisy(cdl.H, 0.0, 2), link, cdl.system, 5.0, seed=7))
    assert perfect["mcs_index"] > coarse["mcs_index"] + 1
    assert perfect["goodput_bps_hz"] > 1.1 * coarse["goodput_bps_hz"]
    assert perfect["goodput_bps_hz"] < peak_bits_per_symbol(link)   # the table's top MCS bounds it
    assert peak_bits_per_symbol(link) == pytest.approx(6 * 948 / 1024)       # 38.214 table 1, MCS 28
    assert mcs_modulation(1, 0) == (2, pytest.approx(120 / 1024))
