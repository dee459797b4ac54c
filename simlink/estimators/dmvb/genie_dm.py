"""Genie DM: the DM-VB experts with the true environment's expert as the prior
(the environment index is known): the upper reference of DM-VB."""
from __future__ import annotations

import numpy as np

from simlink.estimators.base import Observation, register
from simlink.estimators.dmvb.core import DEFAULT_WIDTH, DiffusionEstimator


@register
class GenieDm(DiffusionEstimator):
    """DM-VB's sampler with the true environment's expert (upper reference)."""
    kind = "genie_dm"
    requires = frozenset({"dl_pilots", "env_id"})

    def __init__(self, *, width: int = DEFAULT_WIDTH, emb_dim: int = 32, n_steps: int = 100,
                 train_steps: int = 4000, batch_size: int = 128, learning_rate: float = 1e-3,
                 zeta: float = 4.0, seed: int = 0):
        self.width = width
        self.emb_dim = emb_dim
        self.n_steps = n_steps
        self.train_steps = train_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.zeta = zeta
        self.seed = seed

    def _phi(self, obs: Observation) -> np.ndarray:
        """One-hot weights on the true expert (all experts still run in the batched
        call; a reference baseline need not be the fastest)."""
        return np.eye(self.n_experts)[np.asarray(obs.env_id)]
