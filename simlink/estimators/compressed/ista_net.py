"""ISTA-Net+ feedback (Zhang & Ghanem, CVPR 2018): a learned measurement matrix
and unfolded ISTA phases with learned convolutional transforms, networks in
:mod:`simlink.nn.istanet`. Trained with the paper's symmetry loss (weight
``gamma``) added to the MSE."""
from __future__ import annotations

import tensorflow as tf

from simlink.estimators.base import register
from simlink.estimators.compressed.base import LearnedFeedback
from simlink.nn.istanet import ista_net_plus
from simlink.system import NonNegFloat, PosInt


@register
class IstaNet(LearnedFeedback):
    """ISTA-Net+ unfolded recovery with a learned matrix and the shared quantiser, fed back as bits.

    Parameters
    ----------
    n_phases : int
        Unfolded phases (ISTA-Net+: 9).
    n_filters : int
        Feature channels of the phase convolutions (32).
    gamma : float
        Weight of the symmetry loss ``||F~(F(D r)) - D r||^2`` (0.01).
    """
    kind = "ista_net"

    n_phases: PosInt = 9
    n_filters: PosInt = 32
    gamma: NonNegFloat = 0.01

    def networks(self, n_in: int, m: int, n_ports: int, seed: int):
        return ista_net_plus(n_in // (2 * n_ports), n_ports, m, self.n_phases, self.n_filters, seed=seed)

    def training_decode(self, v: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x_hat, symmetry = self.decoder_(v, return_symmetry=True)
        return x_hat, self.gamma * symmetry
