"""The ``codebook`` estimator: UE encoder -> bits -> BS decoder (law 6)."""
import inspect

import numpy as np
import pytest

from conftest import make_system, observe, rayleigh

from simlink.estimators import REGISTRY, build
from simlink.estimators.codebook import GAIN_RANGE_DB, Codebook
from simlink.estimators.ls import ls_estimate
from simlink.feedback.typei import typei_codebook

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast


def codeword_channel(system, l, m, n, b=2, seed=0):
    """A rank-1 channel along codeword (l, m, n) per subband: every UE antenna
    and subcarrier sees ``conj(w)`` times its own random complex gain."""
    cb = typei_codebook(system)
    w = cb.codeword(np.asarray(l), np.asarray(m), np.asarray(n))      # [s, n_bs] or [n_bs]
    w = np.atleast_2d(w)
    sb = np.arange(system.n_subcarriers_dl) * len(w) // system.n_subcarriers_dl
    g = rayleigh((b, 1, system.n_ue, 1), seed) * np.sqrt(system.n_bs)  # unit power per entry
    ramp = np.exp(-2j * np.pi * 30e3 * 50e-9 * np.arange(system.n_subcarriers_dl))
    return (g * ramp * np.conj(w[sb]).T[None, :, None, :]).astype(np.complex64)


def correlation(H_hat, H):
    """|h_hat^H h| / (|h_hat| |h|) per (sample, UE antenna, subcarrier)."""
    num = np.abs(np.sum(np.conj(H_hat) * H, axis=1))
    return num / (np.linalg.norm(H_hat, axis=1) * np.linalg.norm(H, axis=1))


def test_registered_with_the_config_keys():
    assert REGISTRY["codebook"] is Codebook
    assert set(Codebook.param_names()) == set(Codebook.Config.model_fields) - {"name", "kind"}
    est = build(Codebook.Config(name="cb", kind="codebook", subband_size=6, gain_bits=3))
    assert (est.subband_size, est.gain_bits, est.o1) == (6, 3, 4)
    assert Codebook.requires == {"dl_pilots", "feedback"}


@pytest.mark.parametrize("rows,cols,pol,subband_size,expected", [
    (2, 4, "dual", None, 4 + 3 + 2 + 4),            # i11 + i12 + i2 + gain
    (2, 4, "dual", 6, 4 + 3 + 4 * (2 + 4)),         # i1 wideband, (i2, gain) x 4 subbands
    (1, 8, "single", None, 5 + 4),                  # N2 = 1: O2 = 1, no i12 bits
    (1, 8, "single", 6, 4 * (5 + 4)),               # beam per subband
])
def test_payload(rows, cols, pol, subband_size, expected):
    system = make_system(rows, cols, pol)
    assert Codebook(subband_size=subband_size).feedback_bits(system) == expected
    wideband = Codebook().feedback_bits(system)
    if subband_size:
        assert expected > wideband


@pytest.mark.parametrize("subband_size", [None, 6])
def test_law6_decoder_sees_only_the_reported_bits(dual_system, subband_size):
    est = Codebook(subband_size=subband_size)
    obs = observe(rayleigh((3, 16, 1, 24)), dual_system, noise_var=0.1)
    bits = est.encode(obs)
    assert bits.dtype == np.uint8 and set(np.unique(bits)) <= {0, 1}
    assert bits.shape == (3, est.feedback_bits(dual_system))
    assert list(inspect.signature(est.decode).parameters) == ["bits", "system"]
    # the BS side is a fresh instance: a decoder that read state cached by encode would fail
    H_hat = Codebook(subband_size=subband_size).decode(bits, dual_system)
    np.testing.assert_array_equal(H_hat, est.estimate(obs).H)
    # every bit carries information: flipping any one changes the estimate
    for k in range(bits.shape[1]):
        flipped = bits.copy()
        flipped[:, k] ^= 1
        assert not np.allclose(est.decode(flipped, dual_system), H_hat), f"bit {k} ignored"
    with pytest.raises(ValueError):
        est.decode(bits[:, :-1], dual_system)


def test_feedback_channel_hook_sees_and_replaces_the_stream(dual_system):
    est = Codebook()
    seen = []

    def bsc(bits):
        seen.append(bits.copy())
        out = bits.copy()
        out[:, 0] ^= 1
        return out

    H = rayleigh((2, 16, 1, 24))
    obs = observe(H, dual_system, 0.1, feedback_channel=bsc)
    H_hat = est.estimate(obs).H
    bits = est.encode(observe(H, dual_system, 0.1))
    np.testing.assert_array_equal(seen[0], bits)
    flipped = bits.copy()
    flipped[:, 0] ^= 1
    np.testing.assert_array_equal(H_hat, est.decode(flipped, dual_system))


def test_any_bit_pattern_decodes():
    """Channel bit errors may give beam indices past N1 O1 (here 12 beams in
    4 bits): the DFT phases wrap, so the BS still gets a valid codeword."""
    system = make_system(1, 3, "dual")
    est = Codebook()
    H_hat = est.decode(np.ones((1, int(est.feedback_bits(system))), np.uint8), system)
    assert np.all(np.isfinite(H_hat))


@pytest.mark.parametrize("n_ue", [1, 2])
@pytest.mark.parametrize("pol,lmn", [("dual", (13, 5, 3)), ("single", (6, 2, 0))])
def test_codeword_channel_is_recovered(pol, lmn, n_ue):
    system = make_system(2, 4, pol, n_ue=n_ue)
    H = codeword_channel(system, *lmn)
    est = Codebook()
    bits = est.encode(observe(H, system, noise_var=1e-3))
    fields = est.layout(system).unpack(bits)
    for name, value in zip(("i11", "i12", "i2"), lmn):
        assert np.all(fields[name] == value), name
    H_hat = est.decode(bits, system)
    assert H_hat.shape == H.shape and H_hat.dtype == np.complex64
    assert correlation(H_hat, H).min() > 0.99
    # MRT on the estimate is the codeword itself
    w = typei_codebook(system).codeword(*lmn)
    mrt = np.conj(H_hat[0, :, 0, 0]) / np.linalg.norm(H_hat[0, :, 0, 0])
    np.testing.assert_allclose(mrt, w, atol=1e-5)
    # power matches to within the gain quantiser's half step (1 dB) + noise
    ratio_db = 10 * np.log10(np.sum(np.abs(H_hat) ** 2, (1, 2)) / np.sum(np.abs(H) ** 2, (1, 2)))
    assert np.abs(ratio_db).max() < 1.2


def test_subband_reports_follow_the_channel_per_subband():
    """Dual: one i1 for the band, i2 tracks each subband's co-phasing.
    Single: each subband reports its own beam."""
    dual = make_system(2, 4, "dual")
    i2 = np.array([0, 1, 2, 3])
    H = codeword_channel(dual, 9, 2, i2)
    fields = Codebook(subband_size=6).layout(dual).unpack(
        Codebook(subband_size=6).encode(observe(H, dual, 1e-3)))
    assert np.all(fields["i11"] == 9) and np.all(fields["i12"] == 2)
    assert np.all(fields["i2"] == i2)

    single = make_system(2, 4, "single")
    l, m = np.array([1, 5, 9, 14]), np.array([0, 3, 6, 2])
    H = codeword_channel(single, l, m, 0)
    est = Codebook(subband_size=6)
    fields = est.layout(single).unpack(est.encode(observe(H, single, 1e-3)))
    assert np.all(fields["i11"] == l) and np.all(fields["i12"] == m)
    assert correlation(est.decode(est.encode(observe(H, single, 1e-3)), single), H).min() > 0.99


@pytest.mark.parametrize("subband_size", [None, 6])
def test_gain_error_is_at_most_half_a_step(dual_system, subband_size):
    est = Codebook(subband_size=subband_size, gain_bits=5)
    obs = observe(rayleigh((6, 16, 1, 24), seed=3), dual_system, noise_var=0.05)
    bits = est.encode(obs)
    # the UE's view: power of its chosen codeword on its own LS estimate
    H_ue = ls_estimate(obs.y_pilots, dual_system, obs.noise_var, est.interpolation)
    cb = typei_codebook(dual_system)
    pmi = cb.select(cb.beam_power(H_ue, subband_size), wideband_beam=True)
    sb_len = 24 if subband_size is None else subband_size
    q_true = 10 * np.log10(pmi.power / sb_len / 16)
    assert np.all((q_true > GAIN_RANGE_DB[0]) & (q_true < GAIN_RANGE_DB[1]))
    # the BS's view: power along the decoded codeword of its reconstruction
    H_hat = est.decode(bits, dual_system)
    fields = est.layout(dual_system).unpack(bits)
    w = cb.codeword(fields["i11"], fields["i12"], fields["i2"])          # [b, s, n_bs]
    f0 = np.arange(pmi.power.shape[1]) * sb_len                          # first subcarrier of each subband
    g2_hat = np.abs(np.einsum("bps,bsp->bs", H_hat[:, :, 0, f0], w)) ** 2
    q_hat = 10 * np.log10(g2_hat / 16)
    assert np.abs(q_hat - q_true).max() <= est.quantizer().step / 2 + 1e-3


def test_without_gain_bits_the_estimate_has_unit_power_per_entry(dual_system):
    est = Codebook(gain_bits=0)
    H_hat = est.estimate(observe(rayleigh((2, 16, 1, 24)) * 5, dual_system, 0.1)).H
    assert est.feedback_bits(dual_system) == 4 + 3 + 2
    np.testing.assert_allclose(np.mean(np.abs(H_hat) ** 2, axis=(1, 2)), 1.0, rtol=1e-5)


def test_same_observation_same_output(dual_system):
    obs = observe(rayleigh((2, 16, 1, 24)), dual_system, 0.1)
    np.testing.assert_array_equal(Codebook().estimate(obs).H, Codebook().estimate(obs).H)
