"""The pilot-density sweep dimension (``sweep.pilot_density``, dense pilots only):
grid, seeds, table, plots, report and validation."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from simlink.campaign import run
from simlink.campaign.cells import CellTask, derive_seed, effective_scenario, make_grid, observe
from simlink.campaign.plots import DENSITY_FIGURE
from simlink.campaign.report import report
from simlink.campaign.store import columns, table_density
from simlink.cli import main
from simlink.config import parse_scenario
from simlink.hashing import stable_hash
from simlink.system import with_density

from plot_checks import figures_of, lines_of

DENSITIES = [0.25, 1.0]
DENSE = {
    "name": "dense",
    "seed": 5,
    "system": {"fc_ul_hz": 3.5e9, "fc_dl_hz": 3.6e9, "n_subcarriers_ul": 1, "n_subcarriers_dl": 1,
               "bs_array": {"kind": "ula", "n": 8}, "ue_array": {"kind": "ula", "n": 4},
               "pilots": {"mode": "dense", "density": 0.25}},
    "environments": [{"name": "gauss", "kind": "gaussian", "bs_correlation": 0.8}],
    "estimators": [{"name": "lmmse", "kind": "lmmse", "covariance": "global", "domain": "full"},
                   {"name": "rls", "kind": "rls"}],
    "sweep": {"snr_db": [0, 10], "n_test": 64, "n_train": 256, "chunk": 32,
              "pilot_density": DENSITIES},
}


def dense_scenario(**sweep):
    return parse_scenario({**DENSE, "sweep": {**DENSE["sweep"], **sweep}})


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One run of the density sweep: (scenario, folder, table)."""
    scenario = dense_scenario()
    out = tmp_path_factory.mktemp("density")
    return scenario, out, run(scenario, out, quiet=True)


def test_table_has_a_row_per_density(swept):
    scenario, out, df = swept
    assert list(df.columns) == columns()
    assert len(df) == 1 * 2 * len(DENSITIES) * 2             # env x estimator x density x SNR
    assert sorted(set(df["pilot_density"])) == DENSITIES
    assert (df["n_samples"] == 64).all() and (df["n_cells"] == 2).all()
    for alpha, d in df.groupby("pilot_density"):
        # the overhead is that of the cell's system, not of the scenario's
        assert (d["pilot_overhead"] == with_density(scenario.system, alpha).pilot_overhead).all()
        assert set(d["estimator"]) == {"lmmse", "rls"} and set(d["snr_db"]) == {0.0, 10.0}
        assert np.isfinite(d["nmse_db"]).all()
    cells = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    assert len(cells) == 2 * len(df)
    assert {c["task"]["pilot_density"] for c in cells} == set(DENSITIES)
    assert all(f".a{c['task']['pilot_density']:g}." in c["cell_id"] for c in cells)


def test_more_pilots_never_hurt_the_lmmse(swept):
    _, _, df = swept
    lmmse = df[df.estimator == "lmmse"].set_index(["snr_db", "pilot_density"])["nmse_db"]
    for snr in (0.0, 10.0):
        assert lmmse[(snr, 1.0)] < lmmse[(snr, 0.25)], lmmse.to_dict()


def test_density_figure_and_report(swept, capsys, tmp_path, monkeypatch):
    _, out, df = swept
    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert plots == sorted(["nmse_gauss.png", "rate_gauss.png", DENSITY_FIGURE])
    # the density figure: one panel per SNR, NMSE of every estimator at every density
    fig = figures_of(df, tmp_path, monkeypatch)[DENSITY_FIGURE]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == [f"gauss, SNR = {s:g} dB" for s in sorted(df.snr_db.unique())]
    assert panels[0].get_xlabel().startswith("pilot density") and panels[0].get_ylabel() == "NMSE [dB]"
    for ax, (snr, d_snr) in zip(panels, df.groupby("snr_db")):
        lines = lines_of(ax)
        for est, d in d_snr.groupby("estimator"):
            d = d[np.isfinite(d.nmse_db)].sort_values("pilot_density")
            if len(d):
                np.testing.assert_allclose(lines[est][0], d.pilot_density)
                np.testing.assert_allclose(lines[est][1], d.nmse_db)
    (out / "plots" / DENSITY_FIGURE).unlink()
    report(out)
    assert capsys.readouterr().out.splitlines()[0] == "gauss, pilot density 0.25: NMSE [dB] vs SNR [dB]"
    assert (out / "plots" / DENSITY_FIGURE).is_file()


def test_resume_reuses_every_density_cell(swept, comparable):
    scenario, out, df = swept
    again = run(scenario, out, resume=True, quiet=True)
    assert json.loads((out / "manifest.json").read_text())["cells_reused"] == 2 * len(df)
    pd.testing.assert_frame_equal(comparable(again), comparable(df))


def test_dense_pilots_without_a_sweep(tmp_path):
    """The column holds the system's density; no density figure for one density."""
    scenario = parse_scenario({**DENSE, "sweep": {k: v for k, v in DENSE["sweep"].items()
                                                  if k != "pilot_density"}})
    assert {t.pilot_density for t in make_grid(scenario)} == {None}
    df = run(scenario, tmp_path / "one", quiet=True)
    assert (df["pilot_density"] == 0.25).all() and len(df) == 4
    assert not (tmp_path / "one" / "plots" / DENSITY_FIGURE).exists()


def test_comb_pilots_have_no_density(tiny):
    assert math.isnan(table_density(tiny, make_grid(tiny)[0]))


def test_grid_is_the_product_with_the_densities():
    scenario = dense_scenario()
    grid = make_grid(scenario)
    assert len(grid) == 2 * 1 * len(DENSITIES) * 2 * 2          # chunks x env x density x SNR x estimator
    assert len({t.cell_id for t in grid}) == len(grid)
    assert [t.pilot_density for t in grid[:8]] == [0.25] * 4 + [1.0] * 4
    for t in grid:
        system = t.system(scenario)
        assert system.pilots.density == t.pilot_density
        assert system.n_pilot_symbols == round(t.pilot_density * 8)
        assert t.system(scenario).model_copy(update={"pilots": scenario.system.pilots}) == scenario.system


def test_observation_carries_the_cell_system():
    scenario = dense_scenario()
    rng = np.random.default_rng(0)
    H = (rng.standard_normal((3, 8, 4, 1)) + 1j * rng.standard_normal((3, 8, 4, 1))).astype(np.complex64)
    for alpha, n_p in ((0.25, 2), (1.0, 8)):
        task = CellTask("gauss", 0, "lmmse", 10.0, 0, 0, 3, alpha)
        obs = observe(task, frozenset({"dl_pilots"}), H, H, scenario)
        assert obs.system.pilots.density == alpha and obs.system.n_pilot_symbols == n_p
        assert obs.y_pilots.shape == (3, 1, 4, n_p, 1)


# ---------------------------------------------------------------- unchanged without a density
def test_cell_without_density_keeps_its_id_and_seeds(tiny, monkeypatch):
    old = CellTask("gauss", 0, "lmmse", 10.0, 2, 32, 48)
    assert old == CellTask("gauss", 0, "lmmse", 10.0, 2, 32, 48, pilot_density=None)
    # pinned from the code before the field existed
    assert old.cell_id == "gauss.lmmse.10dB.c2.15682b6c7d"
    assert derive_seed("estimate", 3, old.cell_id) == 8702085130268172654
    assert "pilot_density" not in old.as_record()           # old cell files stay valid on --resume
    assert old.label == "gauss/lmmse 10dB"
    # the noise seed of observe() is the one it always was
    import simlink.campaign.cells as cells
    seen = []
    monkeypatch.setattr(cells, "derive_seed", lambda *p: seen.append(p) or derive_seed(*p))
    H = np.ones((16, 4, 2, 12), np.complex64)
    observe(old, frozenset({"ul_csi"}), H, H, tiny)
    assert seen == [("noise", 3, "gauss", 10.0, 2)]
    assert derive_seed(*seen[0]) == 8806279707550518920
    with_alpha = CellTask("gauss", 0, "lmmse", 10.0, 2, 32, 48, 0.5)
    assert with_alpha.cell_id != old.cell_id and "alpha=0.5" in with_alpha.label


def test_grid_without_density_is_the_old_grid(tiny):
    grid = make_grid(tiny)
    assert all(t.pilot_density is None for t in grid)
    ids = "".join(t.cell_id for t in grid)
    assert len(grid) == 24 and stable_hash(ids) == stable_hash(
        "".join(f"gauss.{t.estimator}.{t.snr_db:g}dB.c{t.chunk}."
                f"{stable_hash([t.environment, t.estimator, t.snr_db, t.chunk, t.start, t.stop], 10)}"
                for t in grid))
    import hashlib
    assert hashlib.sha256(ids.encode()).hexdigest()[:16] == "16a3ba08b63c6f31"   # pinned


def test_scenario_hash_without_density_is_unchanged(tiny):
    data = tiny.model_dump(mode="json")
    for section in ("sweep", "smoke"):
        assert data[section].pop("pilot_density") is None
    assert data.pop("plugins") == []       # an empty plugin list is not hashed either
    assert tiny.content_hash() == stable_hash(data)
    assert dense_scenario().content_hash() != dense_scenario(pilot_density=[0.25]).content_hash()


# ---------------------------------------------------------------- config
def test_smoke_keeps_or_overrides_the_densities():
    scenario = dense_scenario()
    assert effective_scenario(scenario, smoke=True).sweep.pilot_density == DENSITIES
    smaller = parse_scenario({**DENSE, "smoke": {"pilot_density": [0.5]}})
    assert effective_scenario(smaller, smoke=True).sweep.pilot_density == [0.5]


def _validate(tmp_path, capsys, data) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith(str(path)) and "Traceback" not in line for line in err)
    return err


def test_density_sweep_with_comb_pilots_is_rejected(tiny, tmp_path, capsys):
    data = tiny.model_dump(mode="json", exclude_none=True)
    data["sweep"]["pilot_density"] = [0.5, 1.0]
    err = _validate(tmp_path, capsys, data)
    assert len(err) == 1 and "sweep.pilot_density" in err[0] and "dense" in err[0], err


@pytest.mark.parametrize("densities, fragment", [
    ([0.0], "sweep.pilot_density[0]"),
    ([0.5, 1.5], "sweep.pilot_density[1]"),
    ([], "sweep.pilot_density"),
    ([0.5, 0.5], "sweep.pilot_density"),
])
def test_bad_densities_are_rejected(tmp_path, capsys, densities, fragment):
    err = _validate(tmp_path, capsys, {**DENSE, "sweep": {**DENSE["sweep"], "pilot_density": densities}})
    assert len(err) == 1 and fragment in err[0], err


def test_density_whose_pilots_do_not_fit_is_rejected(tmp_path, capsys):
    system = {**DENSE["system"], "pilots": {"mode": "dense", "density": 0.25, "period_symbols": 4}}
    err = _validate(tmp_path, capsys, {**DENSE, "system": system})
    assert len(err) == 1 and "sweep.pilot_density[1]" in err[0] and "do not fit" in err[0], err


def test_one_lmmse_instance_serves_every_density():
    """Its filter cache is keyed by the system too: estimating at one density,
    then another, gives what a fresh instance gives at the second."""
    from simlink.campaign.data import ensure_splits, training_dataset
    from simlink.estimators import build

    scenario = dense_scenario()
    train = training_dataset(scenario, ensure_splits(scenario, train=True))
    H = train.H_dl[:16]
    used = build(scenario.estimators[0]).fit(train, rng=np.random.default_rng(0))
    for alpha in DENSITIES:
        task = CellTask("gauss", 0, "lmmse", 10.0, 0, 0, 16, alpha)
        obs = observe(task, frozenset({"dl_pilots"}), H, H, scenario)
        fresh = build(scenario.estimators[0]).fit(train, rng=np.random.default_rng(0))
        np.testing.assert_array_equal(used.estimate(obs).H, fresh.estimate(obs).H)
