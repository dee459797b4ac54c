"""Compressed CSI feedback (lora_fb, ista, klt): bits only, the unfolding law,
parameter counts, and the Gaussian calibration against the KLT."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from simlink.channels import GaussianEnv
from simlink.estimators import build
from simlink.estimators.compressed.ista import IstaDecoder
from simlink.estimators.compressed.klt import klt_nmse
from simlink.estimators.compressed.lora import UnfoldedDecoder, linear_encoder
from simlink.estimators.compressed.unfolding import soft_threshold
from simlink.observation import observe
from simlink.system import SystemCfg

from estimator_data import make_dataset

#: 8 ports, 32 subcarriers at 30 kHz (tap spacing 1.04 us), 8 taps kept
SYSTEM = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.62e9, n_subcarriers_ul=8, n_subcarriers_dl=32,
                   bs_array={"kind": "ula", "n": 8}, ue_array={"kind": "ula", "n": 1},
                   pilots={"comb": 4, "period_symbols": 14})
#: paths on the delay grid, inside the kept taps: truncation loses nothing
ENV = GaussianEnv(name="g", kind="gaussian", bs_correlation=0.8,
                  delays_s=[0.0, 1 / 0.96e6, 3 / 0.96e6], powers=[0.6, 0.3, 0.1])
COMMON = dict(n_taps=8, cr=0.25, bits=8)


@pytest.fixture(scope="module")
def data():
    return make_dataset(SYSTEM, [ENV], 2000, 0), make_dataset(SYSTEM, [ENV], 400, 7)


def nmse(H_hat, H):
    return float(np.mean(np.sum(abs(H_hat - H) ** 2, (1, 2, 3))) / np.mean(np.sum(abs(H) ** 2, (1, 2, 3))))


def fitted(kind, train, **keys):
    cfg = build_config(kind, **keys)
    return build(cfg).fit(train, rng=np.random.default_rng(0))


def build_config(kind, **keys):
    from simlink.estimators import REGISTRY
    return REGISTRY[kind].Config(name=kind, kind=kind, **{**COMMON, **keys})


def obs_of(test, **kw):
    return observe(test.H_ul, test.H_dl, SYSTEM, 20.0, ["dl_true", "feedback"], 3, **kw)


LORA_SMALL = dict(n_blocks=3, width=64, train_steps=40, eval_every=20)


@pytest.mark.parametrize("kind,keys", [("klt", {}), ("ista", {"n_iter": 20}), ("lora_fb", LORA_SMALL)])
def test_only_the_bits_reach_the_decoder(kind, keys, data):
    train, test = data
    est = fitted(kind, train, **keys)
    obs = obs_of(test)
    bits = est.encode(obs)
    m = round(0.25 * 2 * 8 * 8)
    assert bits.shape == (len(test), m * 8) == (len(test), est.feedback_bits(SYSTEM))
    assert bits.dtype == np.uint8 and set(np.unique(bits)) <= {0, 1}
    # a fresh instance, given the learned state and the bits alone, decodes the same
    fresh = build(build_config(kind, **keys)).set_state(est.get_state(), SYSTEM)
    H_hat = est.decode(bits, SYSTEM)
    np.testing.assert_array_equal(fresh.decode(bits, SYSTEM), H_hat)
    np.testing.assert_array_equal(est.estimate(obs).H, H_hat)
    # what crosses the feedback channel is what is decoded: one flipped bit changes that report only
    flipped = bits.copy()
    flipped[0, 0] ^= 1
    seen = []
    through = est.estimate(dataclasses.replace(obs, feedback_channel=lambda b: seen.append(b) or flipped)).H
    np.testing.assert_array_equal(seen[0], bits)
    assert not np.allclose(through[0], H_hat[0])
    np.testing.assert_array_equal(through[1:], H_hat[1:])
    with pytest.raises(ValueError, match="report bits"):
        est.decode(bits[:, :-1], SYSTEM)


def test_unfolded_decoder_without_its_mlp_and_with_the_l1_prox_is_ista():
    n_in, m, blocks, lam = 64, 16, 6, 0.05
    enc = linear_encoder(n_in, m, seed=1)
    ista = IstaDecoder(enc, blocks, lam)
    ista.set_step()
    a = float(ista.step.numpy())
    lora = UnfoldedDecoder(enc, blocks, width=32, seed=2)
    lora.out.kernel.assign(tf.zeros_like(lora.out.kernel))        # R(x) = 0
    lora.steps.assign(np.full(blocks, a, np.float32))
    v = np.random.default_rng(0).standard_normal((5, m)).astype(np.float32)
    # the prox put in: LORA's blocks with soft thresholding after each step
    from simlink.estimators.compressed.unfolding import ista_step
    x = tf.zeros((5, n_in))
    for t in range(blocks):
        x = ista_step(x, v, enc.kernel, lora.steps[t], lora.regulariser,
                      prox=lambda z: soft_threshold(z, a * lam))
    np.testing.assert_allclose(x.numpy(), ista(v).numpy(), rtol=1e-5, atol=1e-6)
    # and plain ISTA by hand, in NumPy
    A = enc.kernel.numpy().T
    xn = np.zeros((5, n_in))
    for _ in range(blocks):
        z = xn - a * (xn @ A.T - v) @ A
        xn = np.sign(z) * np.maximum(np.abs(z) - a * lam, 0)
    np.testing.assert_allclose(ista(v).numpy(), xn, rtol=1e-4, atol=1e-5)
    # without the prox, the zeroed MLP leaves plain gradient steps: LORA's own call
    xg = np.zeros((5, n_in))
    for _ in range(blocks):
        xg = xg - a * (xg @ A.T - v) @ A
    np.testing.assert_allclose(lora(v).numpy(), xg, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n_blocks,width,cr", [(4, 1024, 1 / 4), (7, 256, 1 / 64)])
def test_parameter_counts_follow_the_paper(n_blocks, width, cr):
    """Encoder ``2 Nc Nt M``; decoder ``2 (2 Nc Nt) width + n_blocks`` (one MLP
    without biases shared by every block, one step per block; A is the encoder's)."""
    est = build(build_config("lora_fb", n_taps=32, cr=cr, n_blocks=n_blocks, width=width))
    system = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.6e9, n_subcarriers_ul=32, n_subcarriers_dl=32,
                       bs_array={"kind": "upa", "rows": 4, "cols": 4, "polarization": "dual"})
    est._build(system, seed=0)
    n, m = 2 * 32 * 32, round(cr * 2 * 32 * 32)
    own = {id(v) for v in est.encoder_.weights}
    decoder_only = sum(int(np.prod(v.shape)) for v in est.decoder_.weights if id(v) not in own)
    assert est.encoder_.count_params() == n * m
    assert decoder_only == 2 * n * width + n_blocks
    assert est.n_params() == n * m + 2 * n * width + n_blocks + 2      # + the quantiser's step and offset
    if (n_blocks, width, cr) == (4, 1024, 1 / 4):
        assert est.encoder_.count_params() == 1_048_576                 # the paper's Table IV


def test_klt_meets_its_closed_form_and_lora_approaches_it_on_gaussian_data(data):
    """Law 7: on Gaussian data the optimal linear code at M entries of B bits is
    the KLT. Measured KLT NMSE equals its closed form; LORA, trained end to end
    with the quantiser in the loop, comes within 3 dB of it at CR 1/4, 8 bits."""
    train, test = data
    obs = obs_of(test)
    klt = fitted("klt", train)
    got = nmse(klt.estimate(obs).H, test.H_dl)
    m = klt.codeword_length(SYSTEM)
    closed = klt_nmse(klt.eigenvalues_, m, 8)
    assert got == pytest.approx(closed, rel=0.25)
    lora = fitted("lora_fb", train, n_blocks=4, width=256, train_steps=1500, eval_every=250)
    lora_nmse = nmse(lora.estimate(obs).H, test.H_dl)
    gap_db = 10 * np.log10(lora_nmse / got)
    print(f"KLT {10 * np.log10(got):.1f} dB (closed form {10 * np.log10(closed):.1f} dB), "
          f"LORA {10 * np.log10(lora_nmse):.1f} dB: gap {gap_db:.1f} dB")
    assert gap_db < 3.0
    # and it learned something: far better than the untrained start
    assert lora_nmse < 0.1 * nmse(np.zeros_like(test.H_dl), test.H_dl)


def test_post_hoc_quantiser_and_input_noise_options(data):
    train, test = data
    obs = obs_of(test)
    post = fitted("lora_fb", train, **LORA_SMALL, quantizer_training="post", post_steps=20)
    assert len(post.train_history_) == 2                        # the network, then the quantiser
    qat = fitted("lora_fb", train, **LORA_SMALL, quantizer="qat", quantizer_training="post")
    assert len(qat.train_history_) == 1                         # a fixed range has nothing to train
    noisy = fitted("klt", train, input_snr_db=0.0)
    clean = fitted("klt", train)
    # 0 dB input noise on the UE's CSI: its reconstruction of the true channel is worse
    assert nmse(noisy.estimate(obs).H, test.H_dl) > 2 * nmse(clean.estimate(obs).H, test.H_dl)
    for est in (post, qat):
        assert np.all(np.isfinite(est.estimate(obs).H))


def test_ue_csi_from_pilots(data):
    train, test = data
    est = build(build_config("klt", ue_csi="ls"))
    assert est.requires == {"feedback", "dl_pilots"}
    assert build(build_config("klt")).requires == {"feedback", "dl_true"}
    dense = SystemCfg(**{**SYSTEM.model_dump(), "pilots": {"mode": "dense"}})
    problems = est.system_problems(dense)
    assert problems and problems[0][0] == "kind"
    est.fit(train, rng=np.random.default_rng(0))
    errs = []
    for snr in (0.0, 30.0):
        obs = observe(test.H_ul, test.H_dl, SYSTEM, snr, est.requires, 3)
        errs.append(nmse(est.estimate(obs).H, test.H_dl))
    assert errs[0] > errs[1]                                    # the UE's LS error reaches the BS
