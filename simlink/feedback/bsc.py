"""Binary symmetric channel for CSI feedback bit streams."""
from __future__ import annotations

import numpy as np


def bsc(bits: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Flip every bit independently with probability ``p``.

    Input: ``bits`` any shape, bool or integer array of 0/1; ``p`` in [0, 1].
    Output: the received bits, same shape and dtype. ``p == 0`` returns an
    unchanged copy without drawing from ``rng``, so an error-free feedback
    link leaves every other random draw of the run as it was.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"bit error probability p={p} is not in [0, 1]")
    bits = np.asarray(bits)
    if bits.dtype != bool and not np.issubdtype(bits.dtype, np.integer):
        raise TypeError(f"bits must be a bool or integer array, got {bits.dtype}")
    if p == 0.0:
        return bits.copy()
    flips = rng.random(bits.shape) < p
    return (bits ^ flips).astype(bits.dtype)
