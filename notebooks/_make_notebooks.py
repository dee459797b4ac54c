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


def load_results(name: str, folder: str, environments: int | None = None,
                 snr_db: list[float] | None = None) -> pd.DataFrame:
    """Results of scenarios/<name>.yaml from ROOT/<folder>/<name> (or $SIMLINK_RESULTS);
    without them, or with SIMLINK_NOTEBOOK_SMOKE=1, a --smoke run (of the first
    ``environments`` environments and at ``snr_db``, when given) is made so the
    notebook always executes. `make test` reads the committed results (and makes
    the quickstart's smoke run, whose results are not committed)."""
    out = Path(os.environ.get("SIMLINK_RESULTS", ROOT / folder / name))
    if os.environ.get("SIMLINK_NOTEBOOK_SMOKE") or not (out / "results.parquet").exists():
        out = Path(tempfile.mkdtemp(prefix=f"{name}-smoke-"))
        scenario = simlink.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        smoke = scenario.smoke.model_copy(update={"snr_db": snr_db or scenario.smoke.snr_db})
        scenario = scenario.model_copy(update={"environments": scenario.environments[:environments],
                                               "smoke": smoke})
        simlink.run(scenario, out=out, smoke=True, quiet=True)
    df = pd.read_parquet(out / "results.parquet")
    df.attrs["folder"] = str(out)          # where its manifest.json is
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


CHECKS = '''def check_common(df: pd.DataFrame) -> list[str]:
    """Claims every results figure makes; raises on the first false one."""
    fin = df[np.isfinite(df.nmse_db)]
    assert ((fin.nmse_db_ci_low <= fin.nmse_db) & (fin.nmse_db <= fin.nmse_db_ci_high)).all(), \\
        "an NMSE confidence interval does not contain its estimate"
    claims = ["every NMSE interval contains its estimate"]
    if (df.estimator == "perfect").any():
        keys = [k for k in ("environment", "snr_db", "link") if df[k].notna().any()]
        for key, d in df.groupby(keys, dropna=False):
            top = d[d.estimator == "perfect"].iloc[0]
            slack = top.rate_ci95 + d.rate_ci95
            worse = d[d.rate_bps_hz > top.rate_bps_hz + slack]
            assert worse.empty, f"{key}: {list(worse.estimator)} beat perfect CSI's rate beyond the CIs"
        claims.append("perfect CSI tops the effective rate at every point (within the 95% CIs)")
    return claims'''


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
    "md:## What the figures claim, checked",
    CHECKS,
    '''claims = check_common(df)
for env, d in df[df.estimator == "ls"].sort_values("snr_db").groupby("environment"):
    assert (np.diff(d.nmse_db) < 0).all(), f"{env}: LS NMSE does not fall with SNR"
claims.append("LS NMSE falls with SNR")
print("\\n".join(claims))''',
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
    '# a smoke stand-in (no committed results, or SIMLINK_NOTEBOOK_SMOKE=1): one environment, one SNR\n'
    'df = load_results("link_cdl", "results", environments=1, snr_db=[5.0])',
    "md:## Block error rate\nBLER from block-error counts; points with zero errors are not drawn on the "
    "log axis. The 95% Wilson intervals are in the table (`bler_ci_low`, `bler_ci_high`).",
    link_curves("bler", "BLER", log=True),
    "md:## Goodput\n`(1 - rho) x` correctly decoded information bits per resource element, minus "
    "the feedback payload per CSI period: the column that compares estimation and feedback on "
    "equal terms.",
    link_curves("goodput_bps_hz", "goodput [bit/s/Hz]"),
    "md:## MCS chosen by link adaptation\nMean 38.214 MCS index of the counted slots (NaN, so "
    "not drawn, at a fixed MCS): with the outer loop holding every method at its BLER target, "
    "what CSI quality buys shows here.",
    link_curves("mcs_index", "mean MCS index"),
    '''cols = ["environment", "link", "estimator", "snr_db", "bler", "bler_ci_low", "bler_ci_high",
        "goodput_bps_hz", "mcs_index", "blocks", "n_samples"]
df[cols].round(4)''',
    "md:## What the figures claim, checked",
    CHECKS,
    '''claims = check_common(df)
assert ((df.bler_ci_low <= df.bler) & (df.bler <= df.bler_ci_high)).all(), "a BLER interval misses its BLER"
from simlink.link.chain import peak_bits_per_symbol
scen = simlink.load_scenario(ROOT / "scenarios" / "link_cdl.yaml")
peak = {l.label: peak_bits_per_symbol(l) for l in scen.links}
assert all(row.goodput_bps_hz <= peak[row.link] + 1e-9 for row in df.itertuples()), \\
    "goodput above the modulation and coding's information bits per resource element"
claims += ["every BLER interval contains its BLER",
           "goodput never exceeds the top MCS's bits per symbol x code rate"]
from simlink.campaign.report import ordering
full = df.n_samples.min() >= 1000          # the committed run, not a smoke stand-in
for better, worse in [("lmmse", "ls"), ("perfect", "lmmse")]:
    o = ordering(df, better, worse)
    differ = o["wins"] + o["losses"]
    line = f"{better} beats {worse} on goodput in {o['wins']} of {differ} differing cells ({o['ties']} ties of {o['cells']})"
    if full:
        assert o["wins"] >= 0.8 * differ and o["ties"] <= o["cells"] / 3, line
    claims.append(line + ("" if full else " (smoke run: not asserted)"))
print("\\n".join(claims))''',
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
    "CDL-D), the same gain with balanced training, and at the lowest pilot density (the paper: "
    "7.5 dB). `+-` is a 95% interval: the two NMSE intervals of the results table combined as if "
    "independent, which is conservative here (both estimators see the same channels and noise, so "
    "their errors are positively correlated). It covers the test draws of these trained models, "
    "not the spread between training runs (README: re-training the same budget moved the "
    "data-scarce gain by 3 dB).",
    '''def gain(df, by):
    t = df.set_index(["estimator", "environment", by])
    half = (t.nmse_db_ci_high - t.nmse_db_ci_low) / 2
    g = (t.nmse_db["standard_dm"] - t.nmse_db["dmvb"]).round(1).astype(str)
    pm = np.hypot(half["standard_dm"], half["dmvb"]).round(1).astype(str)
    return (g + " +- " + pm).unstack(by)
alpha = density.pilot_density.min()
pd.concat({"scarce": gain(scarce, "snr_db"), "balanced": gain(balanced, "snr_db"),
           f"scarce, alpha = {alpha:g}, 10 dB": gain(density[density.pilot_density == alpha], "snr_db")})''',
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
    "md:## Training to a plateau: is the training budget what holds the experts back?\n"
    "`scenarios/dmvb_convergence.yaml`: the CDL-C and CDL-D experts trained the budget of the runs "
    "above (1,500 Adam steps on a cosine-decayed rate) and trained until their held-out denoising "
    "loss stops improving (10% of the samples held out, evaluated every 500 steps, at most "
    "20,000 steps), each used alone as the genie DM's prior (DM-VB's bound once it picks the "
    "right expert), next to LASSO, 512 test samples per point. First the held-out loss curves "
    "(the vertical line marks the step whose weights were kept).",
    '''import json
conv = load_results("dmvb_convergence", "results", environments=1, snr_db=[10.0])
fits = json.loads((Path(conv.attrs["folder"]) / "manifest.json").read_text())["weights"]
history = next(f["history"] for f in fits if f["estimator"] == "genie_dm")
envs = sorted(conv.environment.unique())
fig, ax = plt.subplots(figsize=(6.5, 4))
for env, steps, loss, best in zip(envs, history["val_steps"], history["val_loss"], history["best_step"]):
    line, = ax.plot(steps, loss, marker=".", label=f"{env} expert (best at step {best})")
    ax.axvline(best, color=line.get_color(), ls=":")
ax.set(xlabel="Adam steps", ylabel="held-out denoising loss (MSE per entry)",
       title="DM-VB experts trained to a plateau")
ax.grid(alpha=0.3)
ax.legend()
plt.tight_layout()''',
    "md:NMSE [dB] of the genie DM with the 1,500-step and the plateau-trained experts, LASSO and "
    "the global LMMSE; `gain` is what training to the plateau bought (95% CI of the NMSE in the "
    "results table).",
    '''nmse = conv.pivot_table(index=["environment", "snr_db"], columns="estimator", values="nmse_db")
nmse["gain"] = nmse["genie_dm-1500"] - nmse["genie_dm"]
nmse["plateau - lasso"] = nmse["genie_dm"] - nmse["lasso"]
nmse.round(2)''',
    "md:## What the figures claim, checked",
    CHECKS,
    '''claims = [check_common(frame)[0] for frame in (balanced, scarce, density)][:1]
alphas = sorted(density.pilot_density.unique())
assert len(alphas) > 1, "the density run swept no pilot density"
for (env, est), d in density.groupby(["environment", "estimator"]):
    assert sorted(d.pilot_density) == alphas, f"{env}/{est}: not one point per pilot density"
claims.append("the density figure has one point per estimator and pilot density")
for frame in (balanced, scarce):
    acc = frame.set_index("estimator").expert_accuracy
    assert acc.drop("dmvb").isna().all() and acc["dmvb"].between(0, 1).all()
claims.append("expert accuracy is reported for DM-VB alone")
assert len(history["val_loss"]) == conv.environment.nunique()
for steps, loss, best in zip(history["val_steps"], history["val_loss"], history["best_step"]):
    assert best == steps[int(np.argmin(loss))] and steps == sorted(steps)
claims.append("each plateau-trained expert kept the weights of its lowest held-out loss")
print("\\n".join(claims))''',
])

write("04_lora_feedback.ipynb", [
    "md:# Compressed CSI feedback: LORA, its baselines and the 3GPP codebooks\n\n"
    "Reads the runs of `scenarios/lora_feedback.yaml` (RMa, UMa and UMi NLOS, 32-port "
    "cross-polarised UPA, Nc = 32 delay taps of 1,024 subcarriers, the UE knowing its DL channel) "
    "and `scenarios/lora_feedback_ablation.yaml` (RMa NLOS, CR 1/16: quantisers, joint against "
    "post-hoc quantiser training, decoder size), `scenarios/lora_feedback_baselines.yaml` (the learned "
    "methods at one training budget) and `scenarios/lora_feedback_link.yaml` (goodput through the "
    "coded link), and draws the shapes of the LORA paper's "
    "Figs. 7-11 and Table III. The networks were trained on a CPU budget (2,000 channels, 1,500 "
    "Adam steps; see the scenario files), far less than the paper's 40,000 channels and 1,000 epochs. "
    "Without committed results, or with `SIMLINK_NOTEBOOK_SMOKE=1`, smoke "
    "runs of the first environment with one estimator per kind stand in, so the notebook always executes.",
    SETUP,
    '''def load_feedback(name: str, kinds: tuple[str, ...] | None = None) -> tuple[pd.DataFrame, dict]:
    """Results of scenarios/<name>.yaml and its estimator entries by name. A smoke
    run keeps the first environment and the first estimator of every kind (of
    ``kinds`` only, when given)."""
    scen = simlink.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    entries = {e.name: e for e in scen.estimators}
    if not (os.environ.get("SIMLINK_NOTEBOOK_SMOKE")
            or not (ROOT / "results" / name / "results.parquet").exists()):
        return load_results(name, "results"), entries
    firsts = [e for e in list({e.kind: e for e in reversed(scen.estimators)}.values())[::-1]
              if kinds is None or e.kind in kinds]
    small = scen.model_copy(update={"environments": scen.environments[:1], "estimators": firsts})
    out = Path(tempfile.mkdtemp(prefix=f"{name}-smoke-"))
    df = simlink.run(small, out=out, smoke=True, quiet=True)
    df.attrs["folder"] = str(out)          # where its manifest.json is, as load_results does
    print(out, len(df), "rows (smoke)")
    return df, entries


main, main_entries = load_feedback("lora_feedback")
ablation, ablation_entries = load_feedback("lora_feedback_ablation")
for frame, entries in ((main, main_entries), (ablation, ablation_entries)):
    frame["kind"] = frame.estimator.map(lambda n: entries[n].kind)
    frame["cr"] = frame.estimator.map(lambda n: getattr(entries[n], "cr", np.nan))''',
    "md:## NMSE versus compression ratio (Fig. 7)\nOne panel per scenario; `M = CR x 2 Nc Nt` "
    "codeword entries of 4 bits each. Error bars: 95% confidence intervals.",
    '''compressed = main[main.cr.notna()]
envs = sorted(compressed.environment.unique())
fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
for ax, env in zip(axes[0], envs):
    for kind, sub in compressed[compressed.environment == env].sort_values("cr").groupby("kind"):
        err = np.abs(np.stack([sub.nmse_db - sub.nmse_db_ci_low, sub.nmse_db_ci_high - sub.nmse_db]))
        ax.errorbar(sub.cr, sub.nmse_db, yerr=err, marker="o", capsize=3, label=kind)
    n = int(compressed[compressed.environment == env].n_samples.max())
    ax.set(title=f"{env} ({n} test channels)", xscale="log", xlabel="compression ratio CR",
           ylabel="NMSE [dB]")
    ax.set_xscale("log", base=2)
    ax.grid(alpha=0.3)
    ax.legend()
plt.tight_layout()''',
    "md:## Every method on the same channels\nNMSE [dB], feedback bits per report and effective "
    "rate [bit/s/Hz] at 20 dB (LAD-CKM eq. 11: beams chosen on the estimate, rate on the true channel).",
    '''pd.concat([main.pivot_table(index="estimator", columns="environment", values="nmse_db",
                             sort=False).round(1).add_prefix("NMSE [dB] "),
           main.pivot_table(index="estimator", columns="environment", values="rate_bps_hz",
                            sort=False).round(2).add_prefix("rate "),
           main.groupby("estimator", sort=False).feedback_bits.first()], axis=1)''',
    "md:## Effective rate versus feedback payload\nWhat none of the papers show: the rate each "
    "report buys, for the learned methods, the KLT, ISTA and the Type-I / Type-II codebooks, on "
    "the same channels (perfect CSI as the ceiling); the goodput through the coded link follows below.",
    '''fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
for ax, env in zip(axes[0], envs):
    sub = main[main.environment == env]
    ceiling = sub[sub.kind == "perfect"].rate_bps_hz
    if len(ceiling):
        ax.axhline(float(ceiling.iloc[0]), color="k", ls="--", label="perfect CSI")
    for kind, s in sub[sub.feedback_bits.notna()].sort_values("feedback_bits").groupby("kind"):
        ax.errorbar(s.feedback_bits, s.rate_bps_hz, yerr=s.rate_ci95, marker="o", capsize=3, label=kind)
    ax.set(title=f"{env}, 20 dB (95% CI)", xscale="log", xlabel="feedback bits per report",
           ylabel="effective rate [bit/s/Hz]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
plt.tight_layout()''',
    "md:## Goodput versus feedback payload, through the coded link\n`scenarios/lora_feedback_link.yaml`: "
    "RMa NLOS on 96 subcarriers, every method from the UE's LS estimate on the CSI-RS, OLLA link "
    "adaptation at 10% BLER; goodput pays each report's bits against one CSI period "
    "(`feedback_bits / 5,376` bit/s/Hz). Left: effective rate (no payload charged); right: goodput.",
    '''linked, linked_entries = load_feedback("lora_feedback_link", kinds=("perfect", "codebook", "lora_fb"))
linked["kind"] = [linked_entries[n].kind for n in linked.estimator]
snrs = sorted(linked.snr_db.unique())
fig, axes = plt.subplots(len(snrs), 2, figsize=(11, 4 * len(snrs)), squeeze=False)
for row, snr in zip(axes, snrs):
    sub = linked[linked.snr_db == snr]
    for ax, col, ylabel in zip(row, ("rate_bps_hz", "goodput_bps_hz"),
                               ("effective rate [bit/s/Hz]", "goodput [bit/s/Hz]")):
        ceiling = sub[sub.kind == "perfect"][col]
        if len(ceiling):
            ax.axhline(float(ceiling.iloc[0]), color="k", ls="--", label="perfect CSI")
        for kind, s in sub[sub.feedback_bits.notna()].sort_values("feedback_bits").groupby("kind"):
            ax.plot(s.feedback_bits, s[col], marker="o", label=kind)
        ax.set(title=f"{sub.environment.iloc[0]}, {snr:g} dB", xscale="log",
               xlabel="feedback bits per report", ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
plt.tight_layout()
linked[["estimator", "snr_db", "feedback_bits", "nmse_db", "rate_bps_hz", "mcs_index", "bler",
        "goodput_bps_hz"]].round(3)''',
    "md:## The learned methods at one training budget\n`scenarios/lora_feedback_baselines.yaml`: "
    "RMa NLOS, CR 1/16, 4-bit LSZQ on every codeword (512 bits per report), every learned method "
    "trained the same 1,000 Adam steps of 100 on the same 2,000 channels (in the run above "
    "CsiNet+ and ISTA-Net+ had half of LORA's steps), next to the KLT and ISTA. Training time "
    "from the run's manifest (2 CPU cores).",
    '''import json
equal, equal_entries = load_feedback("lora_feedback_baselines", kinds=("perfect", "klt", "crnet"))
equal["kind"] = equal.estimator.map(lambda n: equal_entries[n].kind)
fits = json.loads((Path(equal.attrs["folder"]) / "manifest.json").read_text())["weights"]
fit_s = pd.Series({f["estimator"]: f["fit_s"] for f in fits}, name="fit [s]")
coded = equal[equal.feedback_bits.notna()].set_index("estimator")
err = np.abs(np.stack([coded.nmse_db - coded.nmse_db_ci_low, coded.nmse_db_ci_high - coded.nmse_db]))
fig, ax = plt.subplots(figsize=(7, 4))
ax.errorbar(np.arange(len(coded)), coded.nmse_db, yerr=err, fmt="o", capsize=4)
ax.set_xticks(np.arange(len(coded)), coded.index, rotation=30, ha="right")
ax.set(ylabel="NMSE [dB]", title=f"{coded.environment.iloc[0]}, {int(coded.feedback_bits.iloc[0])} bits "
       f"per report, 1,000 steps each (95% CI)")
ax.grid(alpha=0.3)
plt.tight_layout()
pd.concat([coded[["nmse_db", "nmse_db_ci_low", "nmse_db_ci_high", "rate_bps_hz", "params"]],
           fit_s.reindex(coded.index)], axis=1).round(2)''',
    "md:## Quantisers (Figs. 9-10): QAT, LSQ, LSZQ at 4 and 8 bits\nLORA at CR 1/16 on RMa NLOS, "
    "the KLT with Gaussian-optimal quantisers at the same payload for reference.",
    '''def settings(names):
    rows = []
    for name in names:
        e = ablation_entries[name]
        row = ablation[ablation.estimator == name]
        if len(row):
            rows.append({"estimator": name, "kind": e.kind, "bits": e.bits,
                         "quantizer": getattr(e, "quantizer", "gaussian-optimal"),
                         "training": getattr(e, "quantizer_training", "-"),
                         "blocks x width": f"{getattr(e, 'n_blocks', '-')} x {getattr(e, 'width', '-')}",
                         "nmse_db": float(row.nmse_db.iloc[0]),
                         "feedback_bits": float(row.feedback_bits.iloc[0])})
    return pd.DataFrame(rows)


table = settings(ablation_entries)
quant = table[table.training.isin(["joint", "-"]) & table["blocks x width"].isin(["4 x 256", "- x -"])]
fig, ax = plt.subplots(figsize=(6, 4))
for q, sub in quant.groupby("quantizer"):
    ax.plot(sub.bits, sub.nmse_db, marker="o", label=q)
ax.set(xlabel="bits per codeword entry", ylabel="NMSE [dB]", title="RMa NLOS, CR 1/16")
ax.set_xticks(sorted(quant.bits.unique()))
ax.grid(alpha=0.3)
ax.legend()
quant.round(2)''',
    "md:## Joint against post-hoc quantiser training (Fig. 11)",
    '''table[table.quantizer.isin(["lsq", "lszq"]) & (table.bits == 4)
      & (table["blocks x width"] == "4 x 256")].round(2)''',
    "md:## Decoder size: blocks x MLP width (Table III)",
    '''table[(table.kind == "lora_fb") & (table.quantizer == "lszq") & (table.bits == 4)
      & (table.training == "joint")].pivot_table(index="blocks x width", values="nmse_db").round(2)''',
    "md:## What the figures claim, checked",
    CHECKS,
    '''claims = check_common(main) + check_common(ablation)[1:]
system = simlink.load_scenario(ROOT / "scenarios" / "lora_feedback.yaml").system
for frame, entries in ((main, main_entries), (ablation, ablation_entries)):
    for row in frame[frame.cr.notna()].itertuples():
        e = entries[row.estimator]
        m = round(e.cr * 2 * e.n_taps * system.n_bs)
        assert row.feedback_bits == system.n_ue * m * e.bits, f"{row.estimator}: payload is not M x B bits"
claims.append("every compressed report is n_ue x M x B bits")
# the KLT is the closed-form linear code: more entries can only lower its error
for env, d in main[main.kind == "klt"].sort_values("cr").groupby("environment"):
    assert (np.diff(d.nmse_db) < 0).all(), f"{env}: KLT NMSE does not fall as CR grows"
claims.append("KLT NMSE falls as the compression ratio grows")
from simlink.link.chain import peak_bits_per_symbol
link_scen = simlink.load_scenario(ROOT / "scenarios" / "lora_feedback_link.yaml")
fb_re = link_scen.system.pilots.period_symbols * link_scen.system.n_subcarriers_dl
for row in linked.itertuples():
    paid = 0.0 if np.isnan(row.feedback_bits) else row.feedback_bits / fb_re
    assert row.goodput_bps_hz <= peak_bits_per_symbol(link_scen.links[0]) - paid + 1e-9, row.estimator
    assert abs(row.bler - link_scen.links[0].bler_target) < 0.1 or row.n_samples < 500, \\
        f"{row.estimator}: OLLA missed its BLER target ({row.bler:.3f})"
claims.append("goodput never exceeds the top MCS minus the report's payload; OLLA holds every method near 10% BLER")
for row in equal[equal.feedback_bits.notna()].itertuples():
    assert row.feedback_bits == 512, f"{row.estimator}: not the 512-bit payload of the equal-budget run"
# the same LORA (config, channels, steps) in both runs: its NMSE must agree within the intervals
both = [f[(f.estimator == "lora-cr1/16") & (f.environment == "rma-nlos")] for f in (main, equal)]
if all(len(b) for b in both):
    a, b = (x.iloc[0] for x in both)
    assert a.nmse_db_ci_low <= b.nmse_db_ci_high and b.nmse_db_ci_low <= a.nmse_db_ci_high, \\
        "LORA in the equal-budget run disagrees with the same LORA in lora_feedback"
    claims.append("the equal-budget run's LORA reproduces lora_feedback's (overlapping 95% CIs)")
claims.append("every learned method of the equal-budget run sends the same 512 bits")
print("\\n".join(claims))''',
])
