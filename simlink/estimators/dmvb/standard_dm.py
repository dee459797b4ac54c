"""Standard DM baseline: one diffusion prior trained on the pooled data of every
environment, with about ``K`` times the parameters of one DM-VB expert
(METHODS.md, DM-VB baselines), and the same posterior sampler."""
from __future__ import annotations

import numpy as np

from simlink.estimators.base import Dataset, Observation, register
from simlink.estimators.dmvb.core import DEFAULT_WIDTH, DiffusionEstimator


@register
class StandardDm(DiffusionEstimator):
    """One diffusion prior trained on the pooled data (about K x an expert's parameters)."""
    kind = "standard_dm"

    def __init__(self, *, width: int | None = None, emb_dim: int = 32, n_steps: int = 100,
                 train_steps: int = 4000, batch_size: int = 128, learning_rate: float = 1e-3,
                 zeta: float = 4.0, start: str = "rls", seed: int = 0):
        self.width = width
        self.emb_dim = emb_dim
        self.n_steps = n_steps
        self.train_steps = train_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.zeta = zeta
        self.start = start
        self.seed = seed

    def _groups(self, train: Dataset) -> list[Dataset]:
        return [train]

    def _expert_width(self, n_envs: int) -> int:
        """``width``, or ``sqrt(K)`` times the expert width: the conv weights grow
        with the square of the width, so the network has about ``K`` times the
        parameters of one expert."""
        return self.width or int(round(DEFAULT_WIDTH * np.sqrt(n_envs)))

    def _phi(self, obs: Observation) -> np.ndarray:
        return np.ones((obs.y_pilots.shape[0], 1))
