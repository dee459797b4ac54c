"""Perfect CSI: the genie upper bound (no pilot overhead, no error)."""
from __future__ import annotations

import numpy as np

from simlink.estimators.base import Estimator, Observation, register


@register
class Perfect(Estimator):
    """Returns the true DL channel."""
    kind = "perfect"
    requires = frozenset({"dl_true"})

    def __init__(self):
        pass

    def estimate(self, obs: Observation) -> np.ndarray:
        return np.asarray(obs.H_dl, np.complex64)
