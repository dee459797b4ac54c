"""``simlink report DIR``: the summary table of a campaign folder, and its plots."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simlink.campaign.plots import make_plots
from simlink.campaign.store import read_table

_SUMMARY = ["environment", "estimator", "snr_db", "pilot_density", "link", "nmse_db", "est_snr_db",
            "rate_bps_hz", "ber", "bler", "goodput_bps_hz", "feedback_bits", "n_samples"]


_LINK = ("ber", "bler", "goodput_bps_hz")  # columns shown only when the coded link ran


def summary_table(df: pd.DataFrame) -> str:
    """A readable text table of the main figures (BER/BLER columns only when
    measured, the pilot density only with dense pilots)."""
    cols = [c for c in _SUMMARY if c in df and not (c in _LINK and df[c].isna().all())
            and not (c == "link" and (df[c] == "").all())
            and not (c == "pilot_density" and df[c].isna().all())]
    return df[cols].to_string(index=False, float_format=lambda x: f"{x:.2f}" if np.isfinite(x) else str(x),
                              na_rep="-", formatters={"pilot_density": "{:g}".format})


def report(out_dir: str | Path) -> pd.DataFrame:
    """Print the summary table of ``out_dir`` to stdout and (re)make its plots.

    Raises :class:`~simlink.campaign.CampaignError` naming the file when the
    folder or its results table is missing or unreadable.
    """
    out_dir = Path(out_dir)
    df = read_table(out_dir)
    print(summary_table(df))
    make_plots(df, out_dir / "plots")
    return df
