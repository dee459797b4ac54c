"""Figures of a results table: per environment, NMSE, effective rate and (when
the coded link ran) BLER and goodput versus SNR."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simlink.campaign.cells import slug

# (file prefix, value column, y label, CI columns: (low, high) or half-width)
_FIGURES = (
    ("nmse", "nmse_db", "NMSE [dB]", ("nmse_db_ci_low", "nmse_db_ci_high")),
    ("rate", "rate_bps_hz", "effective rate [bit/s/Hz]", "rate_ci95"),
    ("bler", "bler", "BLER", ("bler_ci_low", "bler_ci_high")),
    ("goodput", "goodput_bps_hz", "goodput [bit/s/Hz]", None),
)
#: figures of the coded link: one line per estimator and link configuration
_LINK_FIGURES = ("bler", "goodput")


def make_plots(df: pd.DataFrame, plot_dir: Path) -> list[Path]:
    """Write ``<prefix>_<environment>.png`` for every environment of ``df``:
    one line per estimator with 95% CI error bars. Non-finite points (e.g.
    the NMSE of perfect CSI, -inf dB) are left out; an estimator with no
    finite point is named in the legend. Returns the files."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for env, d_env in df.groupby("environment", sort=False):
        n = int(d_env["n_samples"].max())
        for prefix, col, ylabel, ci in _FIGURES:
            if d_env[col].isna().all():   # link-level figures only when the chain ran
                continue
            fig, ax = plt.subplots(figsize=(6, 4.2))
            per_link = prefix in _LINK_FIGURES and d_env["link"].nunique() > 1
            lines = d_env if per_link else d_env.drop_duplicates(["estimator", "snr_db"])
            for (est, link), d in lines.groupby(["estimator", "link"], sort=False):
                est = f"{est} {link}" if per_link else est
                d = d.sort_values("snr_db")
                ok = np.isfinite(d[col].to_numpy(float))
                if not ok.any():   # e.g. perfect CSI: NMSE -inf dB; say so in the legend
                    ax.plot([], [], " ", label=f"{est}: {d[col].iloc[0]} (not drawn)")
                    continue
                d = d[ok]
                if isinstance(ci, tuple):
                    yerr = np.abs(np.vstack([d[col] - d[ci[0]], d[ci[1]] - d[col]]))
                elif ci is None:   # goodput: a ratio of summed counts, n on the title
                    yerr = None
                else:
                    yerr = d[ci].to_numpy(float)
                ax.errorbar(d["snr_db"], d[col], yerr=None if yerr is None else np.nan_to_num(yerr),
                            marker="o",
                            capsize=3, label=str(est))
            ax.set_xlabel("SNR [dB]")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{env}: {ylabel.split(' [')[0]} vs SNR (n = {n} samples per point, 95% CI)")
            if col == "bler":
                ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
            fig.tight_layout()
            path = plot_dir / f"{prefix}_{slug(str(env))}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written
