"""Estimator contract: observations in, downlink CSI estimate out.

An estimator is a class registered under its YAML ``kind`` with
:func:`register`. Its hyper-parameters are annotated class attributes with
defaults; they become the keyword-only ``__init__`` arguments (which only
store them: scikit-learn's rule) AND the YAML keys of its config model,
:attr:`Estimator.Config`, derived from them. The class is its own schema:
nothing else lists its keys. ``fit`` learns, ``estimate`` is pure.

See ``docs/architecture.md`` ("Adding a method") for a worked example.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, create_model

from simlink.channels.dataset import Dataset
from simlink.channels.source import same_definition
from simlink.observation import Observation
from simlink.system import Model, SystemCfg

#: what an estimator may consume (``Estimator.requires``), see :class:`~simlink.observation.Observation`
Requirement = Literal["ul_csi", "dl_pilots", "dl_partial", "feedback", "env_id", "dl_true"]

#: a problem of a scenario: (key of the estimator entry, message)
Problem = tuple[str, str]


@dataclass(frozen=True)
class Diagnostic:
    """A named per-sample value :meth:`Estimator.estimate` reports besides the channel.

    The campaign reduces it to one per-sample score (``score(value, env_index)
    -> [b]`` float; the value itself when ``score`` is None), keeps the sum of
    the scores in the raw column ``total`` (so chunks merge by summing) and
    reports their mean over the samples in the result column ``column``.
    """
    column: str
    total: str
    description: str
    score: Callable[[np.ndarray, int], np.ndarray] | None = None


@dataclass(frozen=True)
class Estimate:
    """What :meth:`Estimator.estimate` returns.

    ``H``: [b, n_bs, n_ue, n_sc_dl] complex64, the DL CSI estimate;
    ``diagnostics``: name -> per-sample array [b, ...] for the names the class
    declares in :attr:`Estimator.diagnostics` (empty for most methods).
    """
    H: np.ndarray
    diagnostics: Mapping[str, np.ndarray] = field(default_factory=dict)


class EstBase(Model):
    """Keys of every estimator entry besides the method's own."""
    name: str = Field(min_length=1)

    def params(self) -> dict[str, Any]:
        """The class keyword arguments (every key but ``name`` and ``kind``)."""
        return {k: getattr(self, k) for k in type(self).model_fields if k not in ("name", "kind")}


class Estimator:
    """Base class of every channel-acquisition method.

    Subclasses set ``kind`` and ``requires``, declare their hyper-parameters
    as annotated class attributes with defaults, and implement ``estimate``.

    Class attributes
    ----------------
    kind : str
        The YAML ``kind``.
    requires : frozenset of str
        The observations ``estimate`` consumes (:data:`Requirement`).
    pilot_modes : frozenset of str or None
        ``system.pilots.mode`` values it works with (None: any, or no pilots used).
    environment_kinds : frozenset of str or None
        Environment kinds it works with (None: any).
    diagnostics : dict of str to Diagnostic
        Named per-sample values its :class:`Estimate` carries.
    fit_scope : "environment" or "all"
        Fit once per environment on its own training split, or once on the
        pooled data of every environment.
    fit_version : int
        Raised when ``fit`` changes what it learns from the same data, so that
        weights cached by an older ``fit`` are not reused (part of the weight keys).
    late_keys : frozenset of str
        Keys added after scenarios using the kind had results: a scenario's
        content hash leaves them out while they hold their defaults, so those
        results stay current.
    """
    kind: ClassVar[str]
    requires: ClassVar[frozenset[str]] = frozenset()
    pilot_modes: ClassVar[frozenset[str] | None] = None
    environment_kinds: ClassVar[frozenset[str] | None] = None
    diagnostics: ClassVar[dict[str, Diagnostic]] = {}
    fit_scope: ClassVar[Literal["environment", "all"]] = "environment"
    fit_version: ClassVar[int] = 0
    late_keys: ClassVar[frozenset[str]] = frozenset()
    Config: ClassVar[type[EstBase]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The annotated hyper-parameters become a keyword-only __init__ that stores them.
        dataclasses.dataclass(kw_only=True, eq=False, repr=False)(cls)

    # -- learning -------------------------------------------------------
    def fit(self, train: Dataset, *, rng: np.random.Generator,
            parts: Mapping[str, dict[str, np.ndarray]] | None = None) -> "Estimator":
        """Learn from ``train``; the default learns nothing.

        ``parts``: cached states of the sub-models named by :meth:`parts`
        (the campaign's weight cache passes what it has; train the rest).
        """
        return self

    def parts(self, train: Dataset) -> dict[str, str]:
        """Sub-models shared across fits: part name -> content key.

        A method whose sub-models can serve other fits (other estimators,
        other scenarios) names them here; the campaign's weight cache stores
        each under its key (:meth:`part_states` after ``fit``) and hands the
        cached ones back to ``fit``. Default: none, the state is cached whole.
        """
        return {}

    def part_states(self) -> dict[str, dict[str, np.ndarray]]:
        """After ``fit``: the state of every part named by :meth:`parts`."""
        return {}

    def get_state(self) -> dict[str, np.ndarray]:
        """Learned arrays, saved to the weight cache after ``fit``."""
        return {}

    def set_state(self, state: dict[str, np.ndarray], system: SystemCfg) -> "Estimator":
        """Restore what ``get_state`` returned (instead of calling ``fit``)."""
        return self

    def training_history(self) -> dict[str, list] | None:
        """After ``fit`` or ``set_state``: learning curves worth reporting with
        the results (JSON-ready lists), or None."""
        return None

    @property
    def reports_training(self) -> bool:
        """True when :meth:`training_history` may return something."""
        return type(self).training_history is not Estimator.training_history

    @property
    def trains(self) -> bool:
        """True when ``fit`` learns something that is worth caching."""
        return type(self).fit is not Estimator.fit

    # -- inference ------------------------------------------------------
    def estimate(self, obs: Observation) -> Estimate:
        """The DL CSI estimate of ``obs`` (does not change the estimator)."""
        raise NotImplementedError

    def feedback_bits(self, system: SystemCfg) -> float:
        """Feedback payload per report in bits (NaN for non-feedback methods)."""
        return float("nan")

    def pilot_overhead(self, system: SystemCfg) -> float:
        """Fraction ``rho`` of DL resource elements this method spends on pilots."""
        return system.pilot_overhead if "dl_pilots" in self.requires else 0.0

    def traced_functions(self, system: SystemCfg) -> list:
        """The ``tf.function`` objects ``estimate`` runs on ``system`` (checked to be traced)."""
        return []

    def n_params(self) -> int:
        """Number of learned parameters (0 for classical methods)."""
        return 0

    # -- scenario checks --------------------------------------------------
    def supported_pilot_modes(self) -> frozenset[str] | None:
        """The pilot modes this configuration works with (default: :attr:`pilot_modes`)."""
        return self.pilot_modes

    def system_problems(self, system: SystemCfg) -> list[Problem]:
        """Why this configuration cannot run on ``system`` (empty when it can)."""
        modes = self.supported_pilot_modes()
        if modes is not None and system.pilots.mode not in modes:
            want = " or ".join(sorted(modes))
            why = " (orthogonal per-port pilots)" if modes == {"comb"} else ""
            return [("kind", f"{self.kind} needs system.pilots.mode: {want}{why}, "
                             f"not {system.pilots.mode}")]
        return []

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


class FeedbackEstimator(Estimator):
    """An encoder/decoder pair (``requires`` ``feedback``): the UE writes a report
    of bits, the bits cross ``obs.feedback_channel`` when there is one, and the
    BS rebuilds the channel from them alone (law 6)."""

    def encode(self, obs: Observation) -> np.ndarray:
        """UE side: the report bits [b, n_bits] uint8."""
        raise NotImplementedError

    def decode(self, bits: np.ndarray, system: SystemCfg) -> np.ndarray:
        """BS side: report bits [b, n_bits] -> H_hat [b, n_bs, n_ue, n_sc_dl] complex64."""
        raise NotImplementedError

    def estimate(self, obs: Observation) -> Estimate:
        bits = self.encode(obs)
        if obs.feedback_channel is not None:
            bits = obs.feedback_channel(bits)
        return Estimate(self.decode(bits, obs.system))


REGISTRY: dict[str, type[Estimator]] = {}


def param_docs(cls: type) -> dict[str, str]:
    """``name -> description`` from the numpydoc ``Parameters`` sections of the
    docstrings of ``cls`` and its bases (a subclass's entry wins)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.cleandoc(klass.__dict__.get("__doc__") or "")
        section = re.search(r"^Parameters\n-+\n(.*?)(?:\n\n\S|\Z)", doc, re.S | re.M)
        if section:
            for m in re.finditer(r"^(\w+)\s*:[^\n]*\n((?:[ \t]+[^\n]*\n?)*)", section.group(1) + "\n", re.M):
                out[m.group(1)] = " ".join(m.group(2).split())
    return out


def config_model(cls: type[Estimator]) -> type[EstBase]:
    """The pydantic config model of ``cls``: ``name``, ``kind`` and one field per
    hyper-parameter, typed and defaulted as declared (descriptions from the
    docstring). Named ``cls.Config`` so that pickle finds it."""
    hints = typing.get_type_hints(cls, include_extras=True)
    docs = param_docs(cls)
    fields: dict[str, Any] = {"kind": (Literal[cls.kind], ...)}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else ...
        fields[f.name] = (hints[f.name], Field(default, description=docs.get(f.name)))
    model = create_model(f"{cls.__name__}Config", __base__=EstBase, __module__=cls.__module__,
                         __doc__=(cls.__doc__ or "").strip().split("\n\n")[0], **fields)
    model.__qualname__ = f"{cls.__qualname__}.Config"
    return model


def register(cls: type[Estimator]) -> type[Estimator]:
    """Class decorator: register an estimator under its ``kind`` and derive its
    config model. The same class registered again from the same file (a
    plugin imported under two names) replaces the old entry."""
    old = REGISTRY.get(cls.kind)
    if old is not None and not same_definition(old, cls):
        raise ValueError(f"estimator kind {cls.kind!r} registered twice")
    cls.Config = config_model(cls)
    REGISTRY[cls.kind] = cls
    return cls


def build(cfg: EstBase) -> Estimator:
    """Instantiate the estimator described by a config model (an entry of ``estimators:``)."""
    return REGISTRY[cfg.kind](**cfg.params())
