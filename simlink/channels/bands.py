"""The two bands of an FDD pair: carriers and subcarrier frequencies.

Every band is described relative to the UL carrier: a path of (relative)
delay ``tau`` seen at the absolute frequency ``fc_ul + offset + f_k`` carries
the phase ``exp(-j 2 pi (offset + f_k) tau)`` on top of its UL-carrier phase,
with ``offset = fc_band - fc_ul`` (0 for the UL, the duplex gap for the DL)
and ``f_k`` the band's baseband subcarrier frequencies.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from simlink.system import SystemCfg

Band = Literal["ul", "dl"]
BANDS: tuple[Band, Band] = ("ul", "dl")


def carrier_hz(system: SystemCfg, band: Band) -> float:
    """Carrier frequency of ``band`` [Hz]."""
    return system.fc_ul_hz if band == "ul" else system.fc_dl_hz


def n_subcarriers(system: SystemCfg, band: Band) -> int:
    return system.n_subcarriers_ul if band == "ul" else system.n_subcarriers_dl


def offset_hz(system: SystemCfg, band: Band) -> float:
    """Carrier offset of ``band`` from the UL carrier [Hz]."""
    return carrier_hz(system, band) - system.fc_ul_hz


def baseband_frequencies(system: SystemCfg, band: Band) -> np.ndarray:
    """Baseband subcarrier frequencies of ``band`` [Hz], float64.

    Output: ``[n_sc]`` (``k * spacing`` for ``k = -(n // 2) ...``, Sionna's
    grid), so both bands coincide when they have the same carrier and size.
    """
    from sionna.phy.channel import subcarrier_frequencies

    return subcarrier_frequencies(n_subcarriers(system, band), system.subcarrier_spacing_hz,
                                  precision="double").numpy()
