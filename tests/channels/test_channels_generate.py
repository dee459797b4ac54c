"""generate(): reproducibility, seeding, prefixes, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from channel_helpers import make_system

import simlink.channels as ch
from simlink.channels.source import BLOCK
from simlink.channels import CdlEnv, GaussianEnv, UmiEnv

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast

MIMO = make_system(bs={"kind": "upa", "rows": 2, "cols": 2, "polarization": "dual"},
                   ue={"kind": "ula", "n": 2})  # the zero-gap system of the physics tests: compiled once
CDL = CdlEnv(name="cdl-c", kind="cdl", model="C")
GAUSS = GaussianEnv(name="gauss", kind="gaussian")


@pytest.mark.parametrize("env", [CDL, GAUSS], ids=lambda e: e.kind)
def test_same_seed_same_bits_and_prefixes_agree(env):
    n = BLOCK + 50  # crosses a block boundary
    a = ch.generate(env, MIMO, n, seed=7)
    b = ch.generate(env, MIMO, n, seed=7)
    for key in ("H_ul", "H_dl", "time_index"):
        np.testing.assert_array_equal(a[key], b[key])
    short = ch.generate(env, MIMO, BLOCK + 3, seed=7)
    np.testing.assert_array_equal(short["H_ul"], a["H_ul"][:BLOCK + 3])
    tiny = ch.generate(env, MIMO, 5, seed=7)
    np.testing.assert_array_equal(tiny["H_dl"], a["H_dl"][:5])
    other = ch.generate(env, MIMO, 5, seed=8)
    assert not np.allclose(other["H_ul"], tiny["H_ul"])
    assert a["norm_factor"] == other["norm_factor"]  # one factor per environment, whatever n and seed


def test_generate_leaves_the_callers_sionna_generator_alone():
    from sionna.phy import config

    config.seed = 123
    expected = config.tf_rng.uniform([3]).numpy()
    config.seed = 123
    ch.generate(CDL, MIMO, 2, seed=1)
    np.testing.assert_array_equal(config.tf_rng.uniform([3]).numpy(), expected)


def test_labels_do_not_change_the_draws():
    renamed = CDL.model_copy(update={"name": "another-label"})
    np.testing.assert_array_equal(ch.generate(renamed, MIMO, 3, seed=1)["H_ul"],
                                  ch.generate(CDL, MIMO, 3, seed=1)["H_ul"])


@pytest.mark.parametrize("n, seed", [(0, 1), (-3, 1), (2.5, 1), (5, -1), (5, "x")])
def test_bad_sizes_and_seeds_are_channel_errors(n, seed):
    with pytest.raises(ch.ChannelError, match="n must|seed must"):
        ch.generate(GAUSS, MIMO, n, seed)


def test_only_tabulated_models_have_a_power_delay_profile():
    with pytest.raises(ch.ChannelError, match="umi.*no fixed power-delay profile"):
        ch.power_delay_profile(UmiEnv(name="u", kind="umi"), MIMO)
    delays, powers = ch.power_delay_profile(CDL, MIMO)
    assert np.isclose(powers.sum(), 1.0) and delays.min() == 0.0
    assert np.isclose(np.sqrt(np.sum(powers * delays ** 2) - np.sum(powers * delays) ** 2), 100e-9, rtol=0.02)
