"""Results store: atomic cell files and the aggregated results table.

Layout of a campaign folder ``OUT``::

    cells/<cell_id>.json   one finished cell (raw sums), written atomically
    results.parquet        the aggregated table (+ results.csv), rewritten atomically
    manifest.json          see simlink.campaign.manifest
    plots/*.png            see simlink.campaign.plots

Every file is written to a hidden temporary name in the same folder and
moved into place with ``os.replace``, so a reader (or a run killed with
SIGKILL) only ever sees a complete old or a complete new file.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from simlink import metrics
from simlink.campaign.cells import LINK_COUNT_KEYS, CellTask, grid_densities, link_key
from simlink.campaign.errors import CampaignError
from simlink.config import Scenario
from simlink.estimators import REGISTRY, Diagnostic
from simlink.fileio import atomic_write

CELL_FORMAT = 1
RESULTS_PARQUET, RESULTS_CSV = "results.parquet", "results.csv"

#: per-cell raw values merged by summing over chunks
SUM_KEYS = ("n", *metrics.NMSE_SUM_KEYS, "rate_sum", "rate_sq_sum", "latency_s_sum")
#: link-level counts of the coded chain (scenario ``link:``); NaN without it
COUNT_KEYS = LINK_COUNT_KEYS
#: per-estimator constants, equal in every chunk
CONST_KEYS = ("feedback_bits", "params", "pilot_overhead")
#: wall-clock columns: the only ones that differ between identical runs
TIMING_COLUMNS = ("latency_ms", "latency_s_sum")

COLUMNS = ["environment", "estimator", "snr_db", "pilot_density", "link", "seed", "n_samples",
           "nmse_db", "nmse_db_ci_low", "nmse_db_ci_high", "est_snr_db", "nmse_sample_db",
           "rate_bps_hz", "rate_ci95", "ber", "ber_ci_low", "ber_ci_high",
           "bler", "bler_ci_low", "bler_ci_high", "goodput_bps_hz", "mcs_index", "feedback_bits", "latency_ms",
           "params", "pilot_overhead", "n_cells", *[k for k in SUM_KEYS if k != "n"], *COUNT_KEYS]


def diagnostics() -> list[Diagnostic]:
    """Every registered estimator's declared diagnostics, one per result column
    (in registration order): every table has their columns, NaN for the
    estimators that do not report them."""
    out: dict[str, Diagnostic] = {}
    for cls in REGISTRY.values():
        for diag in cls.diagnostics.values():
            out.setdefault(diag.column, diag)
    return list(out.values())


def columns() -> list[str]:
    """The results table's columns: :data:`COLUMNS` with each diagnostic's mean
    after ``latency_ms`` and its raw sum at the end."""
    diags = diagnostics()
    at = COLUMNS.index("latency_ms") + 1
    return [*COLUMNS[:at], *(d.column for d in diags), *COLUMNS[at:], *(d.total for d in diags)]


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: json.dump(obj, f, indent=1, sort_keys=True))


class CellStore:
    """The ``cells/`` folder of one campaign run with scenario hash ``scenario_hash``."""

    def __init__(self, out: Path, scenario_hash: str):
        self.dir = Path(out) / "cells"
        self.scenario_hash = scenario_hash

    def path(self, task: CellTask) -> Path:
        return self.dir / f"{task.cell_id}.json"

    def write(self, task: CellTask, result: dict[str, float]) -> None:
        atomic_write_json(self.path(task), {
            "format": CELL_FORMAT, "scenario_hash": self.scenario_hash,
            "cell_id": task.cell_id, "task": task.as_record(), "result": result})

    def read(self, task: CellTask) -> dict[str, float] | None:
        """The stored result of ``task``, or None when it must be (re)computed:
        missing, written for another scenario, or corrupt (with a warning)."""
        path = self.path(task)
        try:
            rec = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            warnings.warn(f"{path}: corrupt cell file ({exc}); recomputing it", stacklevel=2)
            return None
        if isinstance(rec, dict) and rec.get("scenario_hash") not in (None, self.scenario_hash):
            return None
        if not self._valid(rec, task):
            warnings.warn(f"{path}: incomplete cell file; recomputing it", stacklevel=2)
            return None
        return rec["result"]

    def _valid(self, rec: Any, task: CellTask) -> bool:
        if not (isinstance(rec, dict) and rec.get("format") == CELL_FORMAT
                and rec.get("cell_id") == task.cell_id and rec.get("task") == task.as_record()):
            return False
        res = rec.get("result")
        return (isinstance(res, dict)
                and all(isinstance(res.get(k), (int, float)) for k in (*SUM_KEYS, *CONST_KEYS))
                and res["n"] == task.stop - task.start)

    def count(self) -> int:
        """Number of finished cell files."""
        return sum(1 for _ in self.dir.glob("*.json")) if self.dir.is_dir() else 0

    def clear(self) -> None:
        """Remove every cell file."""
        if self.dir.is_dir():
            for p in self.dir.glob("*.json"):
                p.unlink()


def remove_temporaries(out: Path) -> None:
    """Remove the temporary files a killed run may have left in ``out`` and
    ``out/cells`` (see :func:`atomic_write`)."""
    for folder in (Path(out), Path(out) / "cells"):
        if folder.is_dir():
            for p in folder.glob(".*.tmp-*"):
                p.unlink(missing_ok=True)


def table_density(scenario: Scenario, task: CellTask) -> float:
    """The ``pilot_density`` column of a cell: the dense-pilot density of its
    system (:meth:`CellTask.system`), NaN for comb pilots (no density)."""
    pilots = task.system(scenario).pilots
    return float(pilots.density) if pilots.mode == "dense" else math.nan


def aggregate(scenario: Scenario, results: Iterable[tuple[CellTask, dict[str, float]]]) -> pd.DataFrame:
    """The results table: one row per environment x estimator x SNR (x pilot
    density, when the sweep has ``pilot_density``; x link configuration, when
    the scenario has several; columns ``pilot_density`` and ``link``).

    Chunks merge by summing raw sums and counts (in grid order, so the float
    sums do not depend on completion order); every figure is then derived
    from the merged sums. Rows follow the scenario's order of environments,
    estimators, pilot densities, SNRs and links; columns are :data:`COLUMNS`.
    """
    env_pos = {e.name: i for i, e in enumerate(scenario.environments)}
    est_pos = {e.name: i for i, e in enumerate(scenario.estimators)}
    snr_pos = {float(s): i for i, s in enumerate(scenario.sweep.snr_db)}
    alpha_pos = {a: i for i, a in enumerate(grid_densities(scenario))}
    links = scenario.links or [None]
    count_keys = [link_key(k, i) for i in range(len(links)) for k in COUNT_KEYS]
    feedback_re = scenario.system.pilots.period_symbols * scenario.system.n_subcarriers_dl
    diags = diagnostics()
    optional = [d.total for d in diags]   # sums only some estimators produce (NaN for the others)
    acc: dict[tuple, dict[str, float]] = {}
    for task, res in sorted(results, key=lambda tr: (tr[0].chunk, env_pos[tr[0].environment],
                                                     alpha_pos[tr[0].pilot_density],
                                                     snr_pos[tr[0].snr_db], est_pos[tr[0].estimator])):
        key = (env_pos[task.environment], est_pos[task.estimator], alpha_pos[task.pilot_density],
               snr_pos[task.snr_db])
        a = acc.setdefault(key, {"environment": task.environment, "estimator": task.estimator,
                                 "snr_db": task.snr_db, "pilot_density": table_density(scenario, task),
                                 "n_cells": 0,
                                 **{k: 0.0 for k in (*SUM_KEYS, *count_keys, *optional)},
                                 **{k: res[k] for k in CONST_KEYS}})
        a["n_cells"] += 1
        for k in SUM_KEYS:
            a[k] += res[k]
        for k in (*count_keys, *optional):   # NaN when not produced
            a[k] += res.get(k, math.nan)
    rows = []
    for key in sorted(acc):
        a = acc[key]
        common = {k: v for k, v in a.items() if k not in count_keys}
        for i, link in enumerate(links):
            c = {k: a[link_key(k, i)] for k in COUNT_KEYS}
            rows.append({**common, **c, "link": link.label if link else "", "seed": scenario.seed,
                         "n_samples": int(a["n"]), **metrics.nmse_stats(a), **metrics.rate_stats(a),
                         **metrics.error_rate_stats(c["bit_errors"], c["bits"], "ber"),
                         **metrics.error_rate_stats(c["block_errors"], c["blocks"], "bler"),
                         "goodput_bps_hz": metrics.goodput_bps_hz(
                             c["info_bits_ok"], c["re_total"], a["pilot_overhead"], a["feedback_bits"],
                             feedback_re),
                         "mcs_index": c["mcs_sum"] / c["slots"],   # NaN at a fixed MCS
                         **{d.column: a[d.total] / a["n"] for d in diags},
                         "latency_ms": 1e3 * a["latency_s_sum"] / a["n"]})
    return pd.DataFrame(rows, columns=columns())


def write_table(out: Path, df: pd.DataFrame) -> None:
    atomic_write(Path(out) / RESULTS_PARQUET, lambda f: df.to_parquet(f, index=False), binary=True)
    atomic_write(Path(out) / RESULTS_CSV, lambda f: df.to_csv(f, index=False))


def read_table(out: Path) -> pd.DataFrame:
    """The results table of a campaign folder; :class:`CampaignError` naming
    the file when it is missing or unreadable."""
    out = Path(out)
    if not out.is_dir():
        raise CampaignError(f"{out}: no such results folder")
    path = out / RESULTS_PARQUET
    if not path.is_file():
        raise CampaignError(f"{path}: missing (no finished cell yet? run `simlink run` first)")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types on bad files
        raise CampaignError(f"{path}: unreadable results table ({type(exc).__name__}: {exc})") from None
    missing = [c for c in ("environment", "estimator", "snr_db", "n_samples") if c not in df]
    if missing:
        raise CampaignError(f"{path}: not a simlink results table (missing columns {missing})")
    return df
