"""The angular-delay transform: exact round trip, energy kept by truncation."""
import numpy as np
import pytest

from simlink.feedback.transform import (angular_delay, csi_from_vectors, csi_vectors, from_real,
                                        space_frequency, to_real)

pytestmark = pytest.mark.fast


def random_csi(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_full_transform_is_unitary_and_round_trips():
    H = random_csi((5, 32, 8))                                  # [b, n_sc, n_bs]
    X = angular_delay(H).numpy()
    np.testing.assert_allclose(np.sum(abs(X) ** 2, (1, 2)), np.sum(abs(H) ** 2, (1, 2)), rtol=1e-5)
    np.testing.assert_allclose(space_frequency(X, 32).numpy(), H, atol=1e-5)
    # the definition, X = F_d H~ F_a with unitary DFT matrices
    n = np.arange(32)
    F_d = np.exp(2j * np.pi * np.outer(n, n) / 32) / np.sqrt(32)     # inverse DFT over subcarriers
    m = np.arange(8)
    F_a = np.exp(-2j * np.pi * np.outer(m, m) / 8) / np.sqrt(8)      # DFT over ports
    np.testing.assert_allclose(X, F_d @ H @ F_a, atol=1e-4)


def test_real_layout_round_trips():
    X = random_csi((3, 4, 6))
    x = to_real(X).numpy()
    assert x.shape == (3, 48)
    np.testing.assert_array_equal(x.reshape(3, 2, 4, 6)[:, 0], X.real)
    np.testing.assert_array_equal(x.reshape(3, 2, 4, 6)[:, 1], X.imag)
    np.testing.assert_array_equal(from_real(x, 4, 6).numpy(), X)


def test_truncation_keeps_the_energy_of_the_paths_within_the_kept_taps():
    """Paths on the delay grid (tau_l = k_l / (n_sc delta_f)): the kept energy
    is exactly the power of the paths with k_l < n_taps."""
    n_sc, n_bs, n_taps = 64, 4, 16
    taps = np.array([0, 3, 9, 15, 16, 40])
    gains = random_csi((len(taps), n_bs), seed=4)              # path gains per port
    f = np.arange(n_sc)
    H = np.einsum("lf,lp->fp", np.exp(-2j * np.pi * np.outer(taps, f) / n_sc), gains)
    kept = np.sum(abs(angular_delay(H[None], n_taps).numpy()) ** 2)
    path_energy = n_sc * np.sum(abs(gains) ** 2, axis=1)      # each path's energy over the band
    assert kept == pytest.approx(path_energy[taps < n_taps].sum(), rel=1e-5)
    assert np.sum(abs(H) ** 2) == pytest.approx(path_energy.sum(), rel=1e-5)


def test_simlink_layout_round_trips_per_ue_antenna():
    H = random_csi((2, 8, 3, 32))                              # [b, n_bs, n_ue, n_sc]
    x = csi_vectors(H, 32).numpy()
    assert x.shape == (6, 2 * 32 * 8)
    np.testing.assert_allclose(csi_from_vectors(x, 32, 8, 3, 32).numpy(), H, atol=1e-5)
    # row (sample 1, UE antenna 2) is that antenna's CSI
    np.testing.assert_allclose(x[1 * 3 + 2], to_real(angular_delay(H[1, :, 2, :].T)).numpy(), atol=1e-6)
