"""Figures of a results table: per environment, NMSE, effective rate and (when
the coded link ran) BLER and goodput versus SNR; and, when the table holds
more than one pilot density (``sweep.pilot_density``), NMSE versus pilot
density."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simlink.campaign.cells import slug
from simlink.paths import PathError, reason, writable_dir

# (file prefix, value column, y label, CI columns: (low, high) or half-width)
_FIGURES = (
    ("nmse", "nmse_db", "NMSE [dB]", ("nmse_db_ci_low", "nmse_db_ci_high")),
    ("rate", "rate_bps_hz", "effective rate [bit/s/Hz]", "rate_ci95"),
    ("bler", "bler", "BLER", ("bler_ci_low", "bler_ci_high")),
    ("goodput", "goodput_bps_hz", "goodput [bit/s/Hz]", None),
)
#: figures of the coded link: one line per estimator and link configuration
_LINK_FIGURES = ("bler", "goodput")
#: file name of the NMSE-versus-pilot-density figure
DENSITY_FIGURE = "nmse_vs_density.png"
#: x label of pilot-density axes
DENSITY_LABEL = r"pilot density $\alpha = N_p / N_t$ [pilot symbols per BS port]"


def densities(df: pd.DataFrame) -> list[float]:
    """The distinct finite pilot densities of a results table (none in tables
    of comb pilots, or written before the column existed)."""
    if "pilot_density" not in df:
        return []
    return sorted({float(a) for a in df["pilot_density"] if np.isfinite(a)})


def _errorbar(ax, d: pd.DataFrame, x: str, col: str, ci, label: str, **style) -> None:
    """One line of ``d`` (sorted by ``x``) with its 95% CI; a line with no finite
    point (e.g. perfect CSI: NMSE -inf dB) is only named in the legend."""
    d = d.sort_values(x)
    ok = np.isfinite(d[col].to_numpy(float))
    if not ok.any():
        ax.plot([], [], " ", label=f"{label}: {d[col].iloc[0]} (not drawn)")
        return
    d = d[ok]
    if isinstance(ci, tuple):
        yerr = np.abs(np.vstack([d[col] - d[ci[0]], d[ci[1]] - d[col]]))
    elif ci is None:   # goodput: a ratio of summed counts, n on the title
        yerr = None
    else:
        yerr = d[ci].to_numpy(float)
    ax.errorbar(d[x], d[col], yerr=None if yerr is None else np.nan_to_num(yerr),
                marker=style.pop("marker", "o"), capsize=3, label=label, **style)


def _panels(plt, n: int, width: float, height: float, layout: str | None = None):
    """A figure with ``n`` panels, at most 3 per row (the unused ones hidden).
    Returns the figure, the ``n`` axes, and for each whether it is the lowest
    of its column (x label) and in the first column (y label)."""
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                             sharey=True, layout=layout)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n]), [k + ncols >= n for k in range(n)], [k % ncols == 0 for k in range(n)]


def _save(plt, fig, path: Path) -> None:
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise PathError(f"{path}: cannot write: {reason(exc)}") from None
    finally:
        plt.close(fig)


def make_plots(df: pd.DataFrame, plot_dir: Path) -> list[Path]:
    """Write ``<prefix>_<environment>.png`` for every environment of ``df``:
    one line per estimator with 95% CI error bars (one panel per pilot
    density when the table holds several densities, plus
    :data:`DENSITY_FIGURE`: :func:`plot_nmse_vs_density`). Non-finite points
    (e.g. the NMSE of perfect CSI, -inf dB) are left out; a line with no
    finite point is named in the legend. Returns the files."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir = writable_dir(plot_dir, "plots folder")
    if "pilot_density" not in df:   # a table written before the column existed
        df = df.assign(pilot_density=np.nan)
    alphas = densities(df)
    per_density = len(alphas) > 1
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    written = []
    for env, d_env in df.groupby("environment", sort=False):
        n = int(d_env["n_samples"].max())
        for prefix, col, ylabel, ci in _FIGURES:
            if d_env[col].isna().all():   # link-level figures only when the chain ran
                continue
            per_link = prefix in _LINK_FIGURES and d_env["link"].nunique() > 1
            lines = d_env if per_link else d_env.drop_duplicates(["estimator", "pilot_density", "snr_db"])
            what = ylabel.split(" [")[0]
            if per_density:
                fig, axes, lowest, leftmost = _panels(plt, len(alphas), 5.2, 4.0)
                panels = [(ax, lines[lines["pilot_density"] == a], f"pilot density \u03b1 = {a:g}")
                          for ax, a in zip(axes, alphas)]
                fig.suptitle(f"{env}: {what} vs SNR per pilot density (n = {n} samples per point, 95% CI)")
            else:
                fig, ax = plt.subplots(figsize=(6, 4.2))
                panels, lowest, leftmost = [(ax, lines, None)], [True], [True]
                ax.set_title(f"{env}: {what} vs SNR (n = {n} samples per point, 95% CI)")
            keys = list(dict.fromkeys(zip(lines["estimator"], lines["link"])))
            for k, (ax, d_panel, title) in enumerate(panels):
                for (est, link), d in d_panel.groupby(["estimator", "link"], sort=False):
                    label = f"{est} {link}" if per_link else str(est)
                    # the same colour for a line in every panel
                    style = {"color": colours[keys.index((est, link)) % len(colours)]} if per_density else {}
                    _errorbar(ax, d, "snr_db", col, ci, label, **style)
                if title:
                    ax.set_title(title)
                if lowest[k]:
                    ax.set_xlabel("SNR [dB]")
                if leftmost[k]:
                    ax.set_ylabel(ylabel)
                if col == "bler":
                    ax.set_yscale("log")
                ax.grid(True, alpha=0.3)
                if k == 0 and ax.get_legend_handles_labels()[0]:   # one legend per figure
                    ax.legend(fontsize="small" if per_density else None)
            fig.tight_layout()
            path = plot_dir / f"{prefix}_{slug(str(env))}.png"
            _save(plt, fig, path)
            written.append(path)
    if per_density:
        written.append(plot_nmse_vs_density(df, plot_dir / DENSITY_FIGURE))
    return written


def plot_nmse_vs_density(df: pd.DataFrame, path: Path) -> Path:
    """NMSE [dB] versus pilot density ``alpha = Np / Nt``: one panel per
    environment and SNR, one line per estimator (the same colour in every
    panel, one legend) with 95% CI error bars (DM-VB paper Fig. 6)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d_all = df[np.isfinite(df["pilot_density"].to_numpy(float))]
    d_all = d_all.drop_duplicates(["environment", "estimator", "pilot_density", "snr_db"])
    panels = list(dict.fromkeys(zip(d_all["environment"], d_all["snr_db"])))
    ests = list(dict.fromkeys(d_all["estimator"]))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes, lowest, leftmost = _panels(plt, len(panels), 4.6, 3.6, layout="constrained")
    for k, (ax, (env, snr)) in enumerate(zip(axes, panels)):
        d_panel = d_all[(d_all["environment"] == env) & (d_all["snr_db"] == snr)]
        for est, d in d_panel.groupby("estimator", sort=False):
            _errorbar(ax, d, "pilot_density", "nmse_db", ("nmse_db_ci_low", "nmse_db_ci_high"), est,
                      color=colours[ests.index(est) % len(colours)])
        ax.set_title(f"{env}, SNR = {snr:g} dB")
        ax.grid(True, alpha=0.3)
        if lowest[k]:
            ax.set_xlabel(DENSITY_LABEL)
        if leftmost[k]:
            ax.set_ylabel("NMSE [dB]")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right center", fontsize="small")
    n = int(d_all["n_samples"].max())
    fig.suptitle(f"NMSE vs pilot density (n = {n} samples per point, 95% CI)")
    _save(plt, fig, path)
    return Path(path)
