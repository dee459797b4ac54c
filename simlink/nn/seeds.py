"""Initialiser seeds for networks built from one seed."""
from __future__ import annotations

import zlib

import numpy as np


def layer_seeds(seed: int, role: str, n: int) -> list[int]:
    """``n`` initialiser seeds derived from ``(seed, role)``.

    A Keras initialiser with an integer seed draws the same values at every
    call, so each layer needs its own seed (or two same-shape blocks would
    start identical), and an encoder and its decoder need different ones.
    """
    state = np.random.SeedSequence([seed, zlib.crc32(role.encode())]).generate_state(n)
    return [int(s) for s in state]
