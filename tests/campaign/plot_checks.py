"""What a figure of :func:`simlink.campaign.plots.make_plots` shows, read back from
its matplotlib objects (the PNG alone says nothing about its content)."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from simlink.campaign.plots import make_plots  # noqa: E402


def figures_of(df: pd.DataFrame, plot_dir: Path, monkeypatch) -> dict[str, Figure]:
    """Run ``make_plots`` and keep every figure it saves, by file name."""
    saved: dict[str, Figure] = {}
    original = Figure.savefig

    def keep(fig, path, *args, **kwargs):
        saved[Path(path).name] = fig
        return original(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    written = make_plots(df, plot_dir)
    assert sorted(p.name for p in written) == sorted(saved)
    return saved


def lines_of(ax) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """``label -> (x, y, y error half-widths or None)`` of every error-bar line."""
    out = {}
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            x, y = c.lines[0].get_data()
            err = None
            if c.has_yerr:
                seg = c.lines[2][0].get_segments()
                err = np.array([(s[1, 1] - s[0, 1]) for s in seg])
            out[c.get_label()] = (np.asarray(x, float), np.asarray(y, float), err)
    return out


def check_metric_figure(fig: Figure, d_env: pd.DataFrame, col: str, ylabel: str,
                        ci: tuple[str, str] | str) -> None:
    """One panel vs SNR: labelled axes with units, one line per estimator whose
    points are the table's finite values, error bars spanning the 95% CI."""
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_xlabel() == "SNR [dB]" and ax.get_ylabel() == ylabel
    assert f"n = {int(d_env.n_samples.max())} samples" in ax.get_title()
    lines = lines_of(ax)
    for est, d in d_env.groupby("estimator"):
        d = d.sort_values("snr_db")
        finite = np.isfinite(d[col].to_numpy(float))
        if not finite.any():
            assert est not in lines
            assert any(t.get_text().startswith(f"{est}:") for t in ax.get_legend().get_texts())
            continue
        x, y, err = lines[est]
        np.testing.assert_allclose(x, d.snr_db[finite])
        np.testing.assert_allclose(y, d[col][finite])
        width = (d[ci[1]] - d[ci[0]] if isinstance(ci, tuple) else 2 * d[ci])[finite].to_numpy(float)
        np.testing.assert_allclose(err, width, rtol=1e-6)
