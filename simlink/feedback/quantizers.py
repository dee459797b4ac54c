"""Quantiser layers of learned feedback: QAT, LSQ and LSZQ (docs/methods.md, "LORA feedback").

One Keras layer, three modes, all on :func:`simlink.feedback.ste.quantize`
(forward ``r_hat = round(clip((r - z)/s, 0, p)) s + z``, straight-through
rounding, the LSQ+ step and offset gradients):

- ``qat``: step ``s`` and offset ``z`` fixed (set once by :meth:`Quantizer.calibrate`
  from the min and max of the calibration values); the network learns to fit them.
- ``lsq``: ``s`` learned, the centre ``c`` of the range fixed (``z = c - s p / 2``):
  the gradient reaching ``s`` is then LSQ's signed one, ``round(u) - u``
  inside, ``-Q_N`` / ``Q_P`` outside (``u = (r - c)/s``, ``Q_P = Q_N = p/2``).
- ``lszq``: ``s`` and ``z`` both learned (LSQ+).

Learned steps start at LSQ's ``2 mean|r - c| / sqrt(Q_P)`` and their
gradients are scaled by LSQ's ``1 / sqrt(N p)``, ``N`` the values per report.
At report time :meth:`Quantizer.codes` gives the integer codes that
:func:`~simlink.feedback.bits.num2bit` turns into bits, and
:meth:`Quantizer.dequantize` is the base station's side.
"""
from __future__ import annotations

from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from simlink.feedback.ste import dequantize, lsq_grad_scale, quantize, quantize_indices

QuantizerMode = Literal["qat", "lsq", "lszq"]


class Quantizer(keras.layers.Layer):
    """Uniform ``n_bits`` quantiser of a codeword, one step and offset per
    codeword entry (``per_entry``) or shared by all.

    Parameters
    ----------
    n_bits : int
        Bits per value (codes ``0 .. 2**n_bits - 1``).
    mode : "qat", "lsq" or "lszq"
        What is learned (module docstring).
    per_entry : bool
        One ``(s, z)`` per codeword entry instead of one for the whole codeword.

    Input: ``r`` [B, M] float32. Output: ``r_hat`` [B, M] float32 (:meth:`call`).
    Call :meth:`calibrate` on representative values before the first use.
    """

    def __init__(self, n_bits: int, mode: QuantizerMode = "lszq", per_entry: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= n_bits <= 16:
            raise ValueError(f"n_bits must lie in 1..16, got {n_bits}")
        if mode not in ("qat", "lsq", "lszq"):
            raise ValueError(f"unknown quantiser mode {mode!r}")
        self.n_bits, self.mode, self.per_entry = n_bits, mode, per_entry
        self.p = float((1 << n_bits) - 1)

    def build(self, input_shape) -> None:
        self.m = int(input_shape[-1])
        shape = (self.m,) if self.per_entry else ()
        self.scale = self.add_weight(shape=shape, initializer="ones", name="scale",
                                     trainable=self.mode != "qat")
        # lsq learns the step around a fixed centre; lszq learns the offset itself
        self.offset = self.add_weight(shape=shape, initializer="zeros", name="offset",
                                      trainable=self.mode == "lszq")

    def _scale_zero(self) -> tuple[tf.Tensor, tf.Tensor]:
        """``(s, z)`` of the forward pass (``offset`` is the centre for ``lsq``)."""
        s = tf.convert_to_tensor(self.scale)
        if self.mode == "lsq":
            return s, tf.convert_to_tensor(self.offset) - s * (self.p / 2)
        return s, tf.convert_to_tensor(self.offset)

    def calibrate(self, r: np.ndarray | tf.Tensor) -> "Quantizer":
        """Set ``(s, z)`` from values ``r`` [N, M]: the min-max range for ``qat``,
        LSQ's initial step around the mean for ``lsq`` / ``lszq``."""
        r = np.asarray(r, np.float64)
        if not self.built:
            self.build(r.shape)
        axis = 0 if self.per_entry else None
        if self.mode == "qat":
            lo, hi = r.min(axis=axis), r.max(axis=axis)
            s = np.maximum(hi - lo, np.finfo(np.float32).tiny) / self.p
            self.scale.assign(np.asarray(s, np.float32))
            self.offset.assign(np.asarray(lo, np.float32))
            return self
        c = r.mean(axis=axis)
        s = 2 * np.abs(r - c).mean(axis=axis) / np.sqrt(max(self.p / 2, 1.0))
        s = np.maximum(s, np.finfo(np.float32).tiny)
        self.scale.assign(np.asarray(s, np.float32))
        self.offset.assign(np.asarray(c if self.mode == "lsq" else c - s * self.p / 2, np.float32))
        return self

    def set_range(self, scale: np.ndarray | float, zero: np.ndarray | float) -> "Quantizer":
        """Fix ``(s, z)`` directly (a closed-form design); ``zero`` is ``z`` for every mode."""
        s = np.asarray(scale, np.float32)
        z = np.asarray(zero, np.float32)
        self.scale.assign(np.broadcast_to(s, self.scale.shape))
        self.offset.assign(np.broadcast_to(z + s * self.p / 2 if self.mode == "lsq" else z,
                                           self.offset.shape))
        return self

    def call(self, r: tf.Tensor) -> tf.Tensor:
        s, z = self._scale_zero()
        return quantize(r, s, z, self.n_bits, lsq_grad_scale(self.m, self.n_bits))

    def codes(self, r: tf.Tensor) -> tf.Tensor:
        """Integer codes [B, M] int64 in ``[0, 2**n_bits)`` of ``r`` [B, M]."""
        return quantize_indices(r, *self._scale_zero(), self.n_bits)

    def dequantize(self, codes: tf.Tensor) -> tf.Tensor:
        """Values [B, M] float32 of codes [B, M] (the base station's side)."""
        return dequantize(codes, *self._scale_zero())
