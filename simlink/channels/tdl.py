"""3GPP TR 38.901 TDL environments (``kind: tdl``).

TDL has no array geometry: Sionna draws i.i.d. taps per antenna pair and
colours them with Kronecker correlation matrices. Ours are the 3GPP
(TS 36.101 / 38.101-4 Annex) exponential correlations per ``correlation``
level, built with Sionna's ``exp_corr_mat`` along each array axis
(polarisations uncorrelated). Without geometry the spatial structure is the
same in both bands; the bands differ by the per-tap phase turn only.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from simlink.channels.arrays import exponential_correlation
from simlink.channels.pathmodel import PathSource
from simlink.channels.source import EnvBase, environment
from simlink.system import NonNegFloat, PosFloat, SystemCfg


class TdlEnv(EnvBase):
    """3GPP TR 38.901 tapped delay line (single-antenna taps, Kronecker-correlated ports)."""
    kind: Literal["tdl"]
    model: Literal["A", "B", "C", "D", "E", "A30", "B100", "C300"]
    delay_spread_s: PosFloat = 100e-9
    speed_mps: NonNegFloat = 0.0
    correlation: Literal["low", "medium", "high"] = "low"


# correlation level -> (BS coefficient alpha, UE coefficient beta)
CORRELATION = {"low": (0.0, 0.0), "medium": (0.3, 0.9), "high": (0.9, 0.9)}
# Models whose delays are tabulated in ns: Sionna pins their delay spread.
_FIXED_SPREAD = {"A30": 30e-9, "B100": 100e-9, "C300": 300e-9}


@environment(TdlEnv)
class TdlSource(PathSource):
    """Sionna ``TDL`` with ``num_rx_ant = n_bs`` and ``num_tx_ant = n_ue``, one snapshot at t = 0."""

    def __init__(self, env: TdlEnv, system: SystemCfg):
        super().__init__(env, system)
        from sionna.phy.channel.tr38901 import TDL

        alpha, beta = CORRELATION[env.correlation]
        self._model = TDL(env.model, _FIXED_SPREAD.get(env.model, env.delay_spread_s),
                          system.fc_ul_hz, min_speed=env.speed_mps,
                          num_rx_ant=system.n_bs, num_tx_ant=system.n_ue,
                          rx_corr_mat=exponential_correlation(system.bs_array, alpha),
                          tx_corr_mat=exponential_correlation(system.ue_array, beta),
                          precision="single")

    def paths(self, batch: int):
        a, tau = self._model(batch, 1, 1.0)
        return a, a, tau

    def power_delay_profile(self) -> tuple[np.ndarray, np.ndarray]:
        return (self._model.delays.numpy().astype(np.float64),
                self._model.mean_powers.numpy().astype(np.float64))
