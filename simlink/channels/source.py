"""What every environment kind provides, and the seeding that makes draws reproducible.

A dataset ``(env, system, n, seed)`` is the first ``n`` draws of an endless
stream cut into blocks of :data:`BLOCK` draws. Block ``b`` is drawn in full,
from a seed derived from ``(seed, b)`` alone, so any dataset is a prefix of a
longer one with the same seed (for every ``n``, not only whole blocks), the
memory in use is bounded by one block whatever ``n``, and XLA compiles a
single shape.
"""
from __future__ import annotations

import abc
import contextlib
from typing import Iterator

import numpy as np

from simlink.config import SystemCfg

BLOCK = 1000
# Calibration draws come from their own stream, independent of any dataset seed.
_CALIBRATION_ENTROPY = 0x5EED_CA1B_0000_0000_0000_0000_0000_0001
CALIBRATION_BLOCKS = 1

RawBlock = tuple[np.ndarray, np.ndarray, np.ndarray]  # H_ul, H_dl, time_index


def block_seed(seed: int, block: int) -> np.random.SeedSequence:
    """Seed of block ``block`` of the stream of ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(block,))


def calibration_seed(block: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(_CALIBRATION_ENTROPY, spawn_key=(block,))


@contextlib.contextmanager
def seeded_tf_rng(seed: np.random.SeedSequence) -> Iterator[None]:
    """Let Sionna draw from ``seed``, then give the caller's generator its state back.

    Sionna draws from the process-wide ``sionna.phy.config.tf_rng``; compiled
    functions read its state variable, which is reset in place here. Not
    thread-safe (neither is Sionna's generator).
    """
    import tensorflow as tf
    from sionna.phy import config

    rng = config.tf_rng
    saved = tf.identity(rng.state)
    rng.reset_from_seed(int(seed.generate_state(1, np.uint64)[0] >> np.uint64(1)))
    try:
        yield
    finally:
        rng.state.assign(saved)


class Source(abc.ABC):
    """One environment evaluated for one FDD system (unnormalised).

    Subclasses are built by :func:`simlink.channels.sampling.source` and
    cached per process, so compiled functions are traced once.
    """

    def __init__(self, env, system: SystemCfg):
        self.env = env
        self.system = system

    @abc.abstractmethod
    def block(self, seed: int, index: int, count: int = BLOCK) -> RawBlock:
        """The first ``count`` draws of block ``index`` of the stream of ``seed``,
        i.e. draws ``[index * BLOCK, index * BLOCK + count)``.

        Output: ``H_ul [count, n_bs, n_ue, n_sc_ul]``, ``H_dl [count, n_bs, n_ue,
        n_sc_dl]`` complex64 (not normalised), ``time_index [count]`` int32.
        """

    @abc.abstractmethod
    def mean_power(self) -> float:
        """Per-entry ``E|h|^2`` over both bands, independent of any dataset."""


class SyntheticSource(Source):
    """A source of independent draws: block ``b`` depends on its seed only,
    and its time index is the draw's position in the stream."""

    @abc.abstractmethod
    def draw(self, seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
        """``BLOCK`` independent pairs from ``seed``: ``(H_ul, H_dl)`` as in :meth:`block`."""

    def block(self, seed: int, index: int, count: int = BLOCK) -> RawBlock:
        h_ul, h_dl = self.draw(block_seed(seed, index))
        return h_ul[:count], h_dl[:count], np.arange(index * BLOCK, index * BLOCK + count,
                                                     dtype=np.int32)

    def mean_power(self) -> float:
        """Monte Carlo estimate from the fixed calibration stream."""
        total = 0.0
        for b in range(CALIBRATION_BLOCKS):
            h_ul, h_dl = self.draw(calibration_seed(b))
            total += 0.5 * (np.mean(np.abs(h_ul) ** 2) + np.mean(np.abs(h_dl) ** 2))
        return total / CALIBRATION_BLOCKS
