"""CsiNet+ feedback: the convolutional auto-encoder with RefineNet blocks of
Guo et al. (IEEE TWC 2020), networks in :mod:`simlink.nn.csinet`."""
from __future__ import annotations

from simlink.estimators.base import register
from simlink.estimators.compressed.base import LearnedFeedback
from simlink.nn.csinet import csinet_plus
from simlink.system import PosInt


@register
class CsiNetPlus(LearnedFeedback):
    """CsiNet+ convolutional auto-encoder with the shared quantiser, fed back as bits.

    Parameters
    ----------
    n_refine : int
        RefineNet blocks of the decoder (CsiNet+: 5).
    """
    kind = "csinet_plus"

    n_refine: PosInt = 5

    def networks(self, n_in: int, m: int, n_ports: int, seed: int):
        return csinet_plus(n_in // (2 * n_ports), n_ports, m, self.n_refine, seed=seed)
