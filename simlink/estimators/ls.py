"""Least-squares DL estimation on the pilot grid (Sionna ``LSChannelEstimator``)."""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import tensorflow as tf
from sionna.phy.ofdm import LSChannelEstimator

from simlink.estimators.base import Estimate, Estimator, register
from simlink.observation import Observation
from simlink.observation.grid import h_from_sionna, pilot_resource_grid
from simlink.system import SystemCfg

_SIONNA_INTERPOLATION = {"nearest": "nn", "linear": "lin"}


@lru_cache(maxsize=32)
def _compiled_ls(system: SystemCfg, interpolation: str):
    est = LSChannelEstimator(pilot_resource_grid(system),
                             interpolation_type=_SIONNA_INTERPOLATION[interpolation])

    @tf.function(jit_compile=True, reduce_retracing=True)
    def run(y, no):
        return est(y, no)[0]
    return run


def ls_estimate(y_pilots: np.ndarray, system: SystemCfg, noise_var: float,
                interpolation: Literal["nearest", "linear"] = "linear") -> np.ndarray:
    """LS at the pilot REs, then interpolation across subcarriers.

    Input: ``y_pilots`` [b, 1, n_ue, n_pilot_symbols, n_sc_dl] complex64.
    Output: [b, n_bs, n_ue, n_sc_dl] complex64.
    """
    run = _compiled_ls(system, interpolation)
    return h_from_sionna(run(tf.constant(y_pilots), tf.constant(noise_var, tf.float32)))


@register
class LS(Estimator):
    """Least squares on DL pilots with nearest or linear interpolation.

    Sionna's ``LSChannelEstimator`` on the comb CSI-RS grid, compiled with XLA
    (docs/methods.md, "LS").

    Parameters
    ----------
    interpolation : "nearest" or "linear"
        Interpolation across subcarriers between a port's pilots.

    Input: ``obs.y_pilots`` [b, 1, n_ue, n_pilot_symbols, n_sc_dl].
    Output: [b, n_bs, n_ue, n_sc_dl] complex64.
    """
    kind = "ls"
    requires = frozenset({"dl_pilots"})
    pilot_modes = frozenset({"comb"})

    interpolation: Literal["nearest", "linear"] = "linear"

    def estimate(self, obs: Observation) -> Estimate:
        return Estimate(ls_estimate(obs.y_pilots, obs.system, obs.noise_var, self.interpolation))

    def traced_functions(self, system: SystemCfg) -> list:
        return [_compiled_ls(system, self.interpolation)]
