"""3GPP TR 38.901 UMi / UMa / RMa environments (``kind: umi | uma | rma``).

38.901 makes the large-scale parameters and cluster statistics depend on the
carrier, so the drop (single-sector topology), the large-scale parameters
and the rays are generated once, at the UL carrier, and both bands' ports
are evaluated in one pass of Sionna's ``ChannelCoefficientsGenerator`` (the
same rays, random initial phases and XPR for both). This follows
``SystemLevelChannel.__call__`` in the downlink direction (transmitter =
BS), without its path loss and shadow fading (both disabled here), and with
the LOS ray's carrier phase ``exp(j 2 pi d3d / lambda)`` left out: Sionna
applies that carrier-dependent term to the LOS ray only, which would tear
the LOS ray away from the shared NLOS paths between bands, while against the
uniformly random NLOS phases it does not change the statistics.
"""
from __future__ import annotations

from simlink.channels.arrays import coefficient_array, panel_array
from simlink.channels.pathmodel import PathSource, split_bands
from typing import Annotated, Literal

from pydantic import Field

from simlink.channels.source import EnvBase, environment
from simlink.system import NonNegFloat, PosFloat, SystemCfg

class _SystemLevelEnv(EnvBase):
    los: bool = False
    speed_mps: NonNegFloat = 0.833  # 3 km/h
    indoor_probability: Annotated[float, Field(ge=0, le=1)] = 0.0
    min_bs_ut_dist_m: PosFloat | None = None
    isd_m: PosFloat | None = None


class UmiEnv(_SystemLevelEnv):
    """3GPP TR 38.901 urban micro-cell drop (single sector)."""
    kind: Literal["umi"]


class UmaEnv(_SystemLevelEnv):
    """3GPP TR 38.901 urban macro-cell drop (single sector)."""
    kind: Literal["uma"]


class RmaEnv(_SystemLevelEnv):
    """3GPP TR 38.901 rural macro-cell drop (single sector)."""
    kind: Literal["rma"]


O2I_MODEL = "low"  # 38.901 low-loss building penetration (UMi/UMa); the schema has no field for it


@environment(UmiEnv, UmaEnv, RmaEnv)
class SystemLevelSource(PathSource):
    """One UT per drop, ``los`` forced for outdoor UTs, indoor with ``indoor_probability``."""

    def __init__(self, env: UmiEnv | UmaEnv | RmaEnv, system: SystemCfg):
        super().__init__(env, system)
        from sionna.phy.channel.tr38901 import (ChannelCoefficientsGenerator, LSPGenerator,
                                                RaysGenerator, RMaScenario, UMaScenario,
                                                UMiScenario)

        scenario_cls = {"umi": UMiScenario, "uma": UMaScenario, "rma": RMaScenario}[env.kind]
        extra = {} if env.kind == "rma" else {"o2i_model": O2I_MODEL}
        self._scenario = scenario_cls(carrier_frequency=system.fc_ul_hz,
                                      ut_array=panel_array(system.ue_array, system, "ul"),
                                      bs_array=panel_array(system.bs_array, system, "ul"),
                                      direction="downlink", enable_pathloss=False,
                                      enable_shadow_fading=False, precision="single", **extra)
        self._lsp = LSPGenerator(self._scenario)
        self._rays = RaysGenerator(self._scenario)
        self._coefficients = ChannelCoefficientsGenerator(
            system.fc_ul_hz, tx_array=coefficient_array(system.bs_array, system),
            rx_array=coefficient_array(system.ue_array, system), subclustering=True,
            precision="single")

    def paths(self, batch: int):
        import tensorflow as tf
        from sionna.phy.channel import gen_single_sector_topology
        from sionna.phy.channel.tr38901 import Topology
        from sionna.phy.channel.utils import deg_2_rad

        env, scenario = self.env, self._scenario
        drop = gen_single_sector_topology(
            batch, 1, env.kind, min_bs_ut_dist=env.min_bs_ut_dist_m, isd=env.isd_m,
            indoor_probability=env.indoor_probability, min_ut_velocity=env.speed_mps,
            max_ut_velocity=env.speed_mps, precision="single")
        scenario.set_topology(*drop, los=env.los)
        self._lsp.topology_updated_callback()
        self._rays.topology_updated_callback()
        lsp = self._lsp()
        rays = self._rays(lsp)
        topology = Topology(velocities=scenario.ut_velocities, moving_end="rx",
                            los_aoa=deg_2_rad(scenario.los_aoa), los_aod=deg_2_rad(scenario.los_aod),
                            los_zoa=deg_2_rad(scenario.los_zoa), los_zod=deg_2_rad(scenario.los_zod),
                            los=scenario.los, distance_3d=tf.zeros_like(scenario.distance_3d),
                            tx_orientations=scenario.bs_orientations,
                            rx_orientations=scenario.ut_orientations)
        h, tau = self._coefficients(1, 1.0, lsp.k_factor, rays, topology,
                                    scenario.get_param("cDS") * 1e-9)
        # [batch, BS, UT, paths, UE ports, BS ports, time] -> [batch, BS, BS ports, UT, UE ports, paths, time]
        a = tf.transpose(h, [0, 1, 5, 2, 4, 3, 6])
        return (*split_bands(a, self.system.n_bs, self.system.n_ue), tau)
