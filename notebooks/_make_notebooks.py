"""Writes the analysis notebooks (kept as code so diffs stay readable).

Run: .venv/bin/python notebooks/_make_notebooks.py
"""
from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent

LOCATE = '''import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import simlink

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
SCENARIO = ROOT / "scenarios" / "{scenario}.yaml"
# A finished campaign folder; without one, a --smoke run is made so the notebook always executes.
RESULTS = Path(os.environ.get("SIMLINK_RESULTS", ROOT / "runs" / "{scenario}"))
if not (RESULTS / "results.parquet").exists():
    RESULTS = ROOT / "runs" / "{scenario}-smoke"
    if not (RESULTS / "results.parquet").exists():
        simlink.run(simlink.load_scenario(SCENARIO), out=RESULTS, smoke=True, quiet=True, resume=True)
df = pd.read_parquet(RESULTS / "results.parquet")
print(RESULTS, len(df), "rows")'''


def curves(metric: str, ylabel: str, low: str | None = None, high: str | None = None,
           half: str | None = None) -> str:
    """A cell plotting ``metric`` vs SNR per environment, one line per estimator, with 95% CIs."""
    if half:
        err = f"sub['{half}'].to_numpy()"
    else:
        err = f"np.abs(np.stack([sub['{metric}'] - sub['{low}'], sub['{high}'] - sub['{metric}']]))"
    return f'''envs = sorted(df.environment.unique())
fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
for ax, env in zip(axes[0], envs):
    for est, sub in df[df.environment == env].sort_values("snr_db").groupby("estimator"):
        if sub["{metric}"].notna().any():
            ax.errorbar(sub.snr_db, sub["{metric}"], yerr={err}, marker="o", capsize=3, label=est)
    n = int(df[df.environment == env].n_samples.max())
    ax.set(title=f"{{env}} ({{n}} samples per point, 95% CI)", xlabel="SNR [dB]", ylabel="{ylabel}")
    ax.grid(alpha=0.3)
    ax.legend()
plt.tight_layout()'''


def write(name: str, cells: list) -> None:
    nb = nbf.v4.new_notebook()
    nb.cells = [nbf.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbf.v4.new_code_cell(c)
                for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbf.write(nb, HERE / name)


write("01_quickstart.ipynb", [
    "md:# Quickstart results\n\nReads a `simlink run scenarios/quickstart.yaml` results folder "
    "(`runs/quickstart`, or `$SIMLINK_RESULTS`) and plots NMSE and effective rate per environment. "
    "Every point carries its 95% confidence interval.",
    LOCATE.format(scenario="quickstart"),
    "md:## Summary table",
    "df.pivot_table(index=['environment', 'estimator'], columns='snr_db', values='nmse_db').round(1)",
    "md:## NMSE versus SNR\nLS tracks `1/SNR` (slope -10 dB/decade) until interpolation error dominates; "
    "LMMSE with the environment's covariance lies below LS; `no_estimation` is flat: its error is the "
    "UL/DL mismatch of the 120 MHz duplex gap, not noise.",
    curves("nmse_db", "NMSE [dB]", low="nmse_db_ci_low", high="nmse_db_ci_high"),
    "md:## Effective rate versus SNR\nBeams chosen on the estimate over DFT codebooks, rate on the true "
    "channel, times `1 - rho` (pilot overhead). Perfect CSI (no overhead) is the upper bound.",
    curves("rate_bps_hz", "effective rate [bit/s/Hz]", half="rate_ci95"),
    "md:## Sanity checks a reader can see",
    '''best = df.loc[df.groupby(["environment", "snr_db"]).rate_bps_hz.idxmax(), ["environment", "snr_db", "estimator"]]
print("highest mean rate per point:\\n", best.estimator.value_counts().to_string())
fb = df.groupby("estimator").feedback_bits.first()
print("feedback payload [bits/report]:\\n", fb.to_string())''',
])
