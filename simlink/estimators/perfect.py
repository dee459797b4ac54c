"""Perfect CSI: the genie upper bound (no pilot overhead, no error)."""
from __future__ import annotations

import numpy as np

from simlink.estimators.base import Estimate, Estimator, register
from simlink.observation import Observation


@register
class Perfect(Estimator):
    """Returns the true DL channel (upper bound: no pilots, no error).

    No parameters.

    Input: ``obs.H_dl`` [b, n_bs, n_ue, n_sc_dl]. Output: the same, complex64.
    """
    kind = "perfect"
    requires = frozenset({"dl_true"})

    def estimate(self, obs: Observation) -> Estimate:
        return Estimate(np.asarray(obs.H_dl, np.complex64))
