"""Regularised least squares on the flat per-subcarrier pilot model (DM-VB baseline).

``h = (A^H A + lam I)^-1 A^H y`` per subcarrier, solved in the SVD basis of
the pilot matrix (:class:`~simlink.estimators.dmvb.pilot_model.PilotModel`).
"""
from __future__ import annotations

import numpy as np

from simlink.estimators.base import Estimator, Observation, register
from simlink.estimators.dmvb.pilot_model import PilotModel, images_to_csi


@register
class RLS(Estimator):
    """Regularised LS; ``lam=None`` uses the noise variance, which is the LMMSE
    estimate under an i.i.d. unit-power channel prior."""
    kind = "rls"
    requires = frozenset({"dl_pilots"})

    def __init__(self, *, lam: float | None = None):
        self.lam = lam

    def estimate(self, obs: Observation) -> np.ndarray:
        pm = PilotModel.of(obs)
        lam = obs.noise_var if self.lam is None else self.lam
        return images_to_csi(pm.regularised_ls(pm.project(obs.y_pilots), lam))
