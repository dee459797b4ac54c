"""The iteration every unfolded decoder repeats: a gradient step on
``||A x - v||^2 / 2``, a regulariser, a proximal map (docs/methods.md, "LORA feedback")."""
from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def soft_threshold(x: tf.Tensor, tau: tf.Tensor | float) -> tf.Tensor:
    """``sign(x) max(|x| - tau, 0)``, the proximal map of ``tau ||x||_1``. Shapes as ``x``."""
    return tf.sign(x) * tf.nn.relu(tf.abs(x) - tau)


def ista_step(x: tf.Tensor, v: tf.Tensor, kernel: tf.Tensor, step: tf.Tensor | float,
              regulariser: Callable[[tf.Tensor], tf.Tensor] | None = None,
              prox: Callable[[tf.Tensor], tf.Tensor] | None = None) -> tf.Tensor:
    """One block ``x - a (A^T (A x - v) + R(x))``, then ``prox`` when given.

    Parameters
    ----------
    x : [B, n] float32
        Current estimate.
    v : [B, m] float32
        Received codeword.
    kernel : [n, m] float32
        The encoder's Keras kernel ``K = A^T`` (``v = x K``).
    step : scalar
        Step ``a``.
    regulariser : callable, optional
        ``R``: [B, n] -> [B, n] (LORA's MLP; None: no term).
    prox : callable, optional
        Applied after the step (ISTA's soft threshold; None: identity).

    Returns
    -------
    [B, n] float32
    """
    grad = tf.matmul(tf.matmul(x, kernel) - v, kernel, transpose_b=True)
    if regulariser is not None:
        grad = grad + regulariser(x)
    x = x - step * grad
    return x if prox is None else prox(x)
