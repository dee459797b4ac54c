"""No estimation: the BS uses its (noisy) UL CSI as the DL CSI (LoRAT's baseline)."""
from __future__ import annotations

import numpy as np

from simlink.estimators.base import Estimator, Observation, register


@register
class NoEstimation(Estimator):
    """``H_dl_hat = H_ul_hat``, each UL subcarrier mapped to the DL subcarrier
    at the same relative position in its band (nearest, when the counts differ)."""
    kind = "no_estimation"
    requires = frozenset({"ul_csi"})

    def __init__(self):
        pass

    def estimate(self, obs: Observation) -> np.ndarray:
        ul = np.asarray(obs.ul_csi)
        n_ul, n_dl = ul.shape[-1], obs.system.n_subcarriers_dl
        idx = np.minimum(((np.arange(n_dl) + 0.5) * n_ul / n_dl).astype(int), n_ul - 1)
        return ul[..., idx].astype(np.complex64)
