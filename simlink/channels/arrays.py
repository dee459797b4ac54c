"""Antenna arrays of an FDD pair: Sionna panel arrays and port-space correlations.

Element spacing is fixed in metres: ``spacing_wavelengths`` counts UL
wavelengths, so at a band of carrier ``fc`` the spacing is
``spacing_wavelengths * fc / fc_ul`` of that band's wavelengths.

Elements are isotropic (Sionna's ``"omni"`` pattern; dual polarisation is
the ``"cross"`` +-45 degree pair): the schema has no element-pattern field,
and isotropic elements leave each model's power-delay profile untouched.

Port order is Sionna's: polarisation-major, then columns, rows fastest, i.e.
port ``p = pol * rows * cols + col * rows + row``.
"""
from __future__ import annotations

import numpy as np

from simlink.channels.bands import Band, carrier_hz
from simlink.system import SystemCfg, UlaArray, UpaArray, n_ports

ArrayCfg = UlaArray | UpaArray

_ONE_RING_GRID = 4096  # midpoint-rule nodes of the angular average


def _n_pol(array: ArrayCfg) -> int:
    return 2 if array.polarization == "dual" else 1


def panel_array(array: ArrayCfg, system: SystemCfg, band: Band):
    """Sionna ``PanelArray`` of ``array`` at ``band``'s carrier, same metres at every band.

    Output: a single-panel ``PanelArray`` with ``n_ports(array)`` ports whose
    ``ant_pos`` [n_ports, 3] are physical positions in metres.
    """
    from sionna.phy.channel.tr38901 import PanelArray

    fc = carrier_hz(system, band)
    spacing = array.spacing_wavelengths * fc / system.fc_ul_hz
    return PanelArray(num_rows_per_panel=array.rows, num_cols_per_panel=array.cols,
                      polarization=array.polarization,
                      polarization_type="V" if array.polarization == "single" else "cross",
                      antenna_pattern="omni", carrier_frequency=fc,
                      element_vertical_spacing=spacing, element_horizontal_spacing=spacing,
                      precision="single")


class BandStackedArray:
    """The UL ports followed by the DL ports of one array, for ONE pass of
    Sionna's ``ChannelCoefficientsGenerator`` at the UL carrier.

    The generator turns a position ``d`` into the phase ``2 pi r.d / lambda_ul``;
    the DL ports sit at their physical positions times ``fc_dl / fc_ul``, so
    they receive ``2 pi r.d / lambda_dl``: each band's own wavelength, while
    every ray (angles, powers, random phases, XPR) is drawn once for both.
    Implements the part of the ``PanelArray`` interface the generator reads.
    """

    def __init__(self, array: ArrayCfg, system: SystemCfg):
        import tensorflow as tf

        ul, dl = panel_array(array, system, "ul"), panel_array(array, system, "dl")
        n = n_ports(array)
        self.polarization = ul.polarization
        self.num_ant = 2 * n
        self.ant_pos = tf.concat([ul.ant_pos, dl.ant_pos * (system.fc_dl_hz / system.fc_ul_hz)], 0)
        self.ant_pol1 = ul.ant_pol1
        if self.polarization == "dual":
            self.ant_pol2 = ul.ant_pol2
            self.ant_ind_pol2 = tf.concat([ul.ant_ind_pol2, dl.ant_ind_pol2 + n], 0)


def coefficient_array(array: ArrayCfg, system: SystemCfg):
    """The array to hand to a Sionna model running at the UL carrier.

    Output: an array whose first ``n_ports(array)`` ports are the UL band's
    and whose last ``n_ports(array)`` ports are the DL band's. When both
    bands' responses coincide (one element position, or no duplex gap) it is
    the plain UL array, so both slices select the very same ports.
    """
    if array.rows * array.cols == 1 or system.fc_dl_hz == system.fc_ul_hz:
        return panel_array(array, system, "ul")
    return BandStackedArray(array, system)


def port_grid(array: ArrayCfg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pol, row, col)`` indices of every port, each ``[n_ports]`` int, in Sionna's port order."""
    port = np.arange(n_ports(array))
    element = port % (array.rows * array.cols)
    return port // (array.rows * array.cols), element % array.rows, element // array.rows


def exponential_correlation(array: ArrayCfg, rho: float) -> np.ndarray:
    """Exponential spatial correlation ``rho^|drow| * rho^|dcol|`` (Sionna's
    ``exp_corr_mat`` per axis); the two polarisations are uncorrelated.

    Output: ``[n_ports, n_ports]`` complex128, unit diagonal.
    """
    from sionna.phy.channel import exp_corr_mat

    def axis(n: int) -> np.ndarray:
        return exp_corr_mat(rho, n, precision="double").numpy()

    return np.kron(np.eye(_n_pol(array)), np.kron(axis(array.cols), axis(array.rows)))


def one_ring_correlation(array: ArrayCfg, spread_deg: float, mean_deg: float) -> np.ndarray:
    """One-ring spatial correlation at the UL wavelength.

    Angles of arrival are uniform within ``mean_deg +- spread_deg`` in
    azimuth (across columns) and within ``+- spread_deg`` around the horizon
    in elevation (across rows); ``R[m, n] = E[exp(j 2 pi (d_m - d_n) sin(angle))]``
    per axis with ``d`` in UL wavelengths; polarisations are uncorrelated.

    Output: ``[n_ports, n_ports]`` complex128, Hermitian PSD, unit diagonal.
    """
    nodes = (np.arange(_ONE_RING_GRID) + 0.5) / _ONE_RING_GRID * 2.0 - 1.0

    def axis(n: int, centre_deg: float) -> np.ndarray:
        angles = np.deg2rad(centre_deg + spread_deg * nodes)
        lag = array.spacing_wavelengths * (np.arange(n)[:, None] - np.arange(n)[None, :])
        return np.exp(2j * np.pi * lag[..., None] * np.sin(angles)).mean(-1)

    return np.kron(np.eye(_n_pol(array)), np.kron(axis(array.cols, mean_deg), axis(array.rows, 0.0)))
