"""The ``gaussian`` environment against its closed-form covariances (docs/methods.md, "Physics laws checked by the tests", law 7)."""
from __future__ import annotations

import numpy as np
import pytest
from channel_helpers import make_system

import simlink.channels as ch
from simlink.channels import GaussianEnv

pytestmark = pytest.mark.fast

SYSTEM = make_system(gap_hz=5e6, n_sc=4, n_sc_dl=3, scs_hz=0.5e6,
                     bs={"kind": "ula", "n": 3}, ue={"kind": "ula", "n": 2})


@pytest.mark.parametrize("spatial", ["exponential", "one_ring", "iid"])
def test_sample_covariances_match_closed_form(spatial):
    env = GaussianEnv(name="g", kind="gaussian", spatial=spatial, ue_correlation=0.5,
                      ul_dl_correlation=0.8)
    n = 4000
    d = ch.generate(env, SYSTEM, n, seed=9)
    cov = ch.gaussian_covariances(env, SYSTEM)
    h_ul = d["H_ul"].reshape(n, -1).astype(complex)
    h_dl = d["H_dl"].reshape(n, -1).astype(complex)
    assert cov["R_ul"].shape == (24, 24) and cov["R_cross"].shape == (24, 18)
    for name, a, b in [("R_ul", h_ul, h_ul), ("R_dl", h_dl, h_dl), ("R_cross", h_ul, h_dl)]:
        products = a[:, :, None] * b[:, None, :].conj()  # [n, N_a, N_b]
        sample = products.mean(0)
        se = np.sqrt(np.mean(np.abs(products - sample) ** 2, axis=0) / n)
        # 5 standard errors per entry, over a few hundred entries
        assert np.all(np.abs(sample - cov[name]) < 5 * se + 1e-3), name
    # The UL/DL correlation itself, which the per-entry check resolves only to
    # about 0.1: R_cross = c U, so t_i = Re <h_ul h_dl^H, U> / ||U||^2 has mean c;
    # its standard error, about 0.01 here, separates 0.8 from 0.7 by 10 of them
    U = cov["R_cross"] / 0.8
    t = np.real(np.einsum("na,nb,ab->n", h_ul, h_dl.conj(), U.conj())) / np.sum(np.abs(U) ** 2)
    c_hat, se_c = t.mean(), t.std() / np.sqrt(n)
    assert se_c < 0.02 and abs(c_hat - 0.8) < 4 * se_c, (c_hat, se_c)


def test_unit_power_and_exact_factors():
    """Entries of the covariance against the configured correlations, written out
    from the definitions: ``rho^|i-j|`` per array and ``sum_l P_l exp(-j 2 pi (f_k - f_k') tau_l)``
    over the band, ``vec`` in C order over [n_bs, n_ue, n_sc]."""
    env = GaussianEnv(name="g", kind="gaussian", bs_correlation=0.8, ue_correlation=0.3,
                      delays_s=[0.0, 2e-7], powers=[0.75, 0.25])
    cov = ch.gaussian_covariances(env, SYSTEM)
    scs, n_ue, n_sc = SYSTEM.subcarrier_spacing_hz, SYSTEM.n_ue, SYSTEM.n_subcarriers_ul
    for (i, u, k), (j, v, q) in [((0, 0, 0), (2, 1, 3)), ((1, 1, 2), (0, 0, 0)), ((2, 0, 1), (2, 0, 1))]:
        freq = 0.75 + 0.25 * np.exp(-2j * np.pi * (k - q) * scs * 2e-7)
        expect = 0.8 ** abs(i - j) * 0.3 ** abs(u - v) * freq
        a, b = (i * n_ue + u) * n_sc + k, (j * n_ue + v) * n_sc + q
        assert cov["R_ul"][a, b] == pytest.approx(expect, rel=1e-6)
    np.testing.assert_allclose(np.diag(cov["R_dl"]), 1.0, atol=1e-9)
    # and the draws have that unit power per entry (mean of 3000 x 24 |h|^2, 5 SE)
    power = np.abs(ch.generate(env, SYSTEM, 3000, seed=0)["H_ul"]) ** 2
    assert np.mean(power) == pytest.approx(1.0, abs=5 * np.std(power) / np.sqrt(power.size / 6))
    factors = ch.gaussian_covariances(env, SYSTEM, full=False)
    assert "R_ul" not in factors and factors["R_f_cross"].shape == (4, 3)


def test_power_delay_profile_is_normalised():
    env = GaussianEnv(name="g", kind="gaussian", delays_s=[0.0, 1e-7], powers=[3.0, 1.0])
    delays, powers = ch.power_delay_profile(env, SYSTEM)
    np.testing.assert_allclose(delays, [0.0, 1e-7])
    np.testing.assert_allclose(powers, [0.75, 0.25])


def test_covariances_need_a_gaussian_environment():
    from simlink.channels import CdlEnv

    with pytest.raises(ch.ChannelError, match="not 'gaussian'"):
        ch.gaussian_covariances(CdlEnv(name="c", kind="cdl", model="A"), SYSTEM)
