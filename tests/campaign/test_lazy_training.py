"""The campaign's training data is a lazy view of the cached train splits."""
from __future__ import annotations

import numpy as np

from simlink.channels import load_dataset
from simlink.channels.dataset import Dataset
from simlink.config import parse_scenario


def _two_environments():
    return parse_scenario({
        "name": "lazy", "seed": 3,
        "system": {"fc_ul_hz": 3.5e9, "fc_dl_hz": 3.6e9, "n_subcarriers_ul": 12,
                   "n_subcarriers_dl": 12, "bs_array": {"kind": "ula", "n": 4},
                   "ue_array": {"kind": "ula", "n": 2}},
        "environments": [{"name": "gauss", "kind": "gaussian", "bs_correlation": 0.8},
                         {"name": "iid", "kind": "gaussian", "spatial": "iid", "n_train": 40}],
        "estimators": [{"name": "lmmse", "kind": "lmmse"}],
        "sweep": {"snr_db": [10], "n_test": 16, "n_train": 64},
    })


def test_training_dataset_is_the_pooled_train_splits_read_lazily():
    from simlink.campaign.data import ensure_splits, pooled_digest, training_dataset

    scenario = _two_environments()
    splits = ensure_splits(scenario, train=True)
    train = training_dataset(scenario, splits)
    assert "backing=files" in repr(train)
    parts = [load_dataset(splits[e.name]["train"].path) for e in scenario.environments]
    assert train.env_names == ("gauss", "iid") and train.target is None
    assert train.digest == pooled_digest(scenario, splits) and train.system == scenario.system
    assert len(train) == 64 + 40
    np.testing.assert_array_equal(train.env_id, np.repeat([0, 1], [64, 40]))
    for field in ("H_ul", "H_dl"):
        np.testing.assert_array_equal(getattr(train, field), np.concatenate([d[field] for d in parts]))
    np.testing.assert_array_equal(train.for_env(1).H_dl, parts[1]["H_dl"])


def test_a_fit_on_the_lazy_dataset_equals_the_fit_on_arrays():
    from simlink.campaign.data import ensure_splits, training_dataset
    from simlink.estimators import build

    scenario = _two_environments()
    lazy = training_dataset(scenario, ensure_splits(scenario, train=True))
    memory = Dataset.from_arrays(lazy.H_ul, lazy.H_dl, lazy.env_id, lazy.env_names, lazy.system,
                                 digest=lazy.digest)
    cfg = scenario.estimators[0]
    for target in (None, 1):
        fits = [build(cfg).fit(d if target is None else d.for_env(target), rng=np.random.default_rng(0))
                for d in (lazy, memory)]
        # a streamed covariance sums chunk by chunk: equal up to rounding
        np.testing.assert_allclose(fits[0].get_state()["R"], fits[1].get_state()["R"], rtol=1e-6, atol=1e-7)
