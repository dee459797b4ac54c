"""ISTA feedback: a Gaussian measurement matrix and l1-regularised recovery, no learning
(docs/methods.md, "LORA feedback", baselines).

UE: ``v = A x`` with ``A`` [M, 2 Nc Nt] i.i.d. ``N(0, 1/(2 Nc Nt))`` (drawn
from the fit's seed), quantised with a fixed min-max range. BS: ``n_iter``
iterations of ``x <- soft(x - a A^T (A x - v_hat), a lam)`` from ``x = 0``
with ``a = 1 / ||A||_2^2``, on the scaled angular-delay CSI, where
multipath makes it sparse.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from simlink.channels.dataset import Dataset
from simlink.estimators.base import register
from simlink.estimators.compressed.base import CompressedFeedback
from simlink.estimators.compressed.lora import linear_encoder
from simlink.estimators.compressed.unfolding import ista_step, soft_threshold
from simlink.system import PosFloat, PosInt


class IstaDecoder(keras.layers.Layer):
    """``n_iter`` plain ISTA iterations on the encoder's matrix (a ``tf.while_loop``).

    Parameters
    ----------
    encoder : keras.layers.Dense
        The measurement matrix ``A`` (its kernel is ``A^T``).
    n_iter : int
        Iterations.
    lam : float
        l1 weight ``lam``.

    Input: ``v_hat`` [B, M] float32. Output: ``x_hat`` [B, 2 Nc Nt] float32.
    Call :meth:`set_step` once ``A`` is final.
    """

    def __init__(self, encoder: keras.layers.Dense, n_iter: int, lam: float, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.n_iter, self.lam = encoder, n_iter, lam
        self.step = self.add_weight(shape=(), initializer="ones", name="step", trainable=False)

    def set_step(self) -> None:
        """``a = 1 / ||A||_2^2``, the step that makes every iteration a descent."""
        self.step.assign(1.0 / np.linalg.norm(self.encoder.kernel.numpy(), 2) ** 2)

    def call(self, v: tf.Tensor) -> tf.Tensor:
        kernel, a = self.encoder.kernel, self.step

        def body(i, x):
            return i + 1, ista_step(x, v, kernel, a, prox=lambda z: soft_threshold(z, a * self.lam))

        x0 = tf.zeros((tf.shape(v)[0], kernel.shape[0]), v.dtype)
        return tf.while_loop(lambda i, x: i < self.n_iter, body, (0, x0))[1]


@register
class Ista(CompressedFeedback):
    """ISTA recovery from a Gaussian measurement matrix (no learning), fed back as bits.

    Parameters
    ----------
    n_iter : int
        ISTA iterations at the base station.
    lam : float
        l1 weight on the scaled angular-delay CSI (unit mean power per entry).
    """
    kind = "ista"

    n_iter: PosInt = 300
    lam: PosFloat = 0.05

    def networks(self, n_in: int, m: int, n_ports: int, seed: int):
        encoder = linear_encoder(n_in, m, seed, trainable=False)
        return encoder, IstaDecoder(encoder, self.n_iter, self.lam)

    def prepare(self, train: Dataset, scale: float, rng: np.random.Generator) -> None:
        self.decoder_.set_step()
