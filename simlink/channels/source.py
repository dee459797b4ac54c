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
import inspect
import typing
from typing import Iterator

import numpy as np

from pydantic import Field

from simlink.system import Model, NonNegInt, SystemCfg

BLOCK = 1000


class EnvBase(Model):
    """Keys every environment has (its config model derives from this one)."""
    name: str = Field(min_length=1)
    #: training samples of this environment (default: sweep.n_train), e.g. a data-scarce one
    n_train: NonNegInt | None = None

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

    @classmethod
    def identity(cls, env) -> dict:
        """What the draws depend on besides the config and the system (e.g. a file's content)."""
        return {}

    @classmethod
    def check(cls, env, system: SystemCfg) -> list[str]:
        """Problems only the data can show (read lazily, by ``simlink validate``), one line each."""
        return []

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


#: environment kind -> (config model, source class), filled by :func:`environment`
ENVIRONMENTS: dict[str, tuple[type[EnvBase], type[Source]]] = {}


def config_kind(config: type[Model]) -> str:
    """The ``kind`` tag of a kind-tagged config model (its ``Literal`` value)."""
    args = typing.get_args(config.model_fields["kind"].annotation)
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{config.__name__}.kind must be a Literal of one string")
    return args[0]


def environment(*configs: type[EnvBase]):
    """Class decorator: register a :class:`Source` for one or more environment
    config models (one YAML ``kind`` each; the model's ``kind`` field is a
    ``Literal`` of it). A kind registered again by the same class from the
    same file (a plugin imported twice) replaces the old entry."""
    def decorate(src: type[Source]) -> type[Source]:
        for config in configs:
            kind = config_kind(config)
            old = ENVIRONMENTS.get(kind)
            if old is not None and not same_definition(old[1], src):
                raise ValueError(f"environment kind {kind!r} registered twice")
            ENVIRONMENTS[kind] = (config, src)
        return src
    return decorate


def same_definition(a: type, b: type) -> bool:
    """Whether two classes are one definition (same file and qualified name),
    e.g. a module imported under two names."""
    return a.__qualname__ == b.__qualname__ and inspect.getsourcefile(a) == inspect.getsourcefile(b)
