"""Laws of the link metrics (simlink.metrics)."""
import numpy as np
import pytest

from simlink import metrics
from simlink.system import SystemCfg, UlaArray, UpaArray
pytestmark = pytest.mark.fast


def cn(rng, shape, var=1.0):
    """Circular complex Gaussian samples of variance ``var``."""
    z = rng.standard_normal(shape + (2,))
    return (np.sqrt(var / 2) * (z[..., 0] + 1j * z[..., 1])).astype(np.complex64)


def system(bs_array, ue_array=None, n_sc=12):
    return SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.6e9, n_subcarriers_ul=n_sc, n_subcarriers_dl=n_sc,
                     bs_array=bs_array, ue_array=ue_array or UlaArray(kind="ula", n=1))


# ---------------------------------------------------------------- NMSE
def test_nmse_exact_estimate_is_minus_inf():
    H = cn(np.random.default_rng(0), (8, 4, 2, 12))
    st = metrics.nmse_stats(metrics.nmse_sums(H, H))
    assert st["nmse_db"] == -np.inf and st["est_snr_db"] == np.inf
    assert st["nmse_sample_db"] == -np.inf
    assert st["nmse_db_ci_low"] == st["nmse_db_ci_high"] == -np.inf


@pytest.mark.parametrize("noise_db", [-20.0, -5.0, 3.0])
def test_nmse_of_known_noise(noise_db):
    rng = np.random.default_rng(1)
    H = cn(rng, (400, 4, 2, 12))
    H_hat = H + cn(rng, H.shape, 10 ** (noise_db / 10))
    st = metrics.nmse_stats(metrics.nmse_sums(H_hat, H))
    assert st["nmse_db"] == pytest.approx(noise_db, abs=0.1)
    assert st["est_snr_db"] == -st["nmse_db"]
    assert st["nmse_sample_db"] == pytest.approx(noise_db, abs=0.15)
    assert st["nmse_db_ci_low"] < st["nmse_db"] < st["nmse_db_ci_high"]


def test_nmse_sums_merge_by_addition():
    rng = np.random.default_rng(2)
    H = cn(rng, (50, 4, 1, 6))
    H_hat = H + cn(rng, H.shape, 0.3)
    whole = metrics.nmse_sums(H_hat, H)
    a, b = metrics.nmse_sums(H_hat[:20], H[:20]), metrics.nmse_sums(H_hat[20:], H[20:])
    for k in whole:
        assert whole[k] == pytest.approx(a[k] + b[k], rel=1e-12)


def test_nmse_ci_covers_the_truth():
    """The 95% CI of nmse_db covers the true NMSE in about 95% of trials."""
    rng = np.random.default_rng(3)
    noise_db, hits, trials = -10.0, 0, 300
    for _ in range(trials):
        H = cn(rng, (40, 2, 1, 4))
        H_hat = H + cn(rng, H.shape, 10 ** (noise_db / 10))
        st = metrics.nmse_stats(metrics.nmse_sums(H_hat, H))
        hits += st["nmse_db_ci_low"] <= noise_db <= st["nmse_db_ci_high"]
    assert 0.90 <= hits / trials <= 0.99


# ---------------------------------------------------------------- CI helpers
def test_mean_ci_matches_numpy():
    x = np.random.default_rng(4).standard_normal(200) + 3
    mean, half = metrics.mean_ci(x.sum(), np.sum(x ** 2), len(x))
    assert mean == pytest.approx(x.mean())
    assert half == pytest.approx(metrics.Z95 * x.std(ddof=1) / np.sqrt(len(x)))
    assert np.isnan(metrics.mean_ci(1.0, 1.0, 1)[1])


def test_wilson_interval():
    p, lo, hi = metrics.wilson_ci(5, 100)
    assert p == 0.05 and lo == pytest.approx(0.0215, abs=1e-4) and hi == pytest.approx(0.1118, abs=1e-4)
    p, lo, hi = metrics.wilson_ci(0, 50)
    assert p == 0 and lo == 0 and 0 < hi < 0.1
    # the interval holds its rate for every count, the ends included (a bound
    # computed as centre - half cancels to 4e-19 > 0 at k = 0, n = 600)
    for n in (1, 7, 600, 10**6):
        for k in (0, 1, n // 2, n - 1, n):
            p, lo, hi = metrics.wilson_ci(k, n)
            assert lo <= p <= hi, (k, n, lo, p, hi)
    p, lo, hi = metrics.wilson_ci(50, 50)
    assert hi == 1 and lo < 1
    assert np.isnan(metrics.wilson_ci(0, 0)).all()


def test_error_rate_absent_counts_are_nan():
    st = metrics.error_rate_stats(float("nan"), float("nan"), "bler")
    assert set(st) == {"bler", "bler_ci_low", "bler_ci_high"}
    assert all(np.isnan(v) for v in st.values())
    assert metrics.error_rate_stats(3, 1000, "ber")["ber"] == 0.003


# ---------------------------------------------------------------- DFT codebooks
@pytest.mark.parametrize("array", [
    UlaArray(kind="ula", n=8), UpaArray(kind="upa", rows=2, cols=4),
    UpaArray(kind="upa", rows=2, cols=2, polarization="dual"),
    UlaArray(kind="ula", n=1)])
def test_unoversampled_codebook_is_a_unitary_basis(array):
    C = metrics.dft_codebook(array, 1)
    n = C.shape[1]
    assert C.shape == (n, n)
    np.testing.assert_allclose(C @ C.conj().T, np.eye(n), atol=1e-5)


def test_oversampled_codebook_has_unit_norm_beams():
    C = metrics.dft_codebook(UpaArray(kind="upa", rows=2, cols=4, polarization="dual"), 4)
    assert C.shape == (2 * 4 * 8 * 16, 16)
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1, atol=1e-5)


def test_upa_beams_follow_sionna_port_order():
    """A plane wave on a UPA with ports ordered col * rows + row (Sionna's
    PanelArray) on DFT angles is one of the codebook beams."""
    rows, cols, o = 2, 4, 2
    row, col = np.meshgrid(np.arange(rows), np.arange(cols), indexing="xy")  # [cols, rows]
    steer = np.exp(2j * np.pi * (3 * col / (o * cols) + 1 * row / (o * rows))).reshape(-1)
    C = metrics.dft_codebook(UpaArray(kind="upa", rows=rows, cols=cols), o)
    assert np.max(np.abs(C.conj() @ steer)) == pytest.approx(np.sqrt(rows * cols), rel=1e-5)


# ---------------------------------------------------------------- effective rate
def test_mean_beam_gains_match_the_definition(monkeypatch):
    rng = np.random.default_rng(5)
    H = cn(rng, (5, 4, 2, 3))
    F = metrics.dft_codebook(UlaArray(kind="ula", n=4), 2)
    W = metrics.dft_codebook(UlaArray(kind="ula", n=2), 1)
    monkeypatch.setattr(metrics, "_MAX_GAIN_ELEMENTS", 40)   # force several batch slices
    got = metrics.mean_beam_gains(H, F, W)
    ref = np.array([[[np.mean([abs(W[w].conj() @ H[b, :, :, k].T @ F[f]) ** 2 for k in range(3)])
                      for w in range(len(W))] for f in range(len(F))] for b in range(len(H))])
    np.testing.assert_allclose(got, ref, rtol=1e-4)


def rank1_channel(rng, F, W, j0, i0, b=6, n_sc=12):
    """H[p, u, k] = c_k conj(F[j0, p]) W[i0, u]: beam pair (j0, i0) collects all power."""
    c = cn(rng, (b, 1, 1, n_sc), 2.0)
    return c * (F[j0].conj()[:, None, None] * W[i0][None, :, None])[None], c


def test_perfect_estimate_reaches_the_codebook_maximum():
    rng = np.random.default_rng(6)
    sys_ = system(UpaArray(kind="upa", rows=2, cols=4), UlaArray(kind="ula", n=2))
    F, W = metrics.dft_codebook(sys_.bs_array, 1), metrics.dft_codebook(sys_.ue_array, 1)
    H, c = rank1_channel(rng, F, W, j0=5, i0=1)
    snr_db = 7.0
    s = metrics.rate_sums(H, H, sys_, snr_db)
    # the closed form of the aligned beam pair ...
    expect = np.mean(np.log2(1 + 10 ** 0.7 * np.abs(c[:, 0, 0, :]) ** 2), axis=1)
    assert s["rate_sum"] / s["n"] == pytest.approx(expect.mean(), rel=1e-4)
    # ... which is the best of every beam pair of the codebooks
    every = [metrics.beam_rate(H, np.repeat(F[[j]], len(H), 0), np.repeat(W[[i]], len(H), 0), snr_db)
             for j in range(len(F)) for i in range(len(W))]
    np.testing.assert_allclose(np.max(every, axis=0), expect, rtol=1e-4)


def test_estimated_beams_never_beat_perfect_on_mean():
    """Law 4 at metric level: beams from a noisy estimate give a lower mean
    rate, and never a higher band-averaged gain on the true channel."""
    rng = np.random.default_rng(7)
    sys_ = system(UlaArray(kind="ula", n=8), UlaArray(kind="ula", n=2))
    F, W = metrics.dft_codebook(sys_.bs_array, 2), metrics.dft_codebook(sys_.ue_array, 1)
    # a few dominant directions per sample plus diffuse power
    H = sum(rank1_channel(rng, F, W, j, i, b=300)[0] for j, i in [(3, 0), (9, 1)]) + cn(rng, (300, 8, 2, 12), 0.2)
    H_hat = H + cn(rng, H.shape, 1.0)
    # Paired per sample, with a margin of 3 standard errors: an ordering that
    # could flip with another draw or build fails here rather than by luck.
    F2 = metrics.dft_codebook(sys_.bs_array, 2)
    rates = [metrics.beam_rate(H, F2[i_f], W[i_w], 5.0, 0.0)
             for i_f, i_w in (metrics.select_beams(est, F2, W) for est in (H, H_hat))]
    loss = rates[0] - rates[1]
    assert loss.mean() > 3 * loss.std(ddof=1) / np.sqrt(len(loss))
    assert metrics.rate_sums(H, H, sys_, 5.0, bs_oversampling=2)["rate_sum"] == pytest.approx(rates[0].sum())
    # the beams chosen on the true channel are the best pair of the codebooks on it,
    # checked against an exhaustive search over every (w, f) pair
    gains = metrics.mean_beam_gains(H, F, W)
    idx = np.arange(len(H))
    g_perfect = gains[idx, *metrics.select_beams(H, F, W)]
    np.testing.assert_allclose(g_perfect, gains.reshape(len(H), -1).max(axis=1), rtol=1e-6)
    g_noisy = gains[idx, *metrics.select_beams(H_hat, F, W)]
    assert np.mean(g_noisy < g_perfect - 1e-9) > 0.05     # noise picks another beam often


def test_rate_scales_with_one_minus_pilot_overhead():
    rng = np.random.default_rng(8)
    sys_ = system(UlaArray(kind="ula", n=4))
    H = cn(rng, (20, 4, 1, 12))
    full = metrics.rate_sums(H, H, sys_, 10.0, 0.0)
    part = metrics.rate_sums(H, H, sys_, 10.0, 0.25)
    assert part["rate_sum"] == pytest.approx(0.75 * full["rate_sum"], rel=1e-12)
    st = metrics.rate_stats(part)
    assert st["rate_bps_hz"] == pytest.approx(part["rate_sum"] / 20)
    assert st["rate_ci95"] > 0


def test_rate_of_a_non_finite_estimate_is_nan():
    rng = np.random.default_rng(9)
    sys_ = system(UlaArray(kind="ula", n=4))
    H = cn(rng, (6, 4, 1, 12))
    H_hat = H.copy()
    H_hat[2, 0, 0, 0] = np.nan
    assert np.isnan(metrics.rate_sums(H_hat, H, sys_, 0.0)["rate_sum"])
