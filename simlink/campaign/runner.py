"""The campaign commands: ``datagen`` (:func:`prepare_data`), ``train``
(:func:`train`) and ``run`` (:func:`run`)."""
from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from simlink import metrics, progress
from simlink.campaign.cells import CellTask, effective_scenario, make_grid
from simlink.campaign.data import Split, ensure_splits
from simlink.campaign.errors import CampaignError
from simlink.campaign.executors import check_backend, make_executor
from simlink.campaign.manifest import MANIFEST, read_manifest, write_manifest
from simlink.campaign.plots import make_plots
from simlink.campaign.store import CellStore, aggregate, remove_temporaries, write_table
from simlink.campaign.training import fit_all, weights_dir
from simlink.campaign.worker import Plan
from simlink.config import Scenario
from simlink.paths import PathError, cache_dir, writable_dir

#: the results table is rewritten at most this often while cells finish
TABLE_INTERVAL_S = 2.0


def _splits(scenario: Scenario, quiet: bool) -> dict[str, dict[str, Split]]:
    """Ensure the test splits, and the train splits when an estimator trains."""
    from simlink.estimators import build

    trainers = [cfg.name for cfg in scenario.estimators if build(cfg).trains]
    if trainers and scenario.sweep.n_train == 0:
        raise CampaignError(f"sweep.n_train is 0 but estimators {trainers} need training data")
    return ensure_splits(scenario, train=bool(trainers), quiet=quiet)


def _describe(splits: dict[str, dict[str, Split]]) -> dict:
    return {env: {name: asdict(s) for name, s in d.items()} for env, d in splits.items()}


def prepare_data(scenario: Scenario, *, smoke: bool = False, quiet: bool = False) -> dict:
    """Ensure every environment's test split (and train split, when an
    estimator trains) is in the dataset cache. Returns
    ``{environment: {split: {path, digest, seed, n}}}``."""
    return _describe(_splits(effective_scenario(scenario, smoke=smoke), quiet))


def train(scenario: Scenario, *, smoke: bool = False, quiet: bool = False,
          budget_minutes: float | None = None, to_store: bool = False) -> dict:
    """Fit every training estimator, or find its weights in the cache or the store.

    ``budget_minutes`` (counted from the call, data generation included):
    training pauses at its next checkpoint once it is spent, and the fits
    not begun are left for the next call, which continues where this one
    stopped. With a budget, or ``to_store``, what is trained goes to the
    weights store (:mod:`simlink.campaign.weights`), checkpoints included.
    Returns ``{"weights": {estimator: {environment: key or None}},
    "fits": [{estimator, environment, key, status, fit_s, ...}, ...]}``
    (statuses in :func:`~simlink.campaign.training.fit_all`).
    """
    from simlink.nn.train import budget

    if budget_minutes is not None and not budget_minutes > 0:
        raise CampaignError(f"--budget: must be a positive number of minutes, got {budget_minutes}")
    scen = effective_scenario(scenario, smoke=smoke)
    with progress.quiet(quiet), budget(None if budget_minutes is None else 60 * budget_minutes):
        weights, fits = fit_all(scen, _splits(scen, quiet), quiet=quiet,
                                to_store=to_store or budget_minutes is not None,
                                label=scen.name + (" --smoke" if smoke else ""))
    return {"weights": weights, "fits": fits}


def _claim(out: Path, scenario_hash: str, resume: bool) -> None:
    """Refuse to overwrite another scenario's results unless resuming (then
    only cells of this scenario are reused; the others are recomputed)."""
    manifest = read_manifest(out)
    if manifest is None or resume or manifest.get("scenario_hash") == scenario_hash:
        return
    raise CampaignError(f"{out / MANIFEST}: the folder holds results of another scenario "
                        f"(hash {manifest.get('scenario_hash')}, this one {scenario_hash}); "
                        f"use another --out, delete the folder, or pass --resume")


def _figure(task: CellTask, res: dict[str, float]) -> str:
    """Progress-bar text for a finished cell."""
    nmse = metrics.nmse_stats(res)["nmse_db"]
    return f"{task.label} nmse={nmse:.1f} rate={res['rate_sum'] / res['n']:.2f}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run(scenario: Scenario, out: str | Path | None = None, *, smoke: bool = False,
        resume: bool = False, backend: str = "local", workers: int | None = None,
        seed: int | None = None, quiet: bool = False, address: str | None = None) -> pd.DataFrame:
    """Run a Monte Carlo campaign and return its results table.

    Writes into ``out`` (default ``runs/<scenario.name>``): ``cells/*.json``
    as cells finish, ``results.parquet`` + ``results.csv``, ``manifest.json``
    and ``plots/*.png``. ``smoke`` shrinks the scenario to its smoke sizes,
    ``seed`` overrides ``scenario.seed``; ``quiet`` hides the progress bar
    (printing the summary table is :func:`~simlink.campaign.report`'s job).
    Without ``resume`` the folder's cells are recomputed (and a folder
    holding another scenario's results is refused); with it, finished cells
    of this scenario are reused, so a run killed at any moment continues
    where it stopped and ends with the same table. ``backend``/``workers``/``address`` choose the executor
    (:mod:`simlink.campaign.executors`). Every column but ``latency_ms`` and
    ``latency_s_sum`` (wall clock) is identical for the same scenario and
    seed, whatever the executor.
    """
    from tqdm.auto import tqdm

    t0 = time.monotonic()
    check_backend(backend, workers, address)
    if backend == "local" and workers is None:   # ray sizes itself to the cluster
        workers = 1
    scen = effective_scenario(scenario, smoke=smoke, seed=seed)
    scenario_hash = scen.content_hash()
    out = Path(out) if out is not None else Path("runs") / scen.name
    # Both folders are checked before any work: a run that cannot keep its
    # results must not spend an hour first.
    writable_dir(out, "results folder")
    writable_dir(out / "cells", "results folder")
    cache_dir()
    _claim(out, scenario_hash, resume)
    store = CellStore(out, scenario_hash)
    remove_temporaries(out)
    if not resume:
        store.clear()

    splits = _splits(scen, quiet)
    with progress.quiet(quiet):
        weights, fits = fit_all(scen, splits, quiet=quiet)
    plan = Plan(scen, {env: s["test"].path for env, s in splits.items()}, weights, str(weights_dir()))
    tasks = make_grid(scen)
    results: dict[CellTask, dict[str, float]] = {}
    if resume:
        results = {t: r for t in tasks if (r := store.read(t)) is not None}

    info = {"scenario": scen.model_dump(mode="json"), "scenario_hash": scenario_hash,
            "smoke": smoke, "backend": backend, "workers": workers,
            "seeds": {"scenario": scen.seed,
                      "datasets": {env: {n: s.seed for n, s in d.items()} for env, d in splits.items()}},
            "address": address, "datasets": _describe(splits), "weights": fits,
            "n_cells": len(tasks), "cells_reused": len(results), "started": _now()}
    write_manifest(out, status="running", **info)

    bar = tqdm(total=len(tasks), initial=len(results), disable=quiet, desc=scen.name, unit="cell")
    last_write = time.monotonic()
    finished = False
    try:
        with make_executor(backend, plan, workers=workers, address=address) as executor:
            for task, res in executor.map_unordered([t for t in tasks if t not in results]):
                store.write(task, res)
                results[task] = res
                bar.update(1)
                bar.set_postfix_str(_figure(task, res), refresh=False)
                if time.monotonic() - last_write > TABLE_INTERVAL_S:
                    write_table(out, aggregate(scen, results.items()))
                    last_write = time.monotonic()
        finished = True
    except PathError as exc:   # e.g. the disk filled up: every cell written so far is intact
        bar.close()
        raise PathError(f"{exc}; the {store.count()} finished cells are kept in {store.dir}: "
                        f"free the space and re-run with --resume") from None
    finally:
        bar.close()
        if results:   # keep the table in step with the cells even on errors
            df = aggregate(scen, results.items())
            try:
                write_table(out, df)
            except PathError:
                if finished:
                    raise
                # already failing: the cells hold everything and --resume rebuilds the table
    make_plots(df, out / "plots")
    write_manifest(out, status="complete", finished=_now(),
                   wall_time_s=round(time.monotonic() - t0, 3), **info)
    return df
