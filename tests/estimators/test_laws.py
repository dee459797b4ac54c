"""Physics laws 1 and 3 (docs/methods.md, "Physics laws checked by the tests") on real pilots and the Gaussian environment."""
import numpy as np
import pytest

from simlink.channels import gaussian_covariances, generate
from simlink.channels import GaussianEnv
from simlink.system import SystemCfg
from simlink.observation import observe
from simlink.estimators.lmmse import LMMSE, lmmse_nmse, sionna_lmmse_reference
from simlink.estimators.ls import LS
from simlink.observation.grid import ls_at_pilots

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast

ENV = GaussianEnv(name="g", kind="gaussian", bs_correlation=0.8)


def _system(comb: int) -> SystemCfg:
    return SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.5e9, n_subcarriers_ul=12, n_subcarriers_dl=12,
                     bs_array={"kind": "ula", "n": 4}, pilots={"comb": comb, "period_symbols": 14})


def _nmse(H_hat, H):
    return float(np.sum(np.abs(H_hat - H) ** 2) / np.sum(np.abs(H) ** 2))


def _observe(system, H, snr_db, seed):
    return observe(H, H, system, snr_db, ("dl_pilots",), seed)


@pytest.mark.parametrize("snr_db", [-5.0, 5.0, 15.0, 25.0])
def test_law1_ls_nmse_on_pilot_res_is_one_over_snr(snr_db):
    system = _system(comb=4)
    H = generate(ENV, system, 2000, seed=1)["H_dl"]
    obs = _observe(system, H, snr_db, seed=2)
    h_p, idx = ls_at_pilots(obs.y_pilots, system)                   # raw LS at pilot REs
    h_true = H.transpose(0, 2, 1, 3).reshape(len(H), system.n_ue, -1)[..., idx]
    n = h_p.size
    # |e|^2 / noise_var is Exp(1): the mean of n of them has relative std 1/sqrt(n)
    err = np.mean(np.abs(h_p - h_true) ** 2) / np.mean(np.abs(h_true) ** 2)
    assert err == pytest.approx(obs.noise_var, rel=4 / np.sqrt(n) + 0.03)
    # Sionna's estimator returns exactly those values on the pilot REs
    H_ls = LS(interpolation="nearest").estimate(obs).H
    sion = H_ls.transpose(0, 2, 1, 3).reshape(len(H), system.n_ue, -1)[..., idx]
    np.testing.assert_allclose(sion, h_p, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("snr_db", [-5.0, 5.0, 15.0])
def test_law3_lmmse_with_true_covariance_matches_closed_form(snr_db):
    system = _system(comb=1)                                         # pilots on every RE
    R = gaussian_covariances(ENV, system)["R_dl"]                   # vec over [n_bs, n_ue=1, n_sc]
    H = generate(ENV, system, 1500, seed=3)["H_dl"]
    obs = _observe(system, H, snr_db, seed=4)
    est = LMMSE(domain="full").set_state({"R": R}, system)
    s2 = obs.noise_var
    closed = np.real(np.trace(R - R @ np.linalg.solve(R + s2 * np.eye(len(R)), R))) / np.real(np.trace(R))
    assert lmmse_nmse(R, np.arange(len(R)), s2) == pytest.approx(closed, rel=1e-6)
    measured = _nmse(est.estimate(obs).H, H)
    assert measured == pytest.approx(closed, rel=0.06)
    assert measured <= _nmse(LS().estimate(obs).H, H)


@pytest.mark.parametrize("snr_db", [-5.0, 5.0, 15.0, 25.0])
@pytest.mark.parametrize("domain", ["frequency", "full"])
def test_law3_lmmse_never_loses_to_ls(snr_db, domain):
    system = _system(comb=4)
    R = gaussian_covariances(ENV, system)["R_dl"]
    H = generate(ENV, system, 1000, seed=5)["H_dl"]
    obs = _observe(system, H, snr_db, seed=6)
    if domain == "full":
        est = LMMSE(domain="full").set_state({"R": R}, system)
        predicted = lmmse_nmse(R, ls_at_pilots(obs.y_pilots, system)[1], obs.noise_var)
        assert _nmse(est.estimate(obs).H, H) == pytest.approx(predicted, rel=0.08)
    else:
        n_sc = system.n_subcarriers_dl
        R_f = np.mean([R[b * n_sc:(b + 1) * n_sc, b * n_sc:(b + 1) * n_sc] for b in range(system.n_bs)], 0)
        est = LMMSE(domain="frequency").set_state({"R": R_f}, system)
    lmmse = _nmse(est.estimate(obs).H, H)
    for interp in ("nearest", "linear"):
        assert lmmse <= _nmse(LS(interpolation=interp).estimate(obs).H, H)


def test_frequency_lmmse_equals_sionna_lmmse_interpolator():
    system = _system(comb=4)
    n_sc = system.n_subcarriers_dl
    R = gaussian_covariances(ENV, system)["R_dl"][:n_sc, :n_sc]          # port 0 frequency covariance
    H = generate(ENV, system, 8, seed=7)["H_dl"]
    obs = _observe(system, H, 5.0, seed=8)
    ours = LMMSE(domain="frequency").set_state({"R": R}, system).estimate(obs).H
    np.testing.assert_allclose(ours, sionna_lmmse_reference(obs.y_pilots, system, R, obs.noise_var),
                               rtol=1e-3, atol=1e-4)


def test_lmmse_from_sample_covariances_approaches_the_true_covariance_optimum():
    """The fitted filter ``W = R_n (R_n + s2 I)^-1`` from ``n`` training samples, scored
    exactly under the true statistics, ``tr((W - I) R (W - I)^H + s2 W W^H) / tr(R)``,
    tends to the closed-form optimum as ``n`` grows (about 1% above it at 64 samples,
    0.01% at 8,192; a covariance estimator with the wrong normalisation or
    conjugation stays off)."""
    from estimator_data import make_dataset

    system = _system(comb=1)
    R = gaussian_covariances(ENV, system)["R_dl"].astype(np.complex128)
    s2 = 10 ** (-5 / 10)
    I = np.eye(len(R))
    optimum = lmmse_nmse(R, np.arange(len(R)), s2)

    def excess(n: int) -> float:
        est = LMMSE(domain="full").fit(make_dataset(system, [ENV], n, seed=n), rng=np.random.default_rng(0))
        Rn = est.R_.astype(np.complex128)
        W = Rn @ np.linalg.inv(Rn + s2 * I)
        err = np.real(np.trace((W - I) @ R @ (W - I).conj().T + s2 * W @ W.conj().T)) / np.real(np.trace(R))
        return err / optimum - 1

    small, large = excess(64), excess(8192)
    assert large < 1e-3 and small > 5 * large, (small, large)
