"""Array construction: fixed physical spacing, Sionna's port order, correlation matrices."""
from __future__ import annotations

import numpy as np
import pytest
from channel_helpers import make_system

from simlink.channels.arrays import (BandStackedArray, coefficient_array, exponential_correlation,
                                     one_ring_correlation, panel_array, port_grid)
from simlink.system import UlaArray, UpaArray

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast

C = 299792458.0
UPA = UpaArray(kind="upa", rows=2, cols=3, polarization="dual", spacing_wavelengths=0.5)


def test_spacing_is_fixed_in_metres_across_bands():
    system = make_system(gap_hz=0.03 * 3.5e9, bs=UPA.model_dump())
    ul, dl = panel_array(UPA, system, "ul"), panel_array(UPA, system, "dl")
    np.testing.assert_allclose(dl.ant_pos.numpy(), ul.ant_pos.numpy(), rtol=1e-6)
    pos = ul.ant_pos.numpy()
    assert np.isclose(np.ptp(pos[:, 1]), 2 * 0.5 * C / 3.5e9, rtol=1e-6)  # 3 columns at lambda_ul / 2


def test_port_grid_follows_sionna_port_order():
    system = make_system(bs=UPA.model_dump())
    pos = panel_array(UPA, system, "ul").ant_pos.numpy()
    pol, row, col = port_grid(UPA)
    d = 0.5 * C / 3.5e9
    np.testing.assert_allclose(pos[:, 1] - pos[:, 1].min(), col * d, atol=1e-9)  # columns along y
    np.testing.assert_allclose(pos[:, 2].max() - pos[:, 2], row * d, atol=1e-9)  # rows downwards in z
    assert list(pol) == [0] * 6 + [1] * 6


def test_band_stacked_array_puts_dl_ports_at_the_dl_wavelength():
    gap = 0.03 * 3.5e9
    system = make_system(gap_hz=gap, bs=UPA.model_dump())
    stacked = coefficient_array(UPA, system)
    assert isinstance(stacked, BandStackedArray) and stacked.num_ant == 24
    pos = stacked.ant_pos.numpy()
    physical = panel_array(UPA, system, "dl").ant_pos.numpy()
    # phase 2 pi r.d / lambda_ul on the stacked DL ports == 2 pi r.d_physical / lambda_dl
    np.testing.assert_allclose(pos[12:] / (C / 3.5e9), physical / (C / (3.5e9 + gap)), rtol=1e-5)
    np.testing.assert_allclose(pos[:12], physical, rtol=1e-5)
    np.testing.assert_array_equal(stacked.ant_ind_pol2.numpy(), list(range(6, 12)) + list(range(18, 24)))


@pytest.mark.parametrize("array, gap", [(UPA, 0.0), (UlaArray(kind="ula", n=1, polarization="dual"), 1e8)])
def test_no_stacking_when_the_response_is_the_same_in_both_bands(array, gap):
    assert not isinstance(coefficient_array(array, make_system(gap_hz=gap)), BandStackedArray)


def test_exponential_correlation_in_port_order():
    r = exponential_correlation(UPA, 0.5)
    pol, row, col = port_grid(UPA)
    expected = (0.5 ** (np.abs(row[:, None] - row) + np.abs(col[:, None] - col))
                * (pol[:, None] == pol))
    np.testing.assert_allclose(r, expected, atol=1e-12)


def test_one_ring_correlation_is_a_correlation_matrix():
    r = one_ring_correlation(UlaArray(kind="ula", n=8), spread_deg=10.0, mean_deg=30.0)
    np.testing.assert_allclose(np.diag(r), 1.0, atol=1e-12)
    np.testing.assert_allclose(r, r.conj().T, atol=1e-12)
    assert np.linalg.eigvalsh(r).min() > -1e-10
    # narrow spread: adjacent elements strongly correlated, phase pi sin(30 deg)
    assert abs(r[1, 0]) > 0.9 and np.isclose(np.angle(r[1, 0]), np.pi * 0.5, atol=0.05)
