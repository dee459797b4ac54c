"""Fitting estimators once and caching what they learned.

Only estimators whose ``trains`` is true are fitted and cached, under
``cache_dir()/weights/<key>.npz`` where ``key`` hashes the estimator kind and
parameters, the system, the training data digest, the fit scope and the
target environment. The ``fit`` generator is seeded from that key, so the
same inputs always give the same weights. Processes load the cached state
with ``set_state``, never refit.

Sub-models that several fits share (an estimator's :meth:`~simlink.estimators.Estimator.parts`,
e.g. DM-VB's experts, used by ``dmvb`` and ``genie_dm`` and by every scenario
with the same environment data) are stored in the same cache, one file per
part under ``weights/parts/<content key>.npz`` (:func:`fit_estimator`), and a
part in training checkpoints itself beside it (``<content key>.checkpoint.npz``)
so that an interrupted run resumes mid-training.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from simlink.campaign.data import Split, pooled_digest, training_dataset
from simlink.campaign.errors import CampaignError
from simlink.config import Scenario
from simlink.hashing import stable_hash
from simlink.fileio import load_state, save_state
from simlink.paths import cache_dir

#: estimator name -> environment name -> weight key (None: nothing learned)
WeightMap = dict[str, dict[str, str | None]]


def weights_dir() -> Path:
    return cache_dir() / "weights"


def weight_key(cfg, scenario: Scenario, data_digest: str, scope: str, target: int | None) -> str:
    from simlink.estimators import REGISTRY

    key = {"kind": cfg.kind, "params": cfg.params(),
           "system": scenario.system.model_dump(mode="json"),
           "environments": [e.name for e in scenario.environments],
           "data": data_digest, "scope": scope, "target": target}
    version = REGISTRY[cfg.kind].fit_version
    if version:   # keys of methods whose fit never changed stay what they were
        key["fit_version"] = version
    return stable_hash(key, 24)


def parts_dir() -> Path:
    return weights_dir() / "parts"


class _CachedParts(dict):
    """Part states by name; a part added here is saved to the weight cache at
    once (a fit that trains its parts one by one keeps each when it is done)."""

    def __init__(self, keys: dict[str, str]):
        super().__init__({name: state for name, key in keys.items()
                          if (state := load_state(parts_dir() / f"{key}.npz")) is not None})
        self.keys = keys

    def __setitem__(self, name: str, state: dict[str, np.ndarray]) -> None:
        save_state(parts_dir() / f"{self.keys[name]}.npz", state)
        super().__setitem__(name, state)

    def checkpoint_path(self, name: str) -> Path:
        """Where part ``name``'s training checkpoints itself until it is kept."""
        return parts_dir() / f"{self.keys[name]}.checkpoint.npz"


def fit_estimator(est, train, *, rng: np.random.Generator):
    """``est.fit(train)`` with the parts it names taken from the weight cache;
    the parts it trains are stored there. Returns the fitted ``est``."""
    parts = _CachedParts(est.parts(train))
    est.fit(train, rng=rng, parts=parts)
    for name, state in est.part_states().items():
        if name not in parts:
            parts[name] = state
    return est


def fit_all(scenario: Scenario, splits: dict[str, dict[str, Split]], *,
            quiet: bool = True) -> tuple[WeightMap, list[dict]]:
    """Fit every training estimator of ``scenario`` unless its weights are cached.

    ``splits`` comes from :func:`simlink.campaign.data.ensure_splits` (with
    train splits when any estimator trains). Returns the weight map and one
    summary record per fit (estimator, environment or ``"*"``, key, status
    ``cached|trained``, fit seconds).
    """
    from simlink.estimators import build

    weights: WeightMap = {}
    summary: list[dict] = []
    pooled = None   # loaded on the first cache miss only
    envs = [e.name for e in scenario.environments]
    for cfg in scenario.estimators:
        est = build(cfg)
        if not est.trains:
            weights[cfg.name] = dict.fromkeys(envs)
            continue
        # target None: one pooled fit for all environments
        targets = [None] * len(envs) if est.fit_scope == "all" else list(range(len(envs)))
        digest = pooled_digest(scenario, splits)
        weights[cfg.name] = {}
        for env, target in zip(envs, targets):
            key = weight_key(cfg, scenario, digest, est.fit_scope, target)
            where = "*" if target is None else envs[target]
            path = weights_dir() / f"{key}.npz"
            weights[cfg.name][env] = key
            if target is None and env != envs[0]:
                continue
            t0 = time.perf_counter()
            status = "cached"
            state = load_state(path)
            if state is None:
                if pooled is None:
                    pooled = training_dataset(scenario, splits)
                if not quiet:
                    print(f"fit {cfg.name} on {where}", file=sys.stderr)
                train = replace(pooled, target=target)
                fitted = fit_estimator(build(cfg), train, rng=np.random.default_rng(int(key, 16)))
                state = fitted.get_state()
                save_state(path, state)
                status = "trained"
            record = {"estimator": cfg.name, "environment": where, "key": key,
                      "status": status, "fit_s": time.perf_counter() - t0}
            if est.reports_training and (
                    history := build(cfg).set_state(state, scenario.system).training_history()):
                record["history"] = history
            summary.append(record)
    return weights, summary


def load_estimators(scenario: Scenario, weights: WeightMap, root: Path) -> dict[tuple[str, str], object]:
    """Build every estimator and restore its cached state.

    Returns ``{(estimator name, environment name): estimator}``; environments
    that share a weight key (pooled fits, estimators that learn nothing) share
    one instance.
    """
    from simlink.estimators import build

    out: dict[tuple[str, str], object] = {}
    for cfg in scenario.estimators:
        by_key: dict[str | None, object] = {}
        for env, key in weights[cfg.name].items():
            if key not in by_key:
                state = {} if key is None else load_state(root / f"{key}.npz")
                if state is None:
                    raise CampaignError(f"{root / f'{key}.npz'}: weights of {cfg.name!r} "
                                        f"missing from the cache (run `simlink train` first)")
                by_key[key] = build(cfg).set_state(state, scenario.system)
            out[(cfg.name, env)] = by_key[key]
    return out
