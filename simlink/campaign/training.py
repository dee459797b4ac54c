"""Fitting estimators once and caching what they learned.

Only estimators whose ``trains`` is true are fitted and cached, as
``<key>.npz`` where ``key`` hashes the estimator kind and parameters, the
system, the training data digest, the fit scope and the target environment.
The ``fit`` generator is seeded from that key, so the same inputs always give
the same weights. Processes load the cached state with ``set_state``, never
refit. Weights are looked up in the cache, then in the committed weights
store, then trained (:mod:`simlink.campaign.weights`).

Sub-models that several fits share (an estimator's :meth:`~simlink.estimators.Estimator.parts`,
e.g. DM-VB's experts, used by ``dmvb`` and ``genie_dm`` and by every scenario
with the same environment data) are kept the same way, one file per part
under ``parts/<content key>.npz`` (:func:`fit_estimator`). Training
checkpoints itself beside what it trains (``parts/<content key>.checkpoint.npz``,
``<key>.<stage>.checkpoint.npz``), so an interrupted run, or one paused by a
training budget (:func:`simlink.nn.train.budget`), resumes mid-training, on
this machine or, through the store, on another.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from simlink.campaign.data import Split, pooled_digest, training_dataset
from simlink.campaign.errors import CampaignError
from simlink.campaign.weights import (CHECKPOINT, StoreIndex, WeightFolders, copy,
                                      fit_checkpoint_file, fit_file, listing,
                                      part_checkpoint_file, part_file)
from simlink.config import Scenario
from simlink.hashing import stable_hash
from simlink.fileio import load_state
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


@dataclass(frozen=True)
class Fit:
    """One fit of a scenario: estimator entry ``cfg`` on environment ``where``
    (``"*"``: one pooled fit), index ``target`` (None when pooled), weight ``key``."""
    cfg: object
    where: str
    target: int | None
    key: str


def fit_keys(scenario: Scenario, data_digest: str) -> tuple[WeightMap, list[Fit]]:
    """The weight map of ``scenario`` on training data of ``data_digest``
    (:func:`~simlink.campaign.data.pooled_digest`), and its distinct fits."""
    from simlink.estimators import build

    weights: WeightMap = {}
    fits: list[Fit] = []
    envs = [e.name for e in scenario.environments]
    for cfg in scenario.estimators:
        est = build(cfg)
        if not est.trains:
            weights[cfg.name] = dict.fromkeys(envs)
            continue
        # target None: one pooled fit for all environments
        targets = [None] if est.fit_scope == "all" else list(range(len(envs)))
        keyed = {t: weight_key(cfg, scenario, data_digest, est.fit_scope, t) for t in targets}
        weights[cfg.name] = {env: keyed[None if est.fit_scope == "all" else i]
                             for i, env in enumerate(envs)}
        fits += [Fit(cfg, "*" if t is None else envs[t], t, k) for t, k in keyed.items()]
    return weights, fits


class _CachedParts(dict):
    """Part states by name; a part added here is saved at once (a fit that
    trains its parts one by one keeps each when it is done). ``fit_checkpoint``
    and ``checkpoint_path`` say where training checkpoints itself."""

    def __init__(self, keys: dict[str, str], folders: WeightFolders, fit_key: str | None):
        super().__init__({name: state for name, key in keys.items()
                          if (state := folders.load(part_file(key))[0]) is not None})
        self.keys, self.folders, self.fit_key = keys, folders, fit_key

    def __setitem__(self, name: str, state: dict[str, np.ndarray]) -> None:
        self.folders.save(part_file(self.keys[name]), state)
        super().__setitem__(name, state)

    def checkpoint_path(self, name: str) -> Path:
        """Where part ``name``'s training checkpoints itself until it is kept."""
        return self.folders.checkpoint(part_checkpoint_file(self.keys[name]))

    def fit_checkpoint(self, stage: str) -> Path | None:
        """Where training stage ``stage`` of the fit itself checkpoints itself
        (None outside a campaign's keyed fit)."""
        return None if self.fit_key is None else self.folders.checkpoint(
            fit_checkpoint_file(self.fit_key, stage))


def fit_estimator(est, train, *, rng: np.random.Generator, folders: WeightFolders | None = None,
                  key: str | None = None):
    """``est.fit(train)`` with the parts it names taken from the weight folders
    (default: the cache, then the store); the parts it trains are stored
    there, and so are the checkpoints of fit ``key``. Returns the fitted ``est``."""
    parts = _CachedParts(est.parts(train), folders or WeightFolders(), key)
    est.fit(train, rng=rng, parts=parts)
    for name, state in est.part_states().items():
        if name not in parts:
            parts[name] = state
    return est


def fit_all(scenario: Scenario, splits: dict[str, dict[str, Split]], *,
            quiet: bool = True, to_store: bool = False,
            label: str | None = None) -> tuple[WeightMap, list[dict]]:
    """Fit every training estimator of ``scenario`` unless its weights are
    in the cache or the store.

    ``splits`` comes from :func:`simlink.campaign.data.ensure_splits` (with
    train splits when any estimator trains). With ``to_store``, what is
    trained (and what only the cache has) is written to the weights store
    and its index under the scenario ``label`` (default its name). Inside
    :func:`simlink.nn.train.budget`, training pauses at a checkpoint when the
    budget is spent and the fits not begun are left. Returns the weight map
    and one summary record per fit: estimator, environment (or ``"*"``),
    key, status (``cached`` | ``trained`` | ``paused`` | ``not started``),
    ``source`` of cached weights (``cache`` | ``store``), fit seconds, and
    for a paused fit ``progress`` (how far its training got).
    """
    from simlink.estimators import build
    from simlink.nn.train import TrainingPaused, budget_spent

    folders = WeightFolders(to_store=to_store)
    # no train splits: nothing trains, and no key needs a digest
    trains = all("train" in s for s in splits.values())
    weights, fits = fit_keys(scenario, pooled_digest(scenario, splits) if trains else "")
    before = listing(folders.home)
    summary: list[dict] = []
    pooled = None   # loaded on the first cache miss only
    for fit in fits:
        cfg, name, est = fit.cfg, fit_file(fit.key), build(fit.cfg)
        t0 = time.perf_counter()
        record = {"estimator": cfg.name, "environment": fit.where, "key": fit.key}
        state, source = folders.load(name)
        if state is not None:
            record.update(status="cached", source=source)
            if to_store and source == "cache":
                folders.save(name, state)
        elif budget_spent():
            record["status"] = "not started"
        else:
            if pooled is None:
                pooled = training_dataset(scenario, splits)
            if not quiet:
                print(f"fit {cfg.name} on {fit.where}", file=sys.stderr)
            train = replace(pooled, target=fit.target)
            try:
                fit_estimator(est, train, rng=np.random.default_rng(int(fit.key, 16)),
                              folders=folders, key=fit.key)
            except TrainingPaused as exc:
                record.update(status="paused", progress=exc.progress)
            else:
                state = est.get_state()
                folders.save(name, state)
                folders.discard_checkpoints(fit.key)
                record["status"] = "trained"
        record["fit_s"] = time.perf_counter() - t0
        if state is not None and est.reports_training and (
                history := est.set_state(state, scenario.system).training_history()):
            record["history"] = history
        summary.append(record)
    if to_store:
        _index(folders, scenario, splits, fits, summary, before, label or scenario.name)
    return weights, summary


def _index(folders: WeightFolders, scenario: Scenario, splits: dict[str, dict[str, Split]],
           fits: list[Fit], summary: list[dict], before: set[str], label: str) -> None:
    """Record in the store's index what this run put there; once every fit of
    the scenario is in, drop the scenario's unfinished-training files (kept in
    the cache) and its fits that today's keys no longer name."""
    store = folders.store
    index = StoreIndex(store)
    for fit, record in zip(fits, summary):
        if record["status"] in ("cached", "trained"):
            index.fits.setdefault(fit.key, {})[label] = f"{fit.cfg.name} @ {fit.where}"
    complete = all(r["status"] in ("cached", "trained") for r in summary)
    index.scenarios[label] = {
        "complete": complete,
        "datasets": {env: {"dataset": Path(s["train"].path).stem, "digest": s["train"].digest}
                     for env, s in splits.items() if "train" in s}}
    now = listing(store)
    finals = {fit_file(k) for k in index.fits}
    for name in now - before - finals:
        index.pending[name] = sorted(set(index.pending.get(name, [])) | {label})
    index.pending = {n: owners for n, owners in index.pending.items() if n in now}
    if complete:
        for name, owners in list(index.pending.items()):
            if label in owners:
                owners.remove(label)
            if not owners:
                if not name.endswith(CHECKPOINT):
                    copy(store / name, folders.cache / name)
                (store / name).unlink()
                del index.pending[name]
        current = {f.key for f in fits}
        for key, users in list(index.fits.items()):
            if label in users and key not in current:
                del users[label]
            if not users:
                (store / fit_file(key)).unlink(missing_ok=True)
                del index.fits[key]
    index.write()


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
