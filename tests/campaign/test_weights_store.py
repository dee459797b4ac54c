"""The committed weights store (``weights/``): every file is accounted for by
its index and loads into its estimator; every key is one its scenario computes
today (no orphans, no stale keys); a scenario marked complete has all of its
fits there, and a fresh machine running it trains nothing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simlink.campaign.cells import effective_scenario
from simlink.campaign.data import Split, pooled_digest, split_seed
from simlink.campaign.training import fit_keys
from simlink.campaign.weights import INDEX, StoreIndex, fit_file, listing
from simlink.channels.cache import dataset_key
from simlink.config import load_scenario
from simlink.estimators import build
from simlink.fileio import load_state

REPO = Path(__file__).resolve().parents[2]
STORE = REPO / "weights"
INDEXED = StoreIndex(STORE)
#: the stored scenario whose training data are the cheapest to generate (about a minute)
FRESH_CLONE = "dmvb_cdl_scarce"
#: the store's size limit (docs/architecture.md)
LIMIT_MB = 50


def todays_fits(label: str):
    """The scenario file of ``label`` and the fits it computes today, on training
    data of the digests recorded in the index (the keys hash the data's content;
    the dataset config keys recorded beside them must be today's too)."""
    scenario = effective_scenario(load_scenario(REPO / "scenarios" / f"{label}.yaml"))
    recorded = INDEXED.scenarios[label]["datasets"]
    assert set(recorded) == {e.name for e in scenario.environments}
    splits = {}
    for env in scenario.environments:
        n = env.n_train if env.n_train is not None else scenario.sweep.n_train
        seed = split_seed(scenario, env.name, "train")
        assert dataset_key(env, scenario.system, n, seed) == recorded[env.name]["dataset"], \
            f"{label}: the training data of {env.name} changed since its weights were stored"
        splits[env.name] = {"train": Split("", recorded[env.name]["digest"], seed, n)}
    return scenario, fit_keys(scenario, pooled_digest(scenario, splits))[1]


@pytest.mark.fast
def test_the_index_accounts_for_every_file_and_the_store_stays_small():
    assert (STORE / INDEX).is_file()
    assert listing(STORE) == INDEXED.files(), "files in weights/ that index.json does not list, or the reverse"
    size = sum(p.stat().st_size for p in STORE.rglob("*") if p.is_file()) / 1e6
    assert size < LIMIT_MB, f"the weights store holds {size:.1f} MB"
    for users in INDEXED.fits.values():
        assert users and set(users) <= set(INDEXED.scenarios)
    for name, owners in INDEXED.pending.items():
        assert owners and all(not INDEXED.scenarios[o]["complete"] for o in owners), \
            f"{name}: unfinished-training file of a finished scenario"


@pytest.mark.parametrize("label", sorted(INDEXED.scenarios))
def test_stored_weights_load_and_carry_todays_keys(label):
    assert not label.endswith("--smoke"), "smoke weights are not committed"
    scenario, fits = todays_fits(label)
    by_key = {f.key: f for f in fits}
    stored = {k for k, users in INDEXED.fits.items() if label in users}
    assert stored <= set(by_key), f"{label}: stale keys {sorted(stored - set(by_key))}"
    if INDEXED.scenarios[label]["complete"]:
        assert set(by_key) <= stored, f"{label}: fits missing from the store"
    for key in stored:
        state = load_state(STORE / fit_file(key))
        assert state and all(np.all(np.isfinite(v)) for v in state.values()
                             if np.issubdtype(v.dtype, np.floating))
        build(by_key[key].cfg).set_state(state, scenario.system)


@pytest.mark.slow
@pytest.mark.skipif(not INDEXED.scenarios.get(FRESH_CLONE, {}).get("complete"),
                    reason=f"{FRESH_CLONE} is not in the store")
def test_a_fresh_machine_trains_nothing(tmp_path, monkeypatch, capsys):
    """Generates the training data (the only work left) and finds every fit in the store."""
    from simlink.cli import main

    monkeypatch.setenv("SIMLINK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SIMLINK_STORE", str(STORE))
    assert main(["train", str(REPO / "scenarios" / f"{FRESH_CLONE}.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert lines and all(line.split()[2:] == ["cached", "from", "the", "store"] for line in lines)
    assert {p.stem for p in (tmp_path / "cache" / "weights").glob("*.npz")} == {
        k for k, users in INDEXED.fits.items() if FRESH_CLONE in users}
