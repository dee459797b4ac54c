"""Standard DM baseline: one diffusion prior trained on the pooled data of every
environment, with about ``K`` times the parameters of one DM-VB expert
(docs/methods.md, "Standard DM"), and the same posterior sampler."""
from __future__ import annotations

import numpy as np

from simlink.channels.dataset import Dataset
from simlink.estimators.base import register
from simlink.estimators.dmvb.core import DEFAULT_WIDTH, DiffusionEstimator
from simlink.observation import Observation
from simlink.system import PosInt


@register
class StandardDm(DiffusionEstimator):
    """One diffusion prior trained on the pooled data (about K x an expert's parameters).

    Parameters
    ----------
    width : int or None
        CNN width; None: ``sqrt(K)`` times the expert width, about ``K`` times
        the parameters of one DM-VB expert.

    The other keys are those of the diffusion family (see ``simlink list dmvb``).

    Input: ``obs.y_pilots`` [b, 1, n_ue, n_sym, n_sc_dl]. Output: [b, n_bs, n_ue, n_sc_dl] complex64.
    """
    kind = "standard_dm"

    width: PosInt | None = None

    def _groups(self, train: Dataset) -> list[Dataset]:
        return [train]

    def _expert_width(self, n_envs: int) -> int:
        """``width``, or ``sqrt(K)`` times the expert width: the conv weights grow
        with the square of the width, so the network has about ``K`` times the
        parameters of one expert."""
        return self.width or int(round(DEFAULT_WIDTH * np.sqrt(n_envs)))

    def _phi(self, obs: Observation) -> np.ndarray:
        return np.ones((obs.y_pilots.shape[0], 1))
