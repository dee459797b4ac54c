"""Laws of the diffusion machinery with analytic Gaussian scores in place of a network,
and of the flat pilot model and the classical baselines (no training)."""
import numpy as np
import pytest
import tensorflow as tf

from simlink.channels import generate
from simlink.system import SystemCfg
from simlink.estimators.lasso import Lasso
from simlink.estimators.rls import RLS
from simlink.observation import observe
from simlink.observation.flat import PilotModel, csi_to_images, likelihood_score
from simlink.observation.grid import pilot_resource_grid
from simlink.nn import Schedule, complex_normal, gaussian_eps, noisy, posterior_sample, tweedie

from .conftest import (CORRELATED, N_BS, N_UE, SYSTEM, db, flat_lmmse, flat_observation,
                       image_covariance, nmse)

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast

T = 100


def test_linear_schedule_ends_in_noise_for_any_length():
    for n in (25, 100, 1000):
        s = Schedule.linear(n)
        assert np.all(np.diff(s.abar) < 0) and s.abar[0] > 0.99
        assert s.abar[-1] < 1e-4
    np.testing.assert_allclose(Schedule.linear(1000).beta[[0, -1]], [1e-4, 0.02])
    with pytest.raises(ValueError):
        Schedule.linear(20)


def test_forward_noising_and_tweedie_invert_each_other():
    x0 = complex_normal([64, 4, 8], tf.constant([1, 2]))
    eps = complex_normal([64, 4, 8], tf.constant([3, 4]))
    # unit power per complex entry, as the channel entries
    assert float(tf.reduce_mean(tf.abs(eps) ** 2)) == pytest.approx(1.0, abs=0.05)
    for abar in (0.999, 0.5, 1e-3):
        np.testing.assert_allclose(tweedie(noisy(x0, eps, abar), eps, abar), x0, atol=2e-3)


class GaussianScores:
    """Exact scores of ``h ~ CN(0, R)`` observed as ``y = A h + n``, per diffusion step,
    on vectorised states ``[b, n]`` (float64 algebra, complex64 tensors)."""

    def __init__(self, R, A, noise_var, sched):
        ab = sched.abar
        lam, Q = np.linalg.eigh(R)
        self.eps_fn = gaussian_eps(R, sched)
        # p(y | x_t) = CN(A G x_t, s2 I + A C0 A^H), G = E[x0 | x_t] operator, C0 = Cov(x0 | x_t)
        lik_M, lik_G = [], []
        for a in ab:
            Sinv = (Q / (a * lam + 1 - a)) @ Q.conj().T
            G = np.sqrt(a) * R @ Sinv
            C0 = R - a * R @ Sinv @ R
            AG = A @ G
            P = AG.conj().T @ np.linalg.inv(A @ C0 @ A.conj().T + noise_var * np.eye(len(A)))
            lik_M.append(P)
            lik_G.append(P @ AG)
        self.lik_M = tf.constant(np.array(lik_M), tf.complex64)
        self.lik_G = tf.constant(np.array(lik_G), tf.complex64)

    def exact_lik_fn(self, y):
        return lambda x, t: (tf.einsum("ij,bj->bi", self.lik_M[t], y)
                             - tf.einsum("ij,bj->bi", self.lik_G[t], x))


def _problem(n_pilots=4, snr_db=10.0, n=400, seed=0):
    """Gaussian images, observation and the pieces of the flat model."""
    H = generate(CORRELATED, SYSTEM, n, seed)["H_dl"]
    obs = flat_observation(H, n_pilots, snr_db, seed + 1)
    pm = PilotModel.of(obs)
    X = pm.X[0]
    A = np.kron(X.T, np.eye(N_UE))
    h = csi_to_images(H)[:, 0]                                         # [b, Nr, Nt]
    vec = lambda img: np.reshape(np.swapaxes(img, -1, -2), (len(img), -1))  # noqa: E731  column-major
    y = vec(PilotModel.measurements(obs.y_pilots)[:, 0])
    return H, obs, pm, A, h, vec, y


def test_sampler_with_exact_gaussian_scores_returns_the_lmmse_estimate():
    """Schedule, Tweedie score and update rule: with the exact prior score and the exact
    noisy likelihood of a Gaussian, the deterministic sampler is the LMMSE estimator."""
    H, obs, pm, A, h, vec, y = _problem()
    R = image_covariance(CORRELATED)
    sched = Schedule.linear(T)
    scores = GaussianScores(R, A, obs.noise_var, sched)
    y_t = tf.constant(y, tf.complex64)
    x_T = complex_normal([len(y), R.shape[0]], tf.constant([0, 0]))
    x0 = posterior_sample(scores.eps_fn, scores.exact_lik_fn(y_t), x_T, sched.tensors(), 1.0)
    W, _ = flat_lmmse(R, pm.X[0], obs.noise_var)
    h_lmmse = y @ W.T
    assert nmse(x0.numpy(), h_lmmse) < 1e-4


COMB_SYSTEM = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.5e9, n_subcarriers_ul=8, n_subcarriers_dl=8,
                        bs_array={"kind": "ula", "n": 4}, ue_array={"kind": "ula", "n": 2},
                        pilots={"comb": 2, "period_symbols": 14})


def _comb_observation(noise_var=0.1, seed=0):
    rng = np.random.default_rng(seed)
    H = (rng.standard_normal((3, 4, 2, 8)) + 1j * rng.standard_normal((3, 4, 2, 8))).astype(np.complex64)
    return H, observe(H, H, COMB_SYSTEM, -10 * np.log10(noise_var), ("dl_pilots",), seed)


@pytest.mark.parametrize("grid", ["flat", "comb"])
def test_svd_likelihood_score_is_the_dense_formula(grid):
    """Per subcarrier, on the flat model and on the OFDM comb (a different X_k per subcarrier)."""
    if grid == "flat":
        obs = _problem(n_pilots=5, n=8)[1]
    else:
        obs = _comb_observation()[1]
    pm = PilotModel.of(obs)
    Y = PilotModel.measurements(obs.y_pilots)                          # [b, n_sc, Nr, n_sym]
    b, n_sc, n_r = Y.shape[:3]
    x = complex_normal([b, n_sc, n_r, pm.X.shape[1]], tf.constant([5, 6]))
    vec = lambda m: np.swapaxes(m, -1, -2).reshape(m.shape[0], -1)    # noqa: E731  column-major
    for a in (0.9, 0.1):
        got = likelihood_score(x, tf.constant(a, tf.float32), tf.constant(pm.project(obs.y_pilots)),
                               tf.constant(pm.U), tf.constant(pm.s),
                               tf.constant(obs.noise_var, tf.float32)).numpy()
        for k in range(n_sc):
            A = np.kron(pm.X[k].T, np.eye(n_r))
            C = np.linalg.inv(obs.noise_var * np.eye(len(A)) + (1 - a) / a * A @ A.conj().T)
            resid = vec(Y[:, k]) - vec(x.numpy()[:, k]) @ A.T / np.sqrt(a)
            want = resid @ (A.conj().T @ C).T / np.sqrt(a)
            np.testing.assert_allclose(vec(got[:, k]), want, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("snr_db", [0.0, 20.0])
def test_method_likelihood_approximation_gap_to_lmmse(snr_db):
    """With the analytic prior score but the method's uninformative-prior likelihood
    (what the estimators run), the sampler stays within 3 dB of the LMMSE NMSE
    (measured 1.2 / 2.0 / 2.4 dB at 0 / 10 / 20 dB SNR with zeta = 4; 2.3 / 3.3 / 3.5
    dB with zeta = 1) and beats RLS: the gap a trained DM inherits."""
    H, obs, pm, A, h, vec, y = _problem(snr_db=snr_db)
    R = image_covariance(CORRELATED)
    sched = Schedule.linear(T)
    scores = GaussianScores(R, A, obs.noise_var, sched)
    abar = sched.tensors()["abar"]
    args = [tf.constant(v) for v in (pm.project(obs.y_pilots), pm.U, pm.s)]
    nv = tf.constant(obs.noise_var, tf.float32)

    def lik_fn(x, t):
        img = tf.linalg.matrix_transpose(tf.reshape(x, [-1, 1, N_BS, N_UE]))
        score = likelihood_score(img, abar[t], *args, nv)
        return tf.reshape(tf.linalg.matrix_transpose(score), tf.shape(x))

    x_T = complex_normal([len(y), R.shape[0]], tf.constant([0, 0]))
    x0 = posterior_sample(scores.eps_fn, lik_fn, x_T, sched.tensors(), 4.0).numpy()
    _, closed = flat_lmmse(R, pm.X[0], obs.noise_var)
    gap = db(nmse(x0, vec(h))) - db(closed)
    assert 0.0 < gap < 3.0
    # better than RLS by more than 3 standard errors of the paired per-sample difference
    rls = vec(csi_to_images(RLS().estimate(obs).H)[:, 0])
    gain = np.sum(np.abs(rls - vec(h)) ** 2, 1) - np.sum(np.abs(x0 - vec(h)) ** 2, 1)
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(len(gain))


@pytest.mark.parametrize("grid", ["flat", "comb"])
def test_rls_is_the_regularised_least_squares_formula(grid):
    obs = _problem(n_pilots=5, n=16)[1] if grid == "flat" else _comb_observation()[1]
    pm = PilotModel.of(obs)
    Y = PilotModel.measurements(obs.y_pilots)
    vec = lambda m: np.swapaxes(m, -1, -2).reshape(m.shape[0], -1)    # noqa: E731  column-major
    for lam in (0.3, None):
        got = csi_to_images(RLS(lam=lam).estimate(obs).H)
        reg = obs.noise_var if lam is None else lam
        for k in range(Y.shape[1]):
            A = np.kron(pm.X[k].T, np.eye(Y.shape[2]))
            want = vec(Y[:, k]) @ np.linalg.solve(A.conj().T @ A + reg * np.eye(A.shape[1]), A.conj().T).T
            np.testing.assert_allclose(vec(got[:, k]), want, rtol=1e-3, atol=1e-4)
    if grid == "flat":   # lam = noise variance is the LMMSE estimator of an i.i.d. unit-power prior
        W, _ = flat_lmmse(np.eye(N_BS * N_UE), pm.X[0], obs.noise_var)
        np.testing.assert_allclose(vec(csi_to_images(RLS().estimate(obs).H)[:, 0]), vec(Y[:, 0]) @ W.T,
                                   rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("n_pilots, snr_db", [(4, 10.0), (8, 0.0), (3, 20.0)])
def test_rls_error_is_the_nmse_of_rls_on_a_white_prior(n_pilots, snr_db):
    """The error level that places the RLS start of the sampler: for i.i.d.
    unit-power channels it equals the measured NMSE of RLS (unobserved
    directions count fully)."""
    rng = np.random.default_rng(3)
    H = ((rng.standard_normal((4000, N_BS, N_UE, 1)) + 1j * rng.standard_normal((4000, N_BS, N_UE, 1)))
         / np.sqrt(2)).astype(np.complex64)
    obs = flat_observation(H, n_pilots, snr_db, seed=4)
    got = nmse(RLS().estimate(obs).H, H)
    assert PilotModel.of(obs).rls_error(obs.noise_var) == pytest.approx(got, rel=0.03)


def test_lasso_limits_and_sparse_recovery():
    """lam = 0 with enough pilots converges to LS; a huge lam gives zero; on channels
    sparse in the angular domain LASSO beats RLS with half the pilots."""
    H, obs, *_ = _problem(n_pilots=N_BS, snr_db=20.0, n=32)
    ls = RLS(lam=0.0).estimate(obs).H
    assert nmse(Lasso(lam=0.0, n_iter=500).estimate(obs).H, ls) < 1e-4
    assert np.all(Lasso(lam=1e6).estimate(obs).H == 0)
    # two angular-domain paths per channel (on the DFT grids of both arrays)
    rng = np.random.default_rng(3)
    G = np.zeros((200, N_UE, N_BS), complex)
    for i in range(200):
        G[i].flat[rng.choice(N_UE * N_BS, 2, replace=False)] = (rng.standard_normal(2) + 1j * rng.standard_normal(2))
    F = lambda n: np.exp(-2j * np.pi * np.outer(np.arange(n), np.arange(n)) / n) / np.sqrt(n)  # noqa: E731
    img = F(N_UE) @ G @ F(N_BS).T
    img *= np.sqrt(img[0].size / np.sum(np.abs(img) ** 2, axis=(1, 2)))[:, None, None]
    Hs = np.transpose(img, (0, 2, 1))[..., None].astype(np.complex64)
    obs = flat_observation(Hs, N_BS // 2, 20.0, seed=4)
    assert nmse(Lasso().estimate(obs).H, Hs) < 0.5 * nmse(RLS().estimate(obs).H, Hs)


def test_comb_grid_pilot_model_matches_the_link_receiver():
    """On the system's CSI-RS comb, the received grid is, entry by entry, what the
    comb's definition gives (port ``p`` on OFDM symbol ``p // comb`` and the
    subcarriers ``k = p mod comb``, with the pilot values of Sionna's pilot
    pattern), and the per-subcarrier model reproduces the noiseless observation."""
    H, obs = _comb_observation(noise_var=0.1, seed=0)
    clean = observe(H, H, COMB_SYSTEM, 300.0, ("dl_pilots",), 2)
    comb = COMB_SYSTEM.pilots.comb
    values = pilot_resource_grid(COMB_SYSTEM).pilot_pattern.pilots.numpy()[0]   # [n_bs, n_pilots]
    expected = np.zeros_like(clean.y_pilots)
    for p in range(COMB_SYSTEM.n_bs):
        for i, k in enumerate(range(p % comb, COMB_SYSTEM.n_subcarriers_dl, comb)):
            expected[:, 0, :, p // comb, k] += H[:, p, :, k] * values[p, i]
    np.testing.assert_allclose(clean.y_pilots, expected, atol=1e-6)
    pm = PilotModel.of(obs)
    Y = np.einsum("bkrt,kts->bkrs", csi_to_images(H), pm.X)
    np.testing.assert_allclose(PilotModel.measurements(clean.y_pilots), Y, atol=1e-5)
    # each subcarrier observes n_bs / comb ports: pilot density 1/2
    assert np.all(np.sum(pm.s > 1e-6, axis=1) == 2)
