"""The QAT / LSQ / LSZQ quantiser layers: forward, bits, calibration, gradients."""
import numpy as np
import pytest
import tensorflow as tf

from simlink.feedback.bits import bit2num, num2bit
from simlink.feedback.quantizers import Quantizer

pytestmark = pytest.mark.fast


def codeword(n=256, m=8, seed=0):
    return np.random.default_rng(seed).standard_normal((n, m)).astype(np.float32)


@pytest.mark.parametrize("mode", ["qat", "lsq", "lszq"])
def test_codes_cross_as_bits_and_give_back_the_forward_values(mode):
    r = codeword()
    q = Quantizer(4, mode).calibrate(r)
    codes = q.codes(r).numpy()
    assert codes.min() >= 0 and codes.max() <= 15
    bits = num2bit(codes, 4).reshape(len(r), -1)
    assert bits.shape == (len(r), 8 * 4) and set(np.unique(bits)) <= {0, 1}
    back = bit2num(bits.reshape(len(r), 8, 4))
    np.testing.assert_array_equal(back, codes)
    np.testing.assert_allclose(q.dequantize(back).numpy(), q(r).numpy(), rtol=1e-6)


def test_qat_is_min_max_and_fixed():
    r = codeword()
    q = Quantizer(3, "qat").calibrate(r)
    assert not q.trainable_weights
    codes = q.codes(r).numpy()
    assert codes[np.unravel_index(r.argmin(), r.shape)] == 0
    assert codes[np.unravel_index(r.argmax(), r.shape)] == 7
    # inside the range the error is at most half a step
    assert np.abs(q(r).numpy() - r).max() <= float(q.scale.numpy()) / 2 + 1e-6


def test_per_entry_ranges():
    r = codeword() * np.arange(1, 9, dtype=np.float32)          # entry j has std j + 1
    q = Quantizer(4, "qat", per_entry=True).calibrate(r)
    s = q.scale.numpy()
    assert s.shape == (8,) and np.all(np.diff(s) > 0)


def surrogate(r, s, centre_or_zero, mode, bits, v0):
    """The straight-through surrogate of the forward pass at a base point:
    round(v) replaced by v + (round(v0) - v0), clipping frozen as at v0. Its
    finite differences are what the STE gradients should equal inside the range."""
    p = 2 ** bits - 1
    z = centre_or_zero - s * p / 2 if mode == "lsq" else centre_or_zero
    v = (np.asarray(r, np.float64) - z) / s
    q = np.where((v0 >= 0) & (v0 <= p), v + (np.round(v0) - v0), np.clip(np.round(v0), 0, p))
    return q * s + z


@pytest.mark.parametrize("mode", ["lsq", "lszq"])
def test_learned_step_and_offset_gradients(mode):
    bits, p = 3, 7
    rng = np.random.default_rng(2)
    r = rng.uniform(-3, 3, (64, 4)).astype(np.float32)
    q = Quantizer(bits, mode)
    q.build(r.shape)
    q.scale.assign(0.45)
    q.offset.assign(0.2 if mode == "lsq" else -1.4)
    w = rng.standard_normal(r.shape).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(w * q(r))
    d_s, *d_o = tape.gradient(loss, q.trainable_weights)
    g = 1 / np.sqrt(4 * p)                                       # LSQ's gradient scale, N = 4 per report
    s0, o0 = float(q.scale.numpy()), float(q.offset.numpy())
    z0 = o0 - s0 * p / 2 if mode == "lsq" else o0
    v0 = (r.astype(np.float64) - z0) / s0
    inside = (v0 >= 0) & (v0 <= p)
    assert inside.any() and (v0 < 0).any() and (v0 > p).any()

    eps = 1e-4
    def fd(fn):                                                  # per-element central difference
        return (fn(eps) - fn(-eps)) / (2 * eps)
    ds_el = fd(lambda e: surrogate(r, s0 + e, o0, mode, bits, v0))
    # inside the range: the finite differences of the STE surrogate
    np.testing.assert_allclose((w * ds_el)[inside].sum() * g,
                               float(d_s) - (w * _outside_ds(v0, p, mode))[~inside].sum() * g,
                               rtol=1e-3, atol=1e-3)
    if mode == "lszq":
        dz_el = fd(lambda e: surrogate(r, s0, o0 + e, mode, bits, v0))
        np.testing.assert_allclose(dz_el[inside], 0, atol=1e-6)  # d r_hat / d z = 0 inside
        np.testing.assert_allclose(float(d_o[0]), (w * ~inside).sum() * g, rtol=1e-5)  # 1 outside


def _outside_ds(v0, p, mode):
    """d r_hat / d s outside the range: LSZQ p above, 0 below (docs/methods.md);
    LSQ (centre fixed, z = c - s p/2) its signed Q_P = p/2 above, -Q_N = -p/2 below."""
    if mode == "lszq":
        return np.where(v0 > p, p, 0.0)
    return np.where(v0 > p, p / 2, -p / 2)


def test_outside_gradients_follow_the_formulas():
    """Only clipped values: the step gradient is the formula alone."""
    bits, p = 2, 3
    for mode in ("lsq", "lszq"):
        q = Quantizer(bits, mode)
        r = np.array([[-50.0, 50.0]], np.float32)
        q.build(r.shape)
        q.scale.assign(1.0)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(q(r))
        grads = tape.gradient(loss, q.trainable_weights)
        g = 1 / np.sqrt(2 * p)
        v = (r - (q.offset.numpy() - 1.0 * p / 2 if mode == "lsq" else q.offset.numpy())) / 1.0
        assert float(grads[0]) == pytest.approx(_outside_ds(v, p, mode).sum() * g, rel=1e-5)
        if mode == "lszq":
            assert float(grads[1]) == pytest.approx(2 * g, rel=1e-5)


def test_invalid_settings():
    with pytest.raises(ValueError, match="n_bits"):
        Quantizer(0)
    with pytest.raises(ValueError, match="mode"):
        Quantizer(4, "lloyd")
