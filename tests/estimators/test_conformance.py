"""One conformance test over every registered estimator (the contract of docs/architecture.md)."""
import dataclasses
import inspect
import typing

import numpy as np
import pytest

from simlink.config import scenario_model
from simlink.estimators import REGISTRY, build

from estimator_data import REQUIREMENTS, SYSTEM, make_observation

CONFIGS = {kind: cls.Config for kind, cls in REGISTRY.items()}
KINDS = sorted(REGISTRY)


#: keys that size a learned method, shrunk so that compiling and training stay quick
SMALL = {"train_steps": 5, "n_phases": 1, "n_filters": 4, "n_refine": 1, "n_crblocks": 1, "n_blocks": 2,
         "width": 16}


def small_config(kind: str):
    """Defaults, with learning shrunk to a few steps and small networks so the test stays quick."""
    cls = CONFIGS[kind]
    return cls(name=kind, kind=kind, **{k: v for k, v in SMALL.items() if k in cls.model_fields})


def test_scenario_union_holds_every_registered_kind():
    """The scenario schema's estimator union is assembled from the registry, one model per kind."""
    (tagged,) = typing.get_args(scenario_model().model_fields["estimators"].annotation)
    models = typing.get_args(typing.get_args(tagged)[0])
    assert sorted(typing.get_args(m.model_fields["kind"].annotation)[0] for m in models) == sorted(REGISTRY)
    assert all(REGISTRY[typing.get_args(m.model_fields["kind"].annotation)[0]].Config is m for m in models)


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


@pytest.fixture(scope="module")
def fitted(train_set):
    """The first fit of each kind, shared by the tests that only read it (its
    ``estimate`` is pure, as test_estimate_contract checks)."""
    fits = {}

    def first_fit(kind):
        if kind not in fits:
            fits[kind] = _fitted(kind, train_set)
        return fits[kind]
    return first_fit


@pytest.mark.parametrize("kind", KINDS)
def test_estimate_contract(kind, fitted, train_set, test_set):
    est = fitted(kind)
    obs = make_observation(SYSTEM, test_set.H_ul, test_set.H_dl, test_set.env_id, 10.0, 5)
    before = (dict(vars(est)), {k: v.copy() for k, v in est.get_state().items()})
    result = est.estimate(obs)
    out = result.H
    # estimate is pure: no attribute rebound, no learned array changed
    assert {k: id(v) for k, v in vars(est).items()} == {k: id(v) for k, v in before[0].items()}
    for k, v in est.get_state().items():
        np.testing.assert_array_equal(v, before[1][k])
    assert set(result.diagnostics) == set(type(est).diagnostics)
    for value in result.diagnostics.values():
        assert len(value) == len(out)
    assert out.shape == test_set.H_dl.shape
    assert out.dtype == np.complex64
    assert np.all(np.isfinite(out))
    # same seed -> same output, also through a fresh instance restored from the cached state
    again = _fitted(kind, train_set).estimate(obs).H
    np.testing.assert_array_equal(out, again)
    restored = build(small_config(kind)).set_state(est.get_state(), SYSTEM)
    np.testing.assert_array_equal(out, restored.estimate(obs).H)
    # honesty of the reported extras
    bits = est.feedback_bits(SYSTEM)
    assert np.isfinite(bits) == ("feedback" in est.requires)
    assert 0.0 <= est.pilot_overhead(SYSTEM) < 1.0
    assert isinstance(est.n_params(), int) and est.n_params() >= 0
    assert est.requires <= set(REQUIREMENTS)
    for fn in est.traced_functions(SYSTEM):
        assert fn.experimental_get_tracing_count() > 0, f"{kind}: claimed graph function never traced"


@pytest.mark.parametrize("kind", KINDS)
def test_estimator_sees_only_what_it_requires(kind, fitted, test_set):
    """An observation stripped to the declared requirements is enough."""
    est = fitted(kind)
    full = make_observation(SYSTEM, test_set.H_ul, test_set.H_dl, test_set.env_id, 10.0, 5)
    keep = {"ul_csi": ["ul_csi"], "dl_pilots": ["y_pilots"], "env_id": ["env_id"],
            "dl_true": ["H_dl"], "feedback": ["feedback_channel"],
            "dl_partial": ["dl_partial", "dl_partial_mask"]}
    dropped = {f: None for r, fields in keep.items() if r not in est.requires for f in fields}
    stripped = dataclasses.replace(full, **dropped)
    np.testing.assert_array_equal(est.estimate(stripped).H, est.estimate(full).H)
