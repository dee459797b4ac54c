"""One conformance test over every registered estimator (DESIGN.md contract)."""
import inspect
import typing

import numpy as np
import pytest

from simlink import config
from simlink.estimators import REGISTRY, build

from estimator_data import SYSTEM, make_observation

CONFIGS = {c.model_fields["kind"].annotation.__args__[0]: c
           for c in typing.get_args(typing.get_args(config.EstCfg)[0])}
KINDS = sorted(REGISTRY)


def small_config(kind: str):
    """Defaults, with learning shrunk to a few steps so the test stays quick."""
    cls = CONFIGS[kind]
    extra = {"train_steps": 5} if "train_steps" in cls.model_fields else {}
    return cls(name=kind, kind=kind, **extra)


def test_every_config_kind_is_registered_and_vice_versa():
    assert set(CONFIGS) == set(REGISTRY)


@pytest.mark.parametrize("kind", KINDS)
def test_init_signature_is_the_yaml_keys(kind):
    cls, cfg_cls = REGISTRY[kind], CONFIGS[kind]
    params = inspect.signature(cls.__init__).parameters
    keys = {k: f for k, f in cfg_cls.model_fields.items() if k not in ("name", "kind")}
    assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) or p.name == "self" for p in params.values())
    assert set(cls.param_names()) == set(keys)
    for k, f in keys.items():
        assert params[k].default == f.default, f"{kind}.{k}: default differs from the schema"
    est = build(small_config(kind))
    # scikit-learn rule: __init__ stores its arguments and nothing else
    assert est.get_params() == small_config(kind).params()
    assert set(vars(est)) == set(keys)


def _fitted(kind, train_set):
    est = build(small_config(kind))
    data = train_set if est.fit_scope == "all" else train_set.for_env(0)
    return est.fit(data, rng=np.random.default_rng(0))


@pytest.mark.parametrize("kind", KINDS)
def test_estimate_contract(kind, train_set, test_set):
    est = _fitted(kind, train_set)
    obs = make_observation(SYSTEM, test_set.H_ul, test_set.H_dl, test_set.env_id, 10.0, 5)
    out = est.estimate(obs)
    assert out.shape == test_set.H_dl.shape
    assert out.dtype == np.complex64
    assert np.all(np.isfinite(out))
    # same seed -> same output, also through a fresh instance restored from the cached state
    again = _fitted(kind, train_set).estimate(obs)
    np.testing.assert_array_equal(out, again)
    restored = build(small_config(kind)).set_state(est.get_state(), SYSTEM)
    np.testing.assert_array_equal(out, restored.estimate(obs))
    # honesty of the reported extras
    bits = est.feedback_bits(SYSTEM)
    assert np.isfinite(bits) == ("feedback" in est.requires)
    assert 0.0 <= est.pilot_overhead(SYSTEM) < 1.0
    assert isinstance(est.n_params(), int) and est.n_params() >= 0
    assert est.requires <= {"ul_csi", "dl_pilots", "feedback", "env_id", "dl_true"}
    for fn in est.traced_functions():
        assert fn.experimental_get_tracing_count() > 0, f"{kind}: claimed graph function never traced"


@pytest.mark.parametrize("kind", KINDS)
def test_estimator_sees_only_what_it_requires(kind, train_set, test_set):
    """An observation stripped to the declared requirements is enough."""
    est = _fitted(kind, train_set)
    full = make_observation(SYSTEM, test_set.H_ul, test_set.H_dl, test_set.env_id, 10.0, 5)
    keep = {"ul_csi": "ul_csi", "dl_pilots": "y_pilots", "env_id": "env_id", "dl_true": "H_dl"}
    stripped = type(full)(system=full.system, noise_var=full.noise_var, batch_size=full.batch_size,
                          **{f: getattr(full, f) for r, f in keep.items() if r in est.requires})
    np.testing.assert_array_equal(est.estimate(stripped), est.estimate(full))
