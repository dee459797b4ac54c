"""Straight-through quantisers: the forward pass is the NumPy quantiser and the
report's bits, the backward pass the LSQ / LSQ+ gradients."""
import numpy as np
import pytest
import tensorflow as tf

from simlink.feedback.bits import UniformQuantizer, bit2num, num2bit
from simlink.feedback.ste import (dequantize, lsq_grad_scale, quantize, quantize_indices,
                                  range_params, round_ste)

pytestmark = pytest.mark.fast


def values(q: UniformQuantizer, n: int, seed: int = 0) -> np.ndarray:
    """Values well inside random cells (float32 rounding cannot move them across
    a cell edge), and values beyond both ends."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 1 << q.bits, n)
    inside = q.lo + (cells + rng.uniform(0.05, 0.95, n)) * q.step
    outside = np.array([q.lo - 3 * q.step, q.lo - 0.4 * q.step, q.hi + 0.4 * q.step, q.hi + 5.0])
    return np.concatenate([inside, outside])


def test_round_ste_rounds_forward_and_passes_gradients_through():
    x = tf.constant([-1.6, -0.4, 0.4, 1.5, 2.5, 2.7])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = round_ste(x)
        loss = tf.reduce_sum(3.0 * y)
    np.testing.assert_array_equal(y.numpy(), np.round(x.numpy()))
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), 3.0)


@pytest.mark.parametrize("bits", [1, 3, 6])
def test_forward_is_the_numpy_quantizer_and_its_bits(bits):
    q = UniformQuantizer(lo=-1.5, hi=2.0, bits=bits)
    r = values(q, 200, seed=bits)
    s, z = range_params(q.lo, q.hi, bits)
    codes = quantize_indices(tf.constant(r, tf.float32), s, z, bits).numpy()
    np.testing.assert_array_equal(codes, q.index(r))
    r_hat = quantize(tf.constant(r, tf.float32), s, z, bits).numpy()
    np.testing.assert_allclose(r_hat, q.value(q.index(r)), rtol=0, atol=1e-6)
    # codes -> report bits -> codes -> values: exactly the training-time forward
    bits_rows = num2bit(codes, bits)
    assert bits_rows.shape == (len(r), bits) and set(np.unique(bits_rows)) <= {0, 1}
    back = bit2num(bits_rows)
    np.testing.assert_array_equal(back, codes)
    np.testing.assert_array_equal(dequantize(back, s, z).numpy(), r_hat)


def test_gradients_are_the_lsq_plus_formulas():
    """Per-feature step and offset (broadcast over the batch), against the closed form."""
    bits, p = 3, 7.0
    rng = np.random.default_rng(1)
    r = tf.constant(rng.uniform(-2.0, 3.0, (64, 5)), tf.float32)
    s = tf.Variable(rng.uniform(0.2, 0.6, 5).astype(np.float32))
    z = tf.Variable(rng.uniform(-1.0, 0.0, 5).astype(np.float32))
    w = tf.constant(rng.standard_normal((64, 5)), tf.float32)    # upstream gradient
    g = lsq_grad_scale(64, bits)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(r)
        loss = tf.reduce_sum(w * quantize(r, s, z, bits))
        scaled = tf.reduce_sum(w * quantize(r, s, z, bits, grad_scale=g))
    d_r, d_s, d_z = (x.numpy() for x in tape.gradient(loss, [r, s, z]))

    v = (r.numpy() - z.numpy()) / s.numpy()
    below, above = v < 0, v > p
    inside = ~(below | above)
    assert inside.any() and below.any() and above.any()
    wn = w.numpy()
    np.testing.assert_array_equal(d_r, wn * inside)
    np.testing.assert_allclose(d_s, (wn * np.where(inside, np.round(v) - v, 0)
                                     + wn * above * p).sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d_z, (wn * ~inside).sum(0), rtol=1e-6, atol=1e-6)

    d_r2, d_s2, d_z2 = (x.numpy() for x in tape.gradient(scaled, [r, s, z]))
    np.testing.assert_array_equal(d_r2, d_r)
    np.testing.assert_allclose(d_s2, g * d_s, rtol=1e-6)
    np.testing.assert_allclose(d_z2, g * d_z, rtol=1e-6)
    assert g == pytest.approx(1 / np.sqrt(64 * 7))


def test_quantize_traces_into_compiled_code():
    s = tf.Variable(0.5)

    @tf.function(jit_compile=True)
    def step(r):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(quantize(r, s, 0.0, 2))
        return loss, tape.gradient(loss, s)

    loss, d_s = step(tf.constant([0.1, 0.8, 3.0]))
    # codes 0, 2 (0.8 / 0.5 = 1.6 -> 2), 3 (clipped): values 0, 1, 1.5
    assert float(loss) == pytest.approx(2.5)
    assert float(d_s) == pytest.approx((0 - 0.2) + (2 - 1.6) + 3)
