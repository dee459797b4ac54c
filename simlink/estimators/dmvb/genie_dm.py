"""Genie DM: the DM-VB experts with the true environment's expert as the prior
(the environment index is known): the upper reference of DM-VB."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from simlink.estimators.base import Estimate, register
from simlink.estimators.dmvb.core import DiffusionEstimator, mixture_posterior
from simlink.observation import Observation
from simlink.observation.flat import images_to_csi


@register
class GenieDm(DiffusionEstimator):
    """DM-VB's sampler with the true environment's expert (upper reference).

    The keys are those of the diffusion family (see ``simlink list dmvb``);
    the experts are DM-VB's, shared through the weight cache.

    Input: ``obs.y_pilots`` [b, 1, n_ue, n_sym, n_sc_dl] and ``obs.env_id`` [b].
    Output: [b, n_bs, n_ue, n_sc_dl] complex64.
    """
    kind = "genie_dm"
    requires = frozenset({"dl_pilots", "env_id"})

    def estimate(self, obs: Observation) -> Estimate:
        """Posterior sampling with the true expert's network only (one expert
        per call instead of all K with one-hot weights: K times less work, same
        estimate)."""
        env_id = np.asarray(obs.env_id)
        inputs = self._inputs(obs)
        out = np.empty(inputs["x_T"].shape, np.complex64)
        for k in np.unique(env_id):
            rows = np.flatnonzero(env_id == k)
            part = dict(inputs, weights={n: v[k:k + 1] for n, v in self.weights_.items()},
                        x_T=tf.gather(inputs["x_T"], rows), Yv=tf.gather(inputs["Yv"], rows))
            out[rows] = mixture_posterior(**part, phi=tf.ones([len(rows), 1])).numpy()
        return Estimate(images_to_csi(out))
