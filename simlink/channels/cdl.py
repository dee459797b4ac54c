"""3GPP TR 38.901 CDL environments (``kind: cdl``)."""
from __future__ import annotations

import numpy as np

from simlink.channels.arrays import coefficient_array
from simlink.channels.pathmodel import PathSource, split_bands
from typing import Literal

from simlink.channels.source import EnvBase, environment
from simlink.system import NonNegFloat, PosFloat, SystemCfg


class CdlEnv(EnvBase):
    """3GPP TR 38.901 clustered delay line A-E, one snapshot per draw."""
    kind: Literal["cdl"]
    model: Literal["A", "B", "C", "D", "E"]
    delay_spread_s: PosFloat = 100e-9
    speed_mps: NonNegFloat = 0.0



@environment(CdlEnv)
class CdlSource(PathSource):
    """Sionna ``CDL`` in the uplink direction (receiver = BS, so coefficients are
    [BS port, UE port]), one snapshot at t = 0 (the speed sets the Doppler of
    a time evolution, which a single snapshot does not have)."""

    def __init__(self, env: CdlEnv, system: SystemCfg):
        super().__init__(env, system)
        from sionna.phy.channel.tr38901 import CDL

        self._model = CDL(env.model, env.delay_spread_s, system.fc_ul_hz,
                          ut_array=coefficient_array(system.ue_array, system),
                          bs_array=coefficient_array(system.bs_array, system),
                          direction="uplink", min_speed=env.speed_mps, precision="single")

    def paths(self, batch: int):
        a, tau = self._model(batch, 1, 1.0)
        return (*split_bands(a, self.system.n_bs, self.system.n_ue), tau)

    def power_delay_profile(self) -> tuple[np.ndarray, np.ndarray]:
        return (self._model.delays.numpy().astype(np.float64),
                self._model.powers.numpy().astype(np.float64))
