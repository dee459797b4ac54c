"""``simlink report DIR``: the summary tables of a campaign folder, and its plots.

The summary is the headline figures at a glance: per environment (and pilot
density, in a density sweep), estimators as rows and SNR points as columns,
one block per metric. Every other column stays in ``results.csv``.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd

from simlink.campaign.plots import make_plots
from simlink.campaign.store import read_table

#: (column, header, decimals) of the blocks, in print order; NMSE always, the
#: others where the group has a value
METRICS = (("nmse_db", "NMSE [dB]", 1), ("rate_bps_hz", "rate [bit/s/Hz]", 2))
#: the block per link configuration (scenarios with a ``link`` section)
LINK_METRIC = ("goodput_bps_hz", "goodput [bit/s/Hz]", 2)
#: terminal width assumed when the output is not a terminal
DEFAULT_WIDTH = 100
_GAP = 2   # spaces between table columns


def terminal_width() -> int:
    """Columns of the terminal on stdout, :data:`DEFAULT_WIDTH` when it is none."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def _cell(x: float, decimals: int) -> str:
    return "-" if math.isnan(x) else f"{x:.{decimals}f}"


def _grid(title: str, rows: pd.DataFrame, column: str, decimals: int, width: int) -> list[str]:
    """Lines of one block: ``title``, then estimators x SNR of ``rows[column]``,
    split into several tables of the same rows when the SNRs do not fit ``width``."""
    estimators = list(dict.fromkeys(rows["estimator"]))
    snrs = list(dict.fromkeys(rows["snr_db"]))
    values = rows.drop_duplicates(["estimator", "snr_db"]).set_index(["estimator", "snr_db"])[column]
    cells = {(e, s): _cell(float(values.get((e, s), math.nan)), decimals)
             for e in estimators for s in snrs}
    labels = {s: f"{s:g}" for s in snrs}
    name_w = max(len("estimator"), *map(len, estimators))
    col_w = max(*map(len, cells.values()), *map(len, labels.values()))
    per_line = max(1, (width - name_w) // (col_w + _GAP))
    lines = [f"{title} vs SNR [dB]"]
    for i in range(0, len(snrs), per_line):
        part = snrs[i:i + per_line]
        lines.append("estimator".ljust(name_w) + "".join(labels[s].rjust(col_w + _GAP) for s in part))
        lines += [e.ljust(name_w) + "".join(cells[(e, s)].rjust(col_w + _GAP) for s in part)
                  for e in estimators]
    return lines


def _has(rows: pd.DataFrame, column: str) -> bool:
    return column in rows and not rows[column].isna().all()


def summary_table(df: pd.DataFrame, width: int = DEFAULT_WIDTH) -> str:
    """The compact summary of a results table (columns as in
    :data:`simlink.campaign.store.COLUMNS`).

    Per environment, and per pilot density when ``pilot_density`` has values:
    a block of NMSE [dB] (one decimal), then rate [bit/s/Hz] (two decimals)
    unless it is all NaN there, then goodput [bit/s/Hz] per link
    configuration when the ``link`` column names some. Each block has
    estimators as rows and SNR points as columns, in the table's order; a
    missing or NaN value shows as ``-``.

    Parameters
    ----------
    df : pandas.DataFrame
        A results table (:func:`simlink.campaign.store.aggregate`).
    width : int
        Characters per line; SNR points beyond it continue in another table.

    Returns
    -------
    str
        The blocks, separated by blank lines.
    """
    by = ["environment"] + (["pilot_density"] if _has(df, "pilot_density") else [])
    links = [name for name in dict.fromkeys(df["link"].fillna("")) if name] if "link" in df else []
    blocks = []
    for key, group in df.groupby(by, sort=False, dropna=False):
        env, *density = key if isinstance(key, tuple) else (key,)
        where = env + (f", pilot density {density[0]:g}" if density else "")
        # Estimation figures do not depend on the link configuration: the
        # rows of each link repeat them, so one link's rows are enough.
        first = group[group["link"] == links[0]] if links else group
        blocks += [_grid(f"{where}: {header}", first, col, dec, width)
                   for col, header, dec in METRICS if col == "nmse_db" or _has(first, col)]
        col, header, dec = LINK_METRIC
        for link in links:
            rows = group[group["link"] == link]
            if _has(rows, col):
                blocks.append(_grid(f"{where}: {header}, link {link}", rows, col, dec, width))
    return "\n\n".join("\n".join(block) for block in blocks)


def fits_table(fits: list[dict]) -> str:
    """What ``simlink train`` did, one line per fit: estimator, environment
    (``*``: pooled), status, and where cached weights came from, how long a
    training took, or how far a paused one got."""
    if not fits:
        return "no estimator of this scenario trains"

    def detail(f: dict) -> str:
        if f["status"] == "cached":
            return f"from the {f['source']}"
        if f["status"] == "trained":
            return f"in {f['fit_s']:.0f} s"
        return f.get("progress", "")
    rows = [("estimator", "environment", "status", "")] + [
        (f["estimator"], f["environment"], f["status"], detail(f)) for f in fits]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3]).rstrip()
                     for r in rows)


def report(out_dir: str | Path) -> pd.DataFrame:
    """Print the summary tables of ``out_dir`` to stdout and (re)make its plots.

    Raises :class:`~simlink.campaign.CampaignError` naming the file when the
    folder or its results table is missing or unreadable.
    """
    out_dir = Path(out_dir)
    df = read_table(out_dir)
    print(summary_table(df, terminal_width()))
    make_plots(df, out_dir / "plots")
    return df


def ordering(df: pd.DataFrame, better: str, worse: str, metric: str = "goodput_bps_hz",
             tie: float = 0.005) -> dict[str, int]:
    """How often estimator ``better`` beats ``worse`` on ``metric`` over the
    cells (environment x SNR x link x pilot density) where both have a
    value: ``wins``, ``losses``, ``ties`` (within ``tie``) and ``cells``."""
    keys = [k for k in ("environment", "snr_db", "link", "pilot_density") if k in df]
    a = df[df.estimator == better].set_index(keys)[metric]
    b = df[df.estimator == worse].set_index(keys)[metric]
    diff = (a - b.reindex(a.index)).dropna()
    ties = int((diff.abs() <= tie).sum())
    wins = int((diff > tie).sum())
    return {"wins": wins, "losses": len(diff) - wins - ties, "ties": ties, "cells": len(diff)}
