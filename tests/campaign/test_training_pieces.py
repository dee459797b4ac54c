"""Training in pieces: `simlink train --budget` pauses at a checkpoint in the
weights store, and a later call on a fresh machine (an empty cache) continues
from the store to the weights of one uninterrupted training."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml

from simlink.campaign.weights import INDEX, StoreIndex, fit_file, listing
from simlink.cli import main
from simlink.fileio import load_state
from simlink.nn import train as loop

#: a learned feedback pair trained in two stages (network, then quantiser) and
#: one with batch normalisation (statistics that change in a step without being
#: trained); passes of 4 batches of 32
PIECES = {
    "name": "pieces",
    "seed": 5,
    "system": {"fc_ul_hz": 3.5e9, "fc_dl_hz": 3.62e9, "n_subcarriers_ul": 8, "n_subcarriers_dl": 32,
               "bs_array": {"kind": "ula", "n": 8}, "ue_array": {"kind": "ula", "n": 1},
               "pilots": {"comb": 4, "period_symbols": 14}},
    "environments": [{"name": "g", "kind": "gaussian", "bs_correlation": 0.8}],
    "estimators": [
        {"name": "lora-post", "kind": "lora_fb", "n_taps": 8, "cr": 0.25, "bits": 4, "n_blocks": 2,
         "width": 16, "train_steps": 6, "post_steps": 6, "quantizer": "lsq",
         "quantizer_training": "post", "batch_size": 32, "eval_every": 5},
        {"name": "csinet", "kind": "csinet_plus", "n_taps": 8, "cr": 0.25, "bits": 4,
         "train_steps": 10, "batch_size": 32, "eval_every": 5},
    ],
    "sweep": {"snr_db": [10], "n_test": 8, "n_train": 144, "chunk": 8},
}


def weights(cache) -> dict[str, dict[str, np.ndarray]]:
    return {p.stem: load_state(p) for p in (cache / "weights").glob("*.npz")}


def test_a_budget_splits_training_across_fresh_machines_into_the_uninterrupted_weights(
        tmp_path, monkeypatch, capsys):
    path = tmp_path / "pieces.yaml"
    path.write_text(yaml.safe_dump(PIECES))
    monkeypatch.setenv("SIMLINK_CACHE", str(tmp_path / "whole"))
    assert main(["train", str(path), "--quiet"]) == 0
    whole = weights(tmp_path / "whole")
    assert len(whole) == 2

    store = tmp_path / "store"
    monkeypatch.setenv("SIMLINK_STORE", str(store))
    pieces = paused = 0
    while True:
        # every piece on a fresh machine, whose budget is spent at the third look
        cache = tmp_path / f"machine{pieces}"
        monkeypatch.setenv("SIMLINK_CACHE", str(cache))
        looks = itertools.count()
        monkeypatch.setattr(loop, "budget_spent", lambda: next(looks) >= 2)
        capsys.readouterr()
        assert main(["train", str(path), "--budget", "30"]) == 0
        out, err = capsys.readouterr()
        pieces += 1
        if "unfinished" not in err:
            break
        assert f"Continue with:\n  simlink train {path} --budget 30" in err
        assert "paused" in out or "not started" in out
        paused += "paused" in out
        assert any(name.endswith(".checkpoint.npz") for name in listing(store)) == ("paused" in out)
        assert pieces < 20
    assert paused >= 2, "the budget should have split the trainings"
    assert "trained" in out and "paused" not in out
    # the last piece's fits came from the store or were trained in that piece
    assert listing(store) == {fit_file(k) for k in whole}, "checkpoints are gone once the weights are in"
    for key, state in whole.items():
        resumed = load_state(store / fit_file(key))
        assert resumed.keys() == state.keys()
        for name, w in state.items():
            np.testing.assert_array_equal(resumed[name], w, err_msg=f"{key}/{name}")
    index = StoreIndex(store)
    assert index.scenarios["pieces"]["complete"] and not index.pending
    assert set(index.fits) == set(whole) and (store / INDEX).is_file()

    # a fresh machine now trains nothing, and the store is what it reads
    monkeypatch.setenv("SIMLINK_CACHE", str(tmp_path / "fresh"))
    monkeypatch.setattr(loop, "budget_spent", lambda: False)
    capsys.readouterr()
    assert main(["train", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert len(lines) == 2 and all("cached" in ln and "from the store" in ln for ln in lines)


def test_a_budget_must_be_positive(tmp_path, capsys):
    path = tmp_path / "pieces.yaml"
    path.write_text(yaml.safe_dump(PIECES))
    assert main(["train", str(path), "--budget", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --budget: must be a positive number of minutes, got 0.0"


@pytest.mark.fast
def test_budget_blocks_nest_and_end():
    assert not loop.budget_spent()
    with loop.budget(3600):
        assert not loop.budget_spent()
        with loop.budget(0):
            assert loop.budget_spent()
        assert not loop.budget_spent()
    assert not loop.budget_spent()
