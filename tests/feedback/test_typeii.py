"""The ``typeii`` estimator, 38.214 Type-II rank 1: UE encoder -> bits -> BS decoder (law 6),
recovery of channels in the span of the beams, payload formula, and beamforming gain
against Type-I and across ``L``."""
import itertools
import math

import numpy as np
import pytest
import yaml

from conftest import make_system, observe, rayleigh

from simlink.channels import GaussianEnv, generate
from simlink.cli import main
from simlink.estimators import REGISTRY, build
from simlink.estimators.codebook import Codebook
from simlink.estimators.typeii import TypeII
from simlink.feedback.typei import typei_codebook
from simlink.feedback.typeii import (SUBBAND_AMPLITUDE, WIDEBAND_AMPLITUDE, combination_beams,
                                     combination_index, wideband_amplitudes)

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast


def mrt(H_hat):
    """MRT precoder of the first UE antenna of an estimate: [b, n_bs, n_sc], unit norm."""
    w = np.conj(H_hat[:, :, 0])
    return w / np.linalg.norm(w, axis=1, keepdims=True)


def gain(H, w):
    """``||H(f)^T w(f)||^2`` averaged over samples and subcarriers."""
    return float(np.mean(np.sum(np.abs(np.einsum("bnuf,bnf->buf", H, w)) ** 2, axis=1)))


def optimum(H):
    """The largest achievable ``||H(f)^T w||^2`` (dominant eigenvalue), averaged."""
    R = np.einsum("bnuf,bmuf->bfnm", np.conj(H), H)
    return float(np.mean(np.linalg.eigvalsh(R)[..., -1]))


def span_channel(system, q1, q2, beams, max_delay_s=0.0, n_ue=1, b=4, seed=0):
    """A rank-1 channel along ``w(f)``, a random combination of the beams ``beams``
    (38.214's ``n = N1 n2 + n1``) of rotation ``(q1, q2)`` on each polarisation;
    each coefficient has its own delay in ``[0, max_delay_s]``, so the phases
    between beams turn across the band (smoothly: the UE interpolates pilots).
    Every UE antenna and subcarrier sees ``conj(w(f))`` times its own complex gain.
    Returns ``(H, w)``, ``w`` [b, n_bs, n_sc] unit norm."""
    grid = typei_codebook(system)
    n1, n2 = np.asarray(beams) % grid.n1, np.asarray(beams) // grid.n1
    group = grid.beam(grid.o1 * n1 + q1, grid.o2 * n2 + q2)                # [k, N1 N2]
    rng = np.random.default_rng(seed)
    shape = (b, 1, grid.n_pol, len(beams))
    f = 30e3 * np.arange(system.n_subcarriers_dl)[:, None, None]
    # amplitudes within 10 dB of each other, so none falls below the tables' range
    g = rng.uniform(0.3, 1.0, shape) * np.exp(
        2j * np.pi * (rng.uniform(size=shape) - f * rng.uniform(0, max_delay_s, shape)))
    w = np.einsum("bfpk,kn->bfpn", g, group).reshape(b, len(f), -1)
    w = np.transpose(w / np.linalg.norm(w, axis=-1, keepdims=True), (0, 2, 1))   # [b, n_bs, f]
    a = rayleigh((b, 1, n_ue, 1), seed) * np.sqrt(system.n_bs)
    ramp = np.exp(-2j * np.pi * 30e3 * 50e-9 * np.arange(system.n_subcarriers_dl))
    return (a * ramp * np.conj(w)[:, :, None]).astype(np.complex64), w


def alignment(w_hat, w):
    """``|w_hat^H w| / (|w_hat| |w|)`` per sample and subcarrier."""
    num = np.abs(np.sum(np.conj(w_hat) * w, axis=1))
    return num / (np.linalg.norm(w_hat, axis=1) * np.linalg.norm(w, axis=1))


def test_registered_with_the_config_keys():
    assert REGISTRY["typeii"] is TypeII
    assert set(TypeII.param_names()) == set(TypeII.Config.model_fields) - {"name", "kind"}
    est = build(TypeII.Config(name="t2", kind="typeii", n_beams=2, phase_bits=2,
                              subband_amplitude=True))
    assert (est.n_beams, est.phase_bits, est.amplitude_bits, est.gain_bits) == (2, 2, 3, 4)
    assert TypeII.requires == {"dl_pilots", "feedback"} and TypeII.pilot_modes == {"comb"}


def test_tables_and_beam_combination_index():
    np.testing.assert_allclose(WIDEBAND_AMPLITUDE ** 2, [0, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4,
                                                          1 / 2, 1])
    np.testing.assert_allclose(SUBBAND_AMPLITUDE ** 2, [0.5, 1])
    np.testing.assert_allclose(wideband_amplitudes(3), WIDEBAND_AMPLITUDE)
    for bits in (2, 5):     # the extension: same range, even steps in dB
        levels = wideband_amplitudes(bits)
        assert len(levels) == 2 ** bits and levels[0] == 0 and levels[-1] == 1
        np.testing.assert_allclose(np.diff(np.log(levels[1:])), np.log(8) / (2 ** bits - 2))
    for n_total, n_beams in [(8, 1), (8, 3), (8, 4), (8, 8), (6, 2)]:
        combos = np.array(list(itertools.combinations(range(n_total), n_beams)))
        i12 = combination_index(combos, n_total)
        assert sorted(i12) == list(range(math.comb(n_total, n_beams)))
        np.testing.assert_array_equal(combination_beams(i12, n_total, n_beams), combos)
        # indices past C(N1 N2, L) (bit errors) still decode to L distinct beams
        n = combination_beams(np.arange(2 * len(combos)), n_total, n_beams)
        assert n.min() >= 0 and n.max() < n_total and np.all(np.diff(n, axis=-1) > 0)


def test_combining_is_the_dominant_eigenvector_per_subband():
    """Against the eigenvector of each subband's covariance written out, also for a
    shorter last subband (10 subcarriers in subbands of 4)."""
    cb = TypeII(n_beams=3).typeii_codebook(make_system(2, 4, "dual"))
    Z = rayleigh((2, 10, 2, 6), seed=5)
    c = cb.combining(Z, 4)
    assert c.shape == (2, 3, 6)
    for k, f in itertools.product(range(2), ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9])):
        R = sum(np.outer(np.conj(Z[k, i, u]), Z[k, i, u]) for i in f for u in range(2))
        ref = np.linalg.eigh(R)[1][:, -1]
        assert abs(np.vdot(ref, c[k, f[0] // 4])) > 1 - 1e-5


@pytest.mark.parametrize("pol,n_ue,subband_size", [("dual", 1, None), ("dual", 2, 4),
                                                    ("single", 1, 4)])
def test_channel_in_the_span_of_the_beams_is_recovered(pol, n_ue, subband_size):
    """Every beam (L = N1 N2), fine quantisation, 60 dB SNR: the MRT precoder of the
    estimate is the channel's own. With subbands the beams' phases turn across the
    band (delays up to 600 ns) and the subband phases follow them: the direction
    error is several times smaller than one wideband report's."""
    system = make_system(2, 4, pol, n_ue=n_ue)
    H, w = span_channel(system, 2, 1, [1, 2, 6], 600e-9 if subband_size else 0.0, n_ue=n_ue)
    obs = observe(H, system, noise_var=1e-6)
    est = TypeII(n_beams=8, amplitude_bits=8, phase_bits=8, subband_size=subband_size)
    H_hat = est.decode(est.encode(obs), system)
    assert H_hat.shape == H.shape and H_hat.dtype == np.complex64
    assert alignment(mrt(H_hat), w).min() > 0.99
    assert gain(H, mrt(H_hat)) > 0.98 * optimum(H)
    if subband_size:
        wideband = TypeII(n_beams=8, amplitude_bits=8, phase_bits=8).estimate(obs).H
        error, wideband_error = (np.mean(1 - alignment(mrt(G), w)) for G in (H_hat, wideband))
        assert error < wideband_error / 5, (error, wideband_error)


@pytest.mark.parametrize("pol", ["dual", "single"])
def test_the_beams_and_rotation_of_the_channel_are_found(pol):
    """L = 4 > the 3 beams the channel uses. With fine quantisation only their group
    spans the channel, so the report names their rotation and contains them. With
    the standard's 3-bit amplitudes (3 dB steps) and 8-PSK (phase error <= pi/8)
    the direction stays close, whichever rotation quantises best."""
    system = make_system(2, 4, pol)
    H, w = span_channel(system, 3, 2, [0, 5, 7], seed=1)
    obs = observe(H, system, noise_var=1e-4)
    fine = TypeII(n_beams=4, amplitude_bits=8, phase_bits=8)
    fields = fine.layout(system).unpack(fine.encode(obs))
    assert np.all(fields["i11"] == 4 * 3 + 2)
    n = combination_beams(fields["i12"][:, 0], 8, 4)
    assert all({0, 5, 7} <= set(row) for row in n)
    assert alignment(mrt(TypeII(n_beams=4).estimate(obs).H), w).min() > 0.95


def test_direction_error_shrinks_as_bits_grow(dual_system):
    H, w = span_channel(dual_system, 1, 3, [0, 3, 4, 6], b=16, seed=2)
    obs = observe(H, dual_system, noise_var=1e-6)
    errors = []
    for bits in (2, 3, 5, 8):
        est = TypeII(n_beams=8, amplitude_bits=bits, phase_bits=bits)
        errors.append(np.mean(1 - alignment(mrt(est.estimate(obs).H), w)))
    assert np.all(np.diff(errors) < 0), errors
    assert errors[-1] < 1e-3


def formula_bits(rows, cols, pol, n_beams, subband_size, phase_bits=3, subband_amplitude=False,
                 gain_bits=4, amplitude_bits=3, n_sc=24, o=4):
    """The payload written out from the bit fields of docs/methods.md, "Type-II codebook"."""
    n1, n2 = cols, rows
    o1, o2 = (o if n1 > 1 else 1), (o if n2 > 1 else 1)
    n_pol = 2 if pol == "dual" else 1
    k = n_pol * n_beams - 1
    n_sb = n_sc // (subband_size or n_sc)
    wideband = (math.ceil(math.log2(o1 * o2)) + math.ceil(math.log2(math.comb(n1 * n2, n_beams)))
                + math.ceil(math.log2(n_pol * n_beams)) + k * amplitude_bits)
    return wideband + n_sb * (k * (phase_bits + subband_amplitude) + gain_bits)


@pytest.mark.parametrize("rows,cols,pol,n_beams,subband_size,extra", [
    (2, 4, "dual", 4, None, {}),                   # 4 + 7 + 3 + 21 + (21 + 4) = 60
    (2, 4, "dual", 3, 6, {"phase_bits": 2, "subband_amplitude": True}),
    (1, 8, "single", 2, 6, {"gain_bits": 0}),     # N2 = 1: O2 = 1
    (2, 4, "single", 8, None, {"amplitude_bits": 5}),   # every beam: no i12 bits
    (1, 4, "dual", 1, 12, {}),
])
def test_payload_follows_the_formula(rows, cols, pol, n_beams, subband_size, extra):
    system = make_system(rows, cols, pol)
    est = TypeII(n_beams=n_beams, subband_size=subband_size, **extra)
    expected = formula_bits(rows, cols, pol, n_beams, subband_size, **extra)
    assert est.feedback_bits(system) == expected
    bits = est.encode(observe(rayleigh((2, system.n_bs, 1, 24)), system, noise_var=0.1))
    assert bits.dtype == np.uint8 and bits.shape == (2, expected)
    assert set(np.unique(bits)) <= {0, 1}


@pytest.mark.parametrize("subband_amplitude", [False, True])
def test_law6_decoder_sees_only_the_reported_bits(dual_system, subband_amplitude):
    est = TypeII(subband_size=6, subband_amplitude=subband_amplitude)
    obs = observe(rayleigh((3, 16, 1, 24), seed=4), dual_system, noise_var=0.1)
    bits = est.encode(obs)
    # the BS side is a fresh instance: a decoder that read state cached by encode would fail
    H_hat = TypeII(subband_size=6, subband_amplitude=subband_amplitude).decode(bits, dual_system)
    np.testing.assert_array_equal(H_hat, est.estimate(obs).H)
    # the first phase bit of a coefficient with a non-zero wideband amplitude
    layout = est.layout(dual_system)
    fields = layout.unpack(bits)
    j = int(np.flatnonzero(fields["i14"][0])[0])
    start = sum(width * count for name, width, count in layout.fields[:4])
    flipped = bits.copy()
    flipped[0, start + j * est.phase_bits] ^= 1
    changed = est.decode(flipped, dual_system)
    assert not np.allclose(changed[0], H_hat[0])
    np.testing.assert_array_equal(changed[1:], H_hat[1:])
    # the feedback channel sits between encoder and decoder
    hooked = observe(rayleigh((3, 16, 1, 24), seed=4), dual_system, 0.1,
                     feedback_channel=lambda b: flipped)
    np.testing.assert_array_equal(est.estimate(hooked).H, changed)
    with pytest.raises(ValueError):
        est.decode(bits[:, :-1], dual_system)


def test_any_bit_pattern_decodes():
    """Rotation, beam combination (C(6, 3) = 20 in 5 bits) and strongest index
    (6 in 3 bits) past their ranges still give unit-norm precoders."""
    system = make_system(2, 3, "single")
    est = TypeII(n_beams=3, subband_size=6)
    n_bits = int(est.feedback_bits(system))
    for bits in (np.ones((1, n_bits), np.uint8),
                 np.random.default_rng(0).integers(0, 2, (8, n_bits)).astype(np.uint8)):
        H_hat = est.decode(bits, system)
        assert np.all(np.isfinite(H_hat))
        np.testing.assert_allclose(np.linalg.norm(mrt(H_hat), axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("spatial", ["one_ring", "iid"])
def test_type2_gain_beats_type1_and_grows_with_the_beams(dual_system, spatial):
    """Mean MRT gain on a 64-sample gaussian batch, 20 dB SNR. Type-II at L = 1 is
    Type-I's beam search with finer co-phasing; more beams span a larger space.
    Quantising more coefficients costs a little, so ``L -> 2L`` is required to
    keep at least 98% of the gain (measured margins are 10% or more)."""
    env = GaussianEnv(name="g", kind="gaussian", spatial=spatial, angle_spread_deg=15)
    H = generate(env, dual_system, 64, seed=3)["H_dl"]
    obs = observe(H, dual_system, noise_var=1e-2)
    type1 = gain(H, mrt(Codebook().estimate(obs).H))
    type2 = [gain(H, mrt(TypeII(n_beams=L).estimate(obs).H)) for L in (1, 2, 4)]
    assert type2[2] >= type1
    assert type2[1] >= 0.98 * type2[0] and type2[2] >= 0.98 * type2[1], type2
    assert type2[2] <= optimum(H)


def test_validate_rejects_more_beams_than_a_group_has(tmp_path, capsys):
    scenario = {
        "name": "t", "seed": 1,
        "system": {"fc_ul_hz": 3.5e9, "fc_dl_hz": 3.62e9, "n_subcarriers_ul": 12,
                   "n_subcarriers_dl": 12, "bs_array": {"kind": "ula", "n": 4}},
        "environments": [{"name": "c", "kind": "cdl", "model": "C"}],
        "estimators": [{"name": "p", "kind": "perfect"},
                       {"name": "t2", "kind": "typeii", "n_beams": 5}],
        "sweep": {"snr_db": [0, 10], "n_test": 16, "n_train": 16},
    }
    path = tmp_path / "typeii.yaml"
    path.write_text(yaml.safe_dump(scenario))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(str(path)), err
    assert "estimators[1].n_beams" in err[0] and "Traceback" not in err[0]
    scenario["estimators"][1]["n_beams"] = 4
    path.write_text(yaml.safe_dump(scenario))
    assert main(["validate", str(path)]) == 0
