"""Regularised least squares on the flat per-subcarrier pilot model (DM-VB baseline).

``h = (A^H A + lam I)^-1 A^H y`` per subcarrier, solved in the SVD basis of
the pilot matrix (:class:`~simlink.observation.flat.PilotModel`).
"""
from __future__ import annotations

from simlink.estimators.base import Estimate, Estimator, register
from simlink.observation import Observation
from simlink.observation.flat import PilotModel, images_to_csi
from simlink.system import NonNegFloat


@register
class RLS(Estimator):
    """Regularised least squares on the flat pilot model (docs/methods.md, "Regularised LS").

    Parameters
    ----------
    lam : float or None
        Ridge weight; None uses the noise variance, which makes it the LMMSE
        estimate under an i.i.d. unit-power channel prior.

    Input: ``obs.y_pilots`` [b, 1, n_ue, n_sym, n_sc_dl] (comb or dense pilots).
    Output: [b, n_bs, n_ue, n_sc_dl] complex64.
    """
    kind = "rls"
    requires = frozenset({"dl_pilots"})

    lam: NonNegFloat | None = None

    def estimate(self, obs: Observation) -> Estimate:
        pm = PilotModel.of(obs)
        lam = obs.noise_var if self.lam is None else self.lam
        return Estimate(images_to_csi(pm.regularised_ls(pm.project(obs.y_pilots), lam)))
