"""Estimator contract: observations in, downlink CSI estimate out.

An estimator is a class registered under its YAML ``kind``. Its keyword-only
``__init__`` arguments are exactly the YAML keys of its config model in
:mod:`simlink.config` and ``__init__`` only stores them (scikit-learn rule);
``fit`` and ``estimate`` do the work.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from simlink.config import SystemCfg

Requirement = Literal["ul_csi", "dl_pilots", "feedback", "env_id", "dl_true"]


@dataclass(frozen=True)
class Dataset:
    """Training data handed to :meth:`Estimator.fit`.

    ``H_ul``: [n, n_bs, n_ue, n_sc_ul] complex64, ``H_dl``: [n, n_bs, n_ue, n_sc_dl]
    complex64, ``env_id``: [n] int32 index into ``env_names``. ``target`` is
    the index of the environment under test (``None`` for a pooled fit).
    """
    H_ul: np.ndarray
    H_dl: np.ndarray
    env_id: np.ndarray
    env_names: tuple[str, ...]
    system: SystemCfg
    target: int | None = None
    digest: str = ""   # content hash of the data, part of the weight-cache key

    def __len__(self) -> int:
        return int(self.H_dl.shape[0])

    def for_env(self, k: int) -> "Dataset":
        """The subset of environment ``k``."""
        m = self.env_id == k
        return Dataset(self.H_ul[m], self.H_dl[m], self.env_id[m], self.env_names,
                       self.system, k, f"{self.digest}/{k}")


@dataclass(frozen=True)
class Observation:
    """What the base station / UE observe for one Monte Carlo batch.

    Only the fields an estimator ``requires`` are filled; the others are None.

    - ``ul_csi``: [b, n_bs, n_ue, n_sc_ul] complex64, BS-side noisy UL estimate.
    - ``y_pilots``: [b, 1, n_ue, n_pilot_symbols, n_sc_dl] complex64, the DL
      pilot resource grid received by the UE (Sionna ``ResourceGrid`` layout).
    - ``env_id``: [b] int32 (genie baselines only).
    - ``H_dl``: [b, n_bs, n_ue, n_sc_dl] the true DL channel (``perfect`` only).
    """
    system: SystemCfg
    noise_var: float
    batch_size: int
    ul_csi: np.ndarray | None = None
    y_pilots: np.ndarray | None = None
    env_id: np.ndarray | None = None
    H_dl: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def snr_db(self) -> float:
        return float(-10.0 * np.log10(self.noise_var))


class Estimator:
    """Base class of every channel-acquisition method.

    Subclasses set ``kind`` and ``requires`` and implement ``estimate``.
    """
    kind: ClassVar[str]
    requires: ClassVar[frozenset[str]] = frozenset()
    #: "environment": fit once per environment on its own training split;
    #: "all": fit once on the pooled training data of every environment.
    fit_scope: ClassVar[Literal["environment", "all"]] = "environment"
    # -- learning -------------------------------------------------------
    def fit(self, train: Dataset, *, rng: np.random.Generator) -> "Estimator":
        """Learn from ``train``; the default learns nothing."""
        self.system_ = train.system
        return self

    def get_state(self) -> dict[str, np.ndarray]:
        """Learned arrays, saved to the weight cache after ``fit``."""
        return {}

    def set_state(self, state: dict[str, np.ndarray], system: SystemCfg) -> "Estimator":
        """Restore what ``get_state`` returned (instead of calling ``fit``)."""
        self.system_ = system
        return self

    @property
    def trains(self) -> bool:
        """True when ``fit`` learns something that is worth caching."""
        return type(self).fit is not Estimator.fit

    # -- inference ------------------------------------------------------
    def estimate(self, obs: Observation) -> np.ndarray:
        """Return the DL CSI estimate [b, n_bs, n_ue, n_sc_dl] complex64."""
        raise NotImplementedError

    def feedback_bits(self, system: SystemCfg) -> float:
        """Feedback payload per report in bits (NaN for non-feedback methods)."""
        return float("nan")

    def pilot_overhead(self, system: SystemCfg) -> float:
        """Fraction ``rho`` of DL resource elements this method spends on pilots."""
        return system.pilot_overhead if "dl_pilots" in self.requires else 0.0

    def traced_functions(self) -> list:
        """The ``tf.function`` objects ``estimate`` runs (checked to be traced)."""
        return []

    def n_params(self) -> int:
        """Number of learned parameters (0 for classical methods)."""
        return 0

    # -- introspection --------------------------------------------------
    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


REGISTRY: dict[str, type[Estimator]] = {}


def register(cls: type[Estimator]) -> type[Estimator]:
    """Class decorator: register an estimator under its ``kind``."""
    if cls.kind in REGISTRY:
        raise ValueError(f"estimator kind {cls.kind!r} registered twice")
    REGISTRY[cls.kind] = cls
    return cls
