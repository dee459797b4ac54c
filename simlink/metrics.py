"""Link metrics: NMSE / estimation SNR, effective data rate, BER/BLER, CIs.

Every metric is produced in two steps so that Monte Carlo chunks computed by
different workers merge exactly:

1. ``*_sums`` functions turn one batch into raw sums/counts (plain floats);
2. ``*_stats`` functions turn summed raw counts into figures and 95% CIs.

Sums are merged by adding them, never by averaging ratios.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Mapping

import math

import numpy as np

from simlink.system import SystemCfg, UlaArray, UpaArray

Z95 = 1.959963984540054   # two-sided 95% normal quantile
_DB = 10.0 / np.log(10.0)  # d(10 log10 x) / d(ln x)


# ---------------------------------------------------------------- confidence intervals
def mean_ci(total: float, total_sq: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Sample mean and normal-approximation CI half-width from ``sum x``,
    ``sum x^2`` and ``n``. The half-width is NaN below two samples."""
    if n < 1:
        return float("nan"), float("nan")
    mean = total / n
    if n < 2:
        return float(mean), float("nan")
    var = max(total_sq - n * mean * mean, 0.0) / (n - 1)
    return float(mean), float(z * np.sqrt(var / n))


def wilson_ci(k: float, n: float, z: float = Z95) -> tuple[float, float, float]:
    """Rate ``k/n`` with its Wilson score interval ``(p, low, high)``.

    NaN everywhere when ``n`` is missing or zero (the metric was not measured).
    """
    if not np.isfinite(n) or n <= 0 or not np.isfinite(k):
        return float("nan"), float("nan"), float("nan")
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # At k = 0 (k = n) the bound is exactly 0 (1); computed, it cancels to +-1e-19.
    low = 0.0 if k == 0 else max(centre - half, 0.0)
    high = 1.0 if k == n else min(centre + half, 1.0)
    return float(p), float(low), float(high)


def error_rate_stats(errors: float, trials: float, name: str) -> dict[str, float]:
    """``{name, name_ci_low, name_ci_high}`` from error counts (BER: bit errors
    and bits; BLER: block errors and blocks); NaN when not measured."""
    p, lo, hi = wilson_ci(errors, trials)
    return {name: p, f"{name}_ci_low": lo, f"{name}_ci_high": hi}


# ---------------------------------------------------------------- NMSE
def goodput_bps_hz(info_bits_ok: float, re_total: float, overhead: float,
                   feedback_bits: float, feedback_re: float) -> float:
    """Goodput of the coded link [bit/s/Hz], the same formula for every method.

    ``(1 - overhead) * info_bits_ok / re_total - feedback_bits / feedback_re``:
    information bits of correctly decoded blocks per resource element (DMRS
    included; bits per RE are bit/s/Hz), times the share left by CSI-RS
    pilots, minus the feedback payload of one report charged against the DL
    resources of one CSI period (``feedback_re`` REs), as if every feedback
    bit displaced one payload bit. Methods without feedback (NaN) pay nothing;
    the result may be negative when feedback costs more than the link delivers.
    """
    fb_cost = 0.0 if math.isnan(feedback_bits) else feedback_bits / feedback_re
    return (1.0 - overhead) * info_bits_ok / re_total - fb_cost


NMSE_SUM_KEYS = ("err_sum", "err_sq_sum", "pow_sum", "pow_sq_sum", "err_pow_sum",
                 "nmse_sample_sum", "nmse_sample_sq_sum")


def nmse_sums(H_hat: np.ndarray, H: np.ndarray) -> dict[str, float]:
    """Raw NMSE sums of one batch.

    ``H_hat``, ``H``: [b, ...] complex (any trailing shape, e.g.
    [b, n_bs, n_ue, n_sc]). With ``e_s = ||H_hat_s - H_s||^2`` and
    ``p_s = ||H_s||^2`` per sample ``s``, returns ``n = b`` and the sums of
    ``e, e^2, p, p^2, e p`` (for the ratio estimator and its delta-method CI)
    and of the per-sample NMSE ``e/p`` and its square.
    """
    b = H.shape[0]
    H = H.reshape(b, -1).astype(np.complex128)
    err = np.sum(np.abs(H_hat.reshape(b, -1) - H) ** 2, axis=1)
    pw = np.sum(np.abs(H) ** 2, axis=1)
    ratio = err / pw
    return {"n": float(b), "err_sum": float(err.sum()), "err_sq_sum": float(np.sum(err ** 2)),
            "pow_sum": float(pw.sum()), "pow_sq_sum": float(np.sum(pw ** 2)),
            "err_pow_sum": float(np.sum(err * pw)),
            "nmse_sample_sum": float(ratio.sum()), "nmse_sample_sq_sum": float(np.sum(ratio ** 2))}


def to_db(x: float) -> float:
    """``10 log10 x`` with ``0 -> -inf`` (no warning) and NaN passed through."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(10.0 * np.log10(x))


def nmse_stats(s: Mapping[str, float]) -> dict[str, float]:
    """NMSE figures from summed :func:`nmse_sums` output.

    - ``nmse_db = 10 log10(sum e / sum p)`` and ``est_snr_db = -nmse_db``;
    - ``nmse_db_ci_low/high``: 95% CI of ``nmse_db`` by the delta method on
      ``log`` of the ratio estimator (symmetric in dB, ``-inf`` when exact);
    - ``nmse_sample_db``: ``10 log10`` of the mean per-sample NMSE.
    """
    n, e, p = s["n"], s["err_sum"], s["pow_sum"]
    if n < 1:
        keys = ("nmse_db", "nmse_db_ci_low", "nmse_db_ci_high", "est_snr_db", "nmse_sample_db")
        return dict.fromkeys(keys, float("nan"))
    ratio = e / p
    db = to_db(ratio)
    if ratio > 0 and n >= 2:
        em, pm = e / n, p / n
        # Var of e_s - R p_s, the linearisation of the ratio estimator R = mean e / mean p
        var_e = (s["err_sq_sum"] - n * em * em) / (n - 1)
        var_p = (s["pow_sq_sum"] - n * pm * pm) / (n - 1)
        cov = (s["err_pow_sum"] - n * em * pm) / (n - 1)
        var_lin = max(var_e - 2 * ratio * cov + ratio * ratio * var_p, 0.0)
        half = Z95 * _DB * np.sqrt(var_lin / n) / (ratio * pm)
        low, high = db - half, db + half
    elif ratio == 0:
        low = high = -np.inf
    else:
        low = high = float("nan")
    sample_mean = s["nmse_sample_sum"] / n
    return {"nmse_db": db, "nmse_db_ci_low": float(low), "nmse_db_ci_high": float(high),
            "est_snr_db": -db, "nmse_sample_db": to_db(sample_mean)}


# ---------------------------------------------------------------- effective rate
@lru_cache(maxsize=32)
def dft_codebook(array: UlaArray | UpaArray, oversampling: int = 1) -> np.ndarray:
    """Unit-norm DFT beams of an array: [n_beams, n_ports] complex64.

    Port order follows Sionna's ``PanelArray``: ``port = pol * (rows * cols)
    + col * rows + row``, which is also the column-wise flattening of Sionna's
    ``grid_of_beams_dft`` (rows vertical, columns horizontal); a ULA uses
    ``grid_of_beams_dft_ula``. Dual polarisation adds a co-phasing factor
    over the two polarisations (a 2-point DFT, oversampled like the rest).
    With ``oversampling == 1`` the beams form a unitary basis.
    """
    from sionna.phy.mimo import grid_of_beams_dft, grid_of_beams_dft_ula

    if array.rows == 1:
        beams = grid_of_beams_dft_ula(array.cols, oversmpl=oversampling, precision="single").numpy()
    else:
        beams = grid_of_beams_dft(array.rows, array.cols, oversmpl_v=oversampling,
                                  oversmpl_h=oversampling, precision="single").numpy()
        beams = beams.reshape(-1, array.rows * array.cols)
    if array.polarization == "dual":
        cophase = grid_of_beams_dft_ula(2, oversmpl=oversampling, precision="single").numpy()
        beams = np.einsum("cq,bn->cbqn", cophase, beams).reshape(-1, 2 * beams.shape[1])
    return beams.astype(np.complex64)


# Largest intermediate [b, n_bs_beams, n_ue_beams, n_sc] kept in memory at once.
_MAX_GAIN_ELEMENTS = 1 << 23


def mean_beam_gains(H: np.ndarray, F: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Band-averaged beamforming gain of every beam pair.

    ``H``: [b, n_bs, n_ue, n_sc] complex; ``F``: [n_f, n_bs] BS beams;
    ``W``: [n_w, n_ue] UE beams. Returns [b, n_f, n_w] float32
    ``(1/n_sc) sum_k |sum_{p,u} conj(W[w,u]) H[b,p,u,k] F[f,p]|^2``.
    The batch is processed in slices to bound memory.
    """
    b, n_bs, n_ue, n_sc = H.shape
    per_sample = F.shape[0] * max(n_ue, W.shape[0]) * n_sc
    step = max(1, _MAX_GAIN_ELEMENTS // per_sample)
    Wc = W.conj().astype(np.complex64)
    out = np.empty((b, F.shape[0], W.shape[0]), np.float32)
    for s in range(0, b, step):
        Hs = H[s:s + step].astype(np.complex64)
        T = np.matmul(F, Hs.reshape(len(Hs), n_bs, n_ue * n_sc))      # [bs, n_f, n_ue*n_sc]
        G = np.matmul(Wc, T.reshape(len(Hs), -1, n_ue, n_sc))          # [bs, n_f, n_w, n_sc]
        out[s:s + step] = np.mean(np.abs(G) ** 2, axis=-1)
    return out


def select_beams(H_hat: np.ndarray, F: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LAD-CKM eq. (10): the beam pair maximising the band-averaged gain of
    ``H_hat`` [b, n_bs, n_ue, n_sc]. Returns BS and UE beam indices, each [b]."""
    gains = mean_beam_gains(H_hat, F, W)
    best = np.argmax(gains.reshape(len(gains), -1), axis=1)
    return best // W.shape[0], best % W.shape[0]


def beam_rate(H: np.ndarray, f: np.ndarray, w: np.ndarray, snr_db: float,
              pilot_overhead: float = 0.0) -> np.ndarray:
    """LAD-CKM eq. (11) per sample: ``(1 - rho)/n_sc sum_k log2(1 + snr g_k)``
    with ``g_k = |w^H H_k^T f|^2`` on the channel ``H`` [b, n_bs, n_ue, n_sc];
    ``f`` [b, n_bs], ``w`` [b, n_ue] unit-norm beams. Returns [b] float64."""
    g = np.einsum("bp,bpuk,bu->bk", f, H, w.conj())
    snr = 10.0 ** (snr_db / 10.0)
    return (1.0 - pilot_overhead) * np.mean(np.log2(1.0 + snr * np.abs(g.astype(np.complex128)) ** 2), axis=1)


def rate_sums(H_hat: np.ndarray, H: np.ndarray, system: SystemCfg, snr_db: float,
              pilot_overhead: float = 0.0, *, bs_oversampling: int = 1,
              ue_oversampling: int = 1) -> dict[str, float]:
    """Raw effective-rate sums of one batch: beams chosen on the estimate
    ``H_hat``, rate on the true ``H`` (both [b, n_bs, n_ue, n_sc_dl]).
    Returns ``n``, ``rate_sum``, ``rate_sq_sum`` (bit/s/Hz); NaN sums when
    an estimate is not finite (no beam can honestly be chosen from it)."""
    F = dft_codebook(system.bs_array, bs_oversampling)
    W = dft_codebook(system.ue_array, ue_oversampling)
    i_f, i_w = select_beams(H_hat, F, W)
    r = beam_rate(H, F[i_f], W[i_w], snr_db, pilot_overhead)
    r[~np.isfinite(H_hat).reshape(len(r), -1).all(axis=1)] = np.nan
    return {"n": float(len(r)), "rate_sum": float(r.sum()), "rate_sq_sum": float(np.sum(r ** 2))}


def rate_stats(s: Mapping[str, float]) -> dict[str, float]:
    """``rate_bps_hz`` and its 95% CI half-width ``rate_ci95`` from summed
    :func:`rate_sums` output."""
    mean, half = mean_ci(s["rate_sum"], s["rate_sq_sum"], s["n"])
    return {"rate_bps_hz": mean, "rate_ci95": half}
