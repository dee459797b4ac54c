"""No estimation: the BS uses its (noisy) UL CSI as the DL CSI (LoRAT's baseline)."""
from __future__ import annotations

import numpy as np

from simlink.estimators.base import Estimate, Estimator, register
from simlink.observation import Observation


@register
class NoEstimation(Estimator):
    """The BS's noisy UL CSI used as the DL CSI (reciprocity assumed across the duplex gap).

    Each DL subcarrier takes the UL subcarrier at the same relative position in
    its band (nearest, when the counts differ). No parameters.

    Input: ``obs.ul_csi`` [b, n_bs, n_ue, n_sc_ul]. Output: [b, n_bs, n_ue, n_sc_dl] complex64.
    """
    kind = "no_estimation"
    requires = frozenset({"ul_csi"})

    def estimate(self, obs: Observation) -> Estimate:
        ul = np.asarray(obs.ul_csi)
        n_ul, n_dl = ul.shape[-1], obs.system.n_subcarriers_dl
        idx = np.minimum(((np.arange(n_dl) + 0.5) * n_ul / n_dl).astype(int), n_ul - 1)
        return Estimate(ul[..., idx].astype(np.complex64))
