"""CRNet feedback: the multi-resolution convolutional auto-encoder of Lu et al.
(IEEE ICC 2020), networks in :mod:`simlink.nn.crnet`."""
from __future__ import annotations

from simlink.estimators.base import register
from simlink.estimators.compressed.base import LearnedFeedback
from simlink.nn.crnet import crnet
from simlink.system import PosInt


@register
class CRNet(LearnedFeedback):
    """CRNet multi-resolution convolutional auto-encoder with the shared quantiser, fed back
    as bits.

    Parameters
    ----------
    n_crblocks : int
        CRBlocks of the decoder (CRNet: 2).
    """
    kind = "crnet"

    n_crblocks: PosInt = 2

    def networks(self, n_in: int, m: int, n_ports: int, seed: int):
        return crnet(n_in // (2 * n_ports), n_ports, m, self.n_crblocks, seed=seed)
