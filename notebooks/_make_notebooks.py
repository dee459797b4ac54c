"""Writes the analysis notebooks (kept as code so diffs stay readable).

Run: .venv/bin/python notebooks/_make_notebooks.py
"""
from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).parent

SETUP = '''import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import simlink

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()


def load_results(name: str, folder: str) -> pd.DataFrame:
    """Results of scenarios/<name>.yaml from ROOT/<folder>/<name> (or $SIMLINK_RESULTS);
    without them, or with SIMLINK_NOTEBOOK_SMOKE=1 (as `make test` sets), a --smoke
    run is made so the notebook always executes."""
    out = Path(os.environ.get("SIMLINK_RESULTS", ROOT / folder / name))
    if os.environ.get("SIMLINK_NOTEBOOK_SMOKE") or not (out / "results.parquet").exists():
        out = Path(tempfile.mkdtemp(prefix=f"{name}-smoke-"))
        simlink.run(simlink.load_scenario(ROOT / "scenarios" / f"{name}.yaml"), out=out,
                    smoke=True, quiet=True)
    df = pd.read_parquet(out / "results.parquet")
    print(out, len(df), "rows")
    return df'''


def curves(metric: str, ylabel: str, low: str | None = None, high: str | None = None,
           half: str | None = None, frame: str = "df") -> str:
    """A cell plotting ``metric`` vs SNR per environment, one line per estimator, with 95% CIs."""
    if half:
        err = f"sub['{half}'].to_numpy()"
    else:
        err = f"np.abs(np.stack([sub['{metric}'] - sub['{low}'], sub['{high}'] - sub['{metric}']]))"
    return f'''envs = sorted({frame}.environment.unique())
fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
for ax, env in zip(axes[0], envs):
    for est, sub in {frame}[{frame}.environment == env].sort_values("snr_db").groupby("estimator"):
        if sub["{metric}"].notna().any():
            ax.errorbar(sub.snr_db, sub["{metric}"], yerr={err}, marker="o", capsize=3, label=est)
    n = int({frame}[{frame}.environment == env].n_samples.max())
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
    SETUP,
    'df = load_results("quickstart", "runs")',
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


def link_curves(metric: str, ylabel: str, log: bool = False) -> str:
    """A cell plotting a link-level ``metric`` vs SNR: one panel per environment and
    link configuration, one line per estimator."""
    scale = '\n        ax.set_yscale("log")' if log else ""
    return f'''panels = df[["environment", "link"]].drop_duplicates().values.tolist()
fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.8), squeeze=False)
for ax, (env, link) in zip(axes[0], panels):
    sub_df = df[(df.environment == env) & (df.link == link)]
    for est, sub in sub_df.sort_values("snr_db").groupby("estimator"):
        ax.plot(sub.snr_db, sub["{metric}"], marker="o", label=est){scale}
    ax.set(title=f"{{env}}, {{link}}", xlabel="SNR [dB]", ylabel="{ylabel}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
plt.tight_layout()'''


write("02_link_level.ipynb", [
    "md:# Link-level results: BLER and goodput\n\nReads a `simlink run scenarios/link_cdl.yaml` "
    "folder (`results/link_cdl`, or `$SIMLINK_RESULTS`): LDPC-coded QAM precoded with each "
    "method's CSI through the true CDL channel, detected with the UE's own DMRS estimate.",
    SETUP,
    'df = load_results("link_cdl", "results")',
    "md:## Block error rate\nBLER from block-error counts; points with zero errors are not drawn on the "
    "log axis. The 95% Wilson intervals are in the table (`bler_ci_low`, `bler_ci_high`).",
    link_curves("bler", "BLER", log=True),
    "md:## Goodput\n`(1 - rho) x` correctly decoded information bits per resource element, minus "
    "the feedback payload per CSI period: the column that compares estimation and feedback on "
    "equal terms.",
    link_curves("goodput_bps_hz", "goodput [bit/s/Hz]"),
    '''cols = ["environment", "link", "estimator", "snr_db", "bler", "bler_ci_low", "bler_ci_high",
        "goodput_bps_hz", "blocks", "n_samples"]
df[cols].round(4)''',
])


write("03_dmvb.ipynb", [
    "md:# DM-VB: mixture-of-experts diffusion estimation\n\nReads the runs of "
    "`scenarios/dmvb_cdl.yaml` (balanced training: 10,000 samples per CDL profile), "
    "`scenarios/dmvb_cdl_scarce.yaml` (CDL-D with 1,000) and `scenarios/dmvb_cdl_density.yaml` "
    "(the data-scarce models at 10 dB over pilot densities), 64x16 ULAs, 40 GHz, flat pilot model "
    "with pilot density 1/2, and draws the shapes of the paper's Figs. 4-6. The diffusion models "
    "were trained on a CPU budget (1,500 Adam steps of 32 samples each, see the scenario files), "
    "far less than the paper's.",
    SETUP,
    'balanced = load_results("dmvb_cdl", "results")\nscarce = load_results("dmvb_cdl_scarce", "results")\n'
    'density = load_results("dmvb_cdl_density", "results")',
    "md:## NMSE versus SNR per CDL profile (balanced training, Fig. 4)",
    curves("nmse_db", "NMSE [dB]", low="nmse_db_ci_low", high="nmse_db_ci_high", frame="balanced"),
    "md:## NMSE versus SNR with data-scarce CDL-D (Fig. 5)",
    curves("nmse_db", "NMSE [dB]", low="nmse_db_ci_low", high="nmse_db_ci_high", frame="scarce"),
    "md:## Data-scarce profile: DM-VB against one standard DM\nGain of DM-VB over `standard_dm` "
    "[dB] on each profile when CDL-D has only 1,000 training samples (the paper reports about 5 dB on "
    "CDL-D), and the same gain with balanced training.",
    '''def gain(df):
    nmse = df.set_index(["estimator", "environment", "snr_db"]).nmse_db
    return (nmse["standard_dm"] - nmse["dmvb"]).unstack("snr_db").round(1)
pd.concat({"scarce": gain(scarce), "balanced": gain(balanced)})''',
    "md:## NMSE versus pilot density (Fig. 6)\n`alpha = Np / Nt` pilot symbols per BS antenna, "
    "10 dB SNR, data-scarce models.",
    '''envs = sorted(density.environment.unique())
fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
for ax, env in zip(axes[0], envs):
    for est, sub in density[density.environment == env].sort_values("pilot_density").groupby("estimator"):
        err = np.abs(np.stack([sub.nmse_db - sub.nmse_db_ci_low, sub.nmse_db_ci_high - sub.nmse_db]))
        ax.errorbar(sub.pilot_density, sub.nmse_db, yerr=err, marker="o", capsize=3, label=est)
    ax.set(title=f"{env}, {density.snr_db.iloc[0]:g} dB SNR (95% CI)", xscale="log",
           xlabel="pilot density alpha = Np / Nt", ylabel="NMSE [dB]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
plt.tight_layout()''',
    "md:## How often the right expert wins\n`expert_accuracy`: share of test samples whose "
    "largest posterior weight `phi` is the true profile's expert.",
    '''pd.concat({"balanced": balanced, "scarce": scarce}).query("estimator == 'dmvb'")\\
    .pivot_table(index="environment", columns="snr_db", values="expert_accuracy").round(2)''',
])
