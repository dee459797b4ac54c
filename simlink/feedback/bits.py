"""Bit streams shared by every feedback method: integers <-> bits, fixed
field layouts, and a uniform scalar quantiser.

A feedback report is a row of ``uint8`` bits (values 0/1); a batch of
reports is ``[b, n_bits]``. The base station must rebuild the CSI from these
rows alone (docs/methods.md, "Physics laws checked by the tests", law 6), so every field has a fixed width known to both
ends and the stream carries no framing.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


def num2bit(x: np.ndarray, n_bits: int) -> np.ndarray:
    """Unsigned integers to bits, most significant bit first.

    Input: ``x`` [...] integers in ``[0, 2**n_bits)``.
    Output: [..., n_bits] uint8.
    """
    x = np.asarray(x, np.int64)
    if n_bits and (x.min(initial=0) < 0 or x.max(initial=0) >= 1 << n_bits):
        raise ValueError(f"values must lie in [0, 2**{n_bits}) to fit {n_bits} bits")
    if not n_bits and x.any():
        raise ValueError("a 0-bit field can only carry 0")
    shifts = np.arange(n_bits - 1, -1, -1, dtype=np.int64)
    return ((x[..., None] >> shifts) & 1).astype(np.uint8)


def bit2num(bits: np.ndarray) -> np.ndarray:
    """Bits (most significant first) to unsigned integers.

    Input: ``bits`` [..., n_bits], values 0/1 (``n_bits`` may be 0).
    Output: [...] int64.
    """
    bits = np.asarray(bits, np.int64)
    weights = 1 << np.arange(bits.shape[-1] - 1, -1, -1, dtype=np.int64)
    return bits @ weights


def bits_for(n_values: int) -> int:
    """Width of a field that indexes ``n_values`` alternatives: ``ceil(log2 n)``."""
    return math.ceil(math.log2(n_values)) if n_values > 1 else 0


@dataclass(frozen=True)
class BitLayout:
    """A fixed report format: ``fields`` = ``(name, width, count)`` triples.

    Field ``name`` holds ``count`` integers of ``width`` bits each; the stream
    is the fields in order, each field's integers in order, MSB first.
    """
    fields: tuple[tuple[str, int, int], ...]

    @property
    def n_bits(self) -> int:
        return sum(width * count for _, width, count in self.fields)

    def pack(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Input: ``values[name]`` [b, count] integers. Output: [b, n_bits] uint8."""
        b = len(next(iter(values.values())))
        parts = [num2bit(np.asarray(values[name]).reshape(b, count), width).reshape(b, -1)
                 for name, width, count in self.fields]
        return np.concatenate(parts, axis=1) if parts else np.zeros((b, 0), np.uint8)

    def unpack(self, bits: np.ndarray) -> dict[str, np.ndarray]:
        """Input: ``bits`` [b, n_bits]. Output: ``{name: [b, count] int64}``."""
        bits = np.asarray(bits)
        if bits.ndim != 2 or bits.shape[1] != self.n_bits:
            raise ValueError(f"expected bits [b, {self.n_bits}], got {bits.shape}")
        out, start = {}, 0
        for name, width, count in self.fields:
            stop = start + width * count
            out[name] = bit2num(bits[:, start:stop].reshape(len(bits), count, width))
            start = stop
        return out


@dataclass(frozen=True)
class UniformQuantizer:
    """Uniform scalar quantiser with ``2**bits`` cells tiling ``[lo, hi]``.

    Cell ``i`` is ``[lo + i*step, lo + (i+1)*step)`` and is reconstructed at
    its midpoint, so inside ``[lo, hi]`` the error is at most ``step / 2``;
    values outside are clipped to the edge cells.
    """
    lo: float
    hi: float
    bits: int

    @property
    def step(self) -> float:
        return (self.hi - self.lo) / (1 << self.bits)

    def index(self, x: np.ndarray) -> np.ndarray:
        """Input: ``x`` [...] float. Output: [...] int64 cell indices."""
        i = np.floor((np.asarray(x, np.float64) - self.lo) / self.step)
        return np.clip(i, 0, (1 << self.bits) - 1).astype(np.int64)

    def value(self, index: np.ndarray) -> np.ndarray:
        """Input: ``index`` [...] integers. Output: [...] float64 reconstructions."""
        return self.lo + (np.asarray(index, np.float64) + 0.5) * self.step
