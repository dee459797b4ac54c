"""Differentiable quantisers for learned feedback: straight-through rounding and
a uniform quantiser with a learnable step and offset (LSQ / LSQ+).

The TensorFlow counterpart of :mod:`simlink.feedback.bits`: during training
the encoder's output passes through :func:`quantize` (forward exactly the
quantised value, backward the LSQ+ gradients below); at report time
:func:`quantize_indices` gives the integer codes that
:func:`~simlink.feedback.bits.num2bit` turns into the report's bits, and
:func:`dequantize` rebuilds the values from the codes that
:func:`~simlink.feedback.bits.bit2num` reads back (``docs/methods.md``, LORA
feedback).

For an input ``r``, step ``s`` > 0 and offset ``z``, with ``v = (r - z) / s``
and codes ``0 .. p``, ``p = 2**n_bits - 1``::

    q = round(clip(v, 0, p)),    r_hat = q s + z

and the gradients (Esser et al. 2019, LSQ; Bhalgat et al. 2020, LSQ+)::

                    inside 0 <= v <= p     below (v < 0)   above (v > p)
    d r_hat / d r          1                   0               0
    d r_hat / d s     round(v) - v             0               p
    d r_hat / d z          0                   1               1

The step and offset gradients may be scaled by ``g`` (LSQ's
``1 / sqrt(N p)``, :func:`lsq_grad_scale`) so that they keep the size of the
weight gradients whatever the number ``N`` of values sharing one step.
A :class:`~simlink.feedback.bits.UniformQuantizer` ``(lo, hi, bits)`` is the
special case :func:`range_params` ``(lo, hi, bits)``: same codes, same values.
"""
from __future__ import annotations

import math

import tensorflow as tf


def round_ste(x: tf.Tensor) -> tf.Tensor:
    """Round to the nearest integer (ties to even) with gradient 1 (straight through).

    Input / output: ``x`` [...] float, same shape and dtype.
    """
    return x + tf.stop_gradient(tf.round(x) - x)


def lsq_grad_scale(n_values: int, n_bits: int) -> float:
    """LSQ's gradient scale ``1 / sqrt(N p)``, ``N`` values per step, ``p = 2**n_bits - 1``."""
    return 1.0 / math.sqrt(n_values * ((1 << n_bits) - 1))


def range_params(lo: float, hi: float, n_bits: int) -> tuple[float, float]:
    """``(scale, zero)`` of the quantiser whose ``2**n_bits`` cells tile ``[lo, hi]``
    with midpoint reconstruction, as :class:`~simlink.feedback.bits.UniformQuantizer`
    (e.g. the initial step and offset of a learnable quantiser)."""
    step = (hi - lo) / (1 << n_bits)
    return step, lo + step / 2


def _unbroadcast(grad: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """Sum ``grad`` over the axes along which ``like`` was broadcast; shape of ``like``."""
    _, axes = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(grad), s1=tf.shape(like))
    return tf.reshape(tf.reduce_sum(grad, axes), tf.shape(like))


def quantize(r: tf.Tensor, scale: tf.Tensor | float, zero: tf.Tensor | float, n_bits: int,
             grad_scale: float = 1.0) -> tf.Tensor:
    """Uniform quantisation ``r_hat = round(clip((r - z) / s, 0, p)) s + z`` with the
    LSQ+ gradients of the module docstring (``tf.custom_gradient``).

    Parameters
    ----------
    r
        Values [...] float.
    scale, zero
        Step ``s`` > 0 and offset ``z``, broadcastable to ``r`` (scalars, or
        e.g. [n_features] for one learnable pair per feature); variables train.
    n_bits
        Bits per value: codes ``0 .. 2**n_bits - 1``.
    grad_scale
        Factor ``g`` on the step and offset gradients (:func:`lsq_grad_scale`).

    Returns
    -------
    r_hat
        [...] the broadcast shape of ``r``, ``scale``, ``zero``; ``r``'s dtype.
    """
    r = tf.convert_to_tensor(r)
    s = tf.cast(tf.convert_to_tensor(scale), r.dtype)
    z = tf.cast(tf.convert_to_tensor(zero), r.dtype)
    p = float((1 << n_bits) - 1)

    @tf.custom_gradient
    def _quantize(r, s, z):
        v = (r - z) / s
        q = tf.round(tf.clip_by_value(v, 0.0, p))

        def grad(dy):
            below, above = v < 0.0, v > p
            inside = ~(below | above)
            zeros = tf.zeros_like(v)
            d_r = tf.where(inside, dy, zeros)
            d_s = dy * tf.where(inside, q - v, tf.where(above, p, zeros)) * grad_scale
            d_z = dy * tf.where(inside, zeros, tf.ones_like(v)) * grad_scale
            return _unbroadcast(d_r, r), _unbroadcast(d_s, s), _unbroadcast(d_z, z)

        return q * s + z, grad

    return _quantize(r, s, z)


def quantize_indices(r: tf.Tensor, scale: tf.Tensor | float, zero: tf.Tensor | float,
                     n_bits: int) -> tf.Tensor:
    """The integer codes ``q`` of :func:`quantize` (no gradient), the input of
    :func:`~simlink.feedback.bits.num2bit`.

    Input: as :func:`quantize`. Output: [...] int64 in ``[0, 2**n_bits)``.
    """
    r = tf.convert_to_tensor(r)
    v = (r - tf.cast(zero, r.dtype)) / tf.cast(scale, r.dtype)
    return tf.cast(tf.round(tf.clip_by_value(v, 0.0, float((1 << n_bits) - 1))), tf.int64)


def dequantize(codes: tf.Tensor, scale: tf.Tensor | float, zero: tf.Tensor | float,
               dtype: tf.DType = tf.float32) -> tf.Tensor:
    """Values ``q s + z`` of integer codes (e.g. from :func:`~simlink.feedback.bits.bit2num`):
    the receiver's side of :func:`quantize`.

    Input: ``codes`` [...] integers, ``scale``/``zero`` broadcastable. Output: [...] ``dtype``.
    """
    return tf.cast(codes, dtype) * tf.cast(scale, dtype) + tf.cast(zero, dtype)
