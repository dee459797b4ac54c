"""LORA: a learned linear encoder and a deep-unfolded ISTA decoder whose
regulariser is one MLP shared by every block (docs/methods.md, "LORA feedback";
Xu et al., the LORA feedback paper).

Encoder ``v = A x`` (``A`` [M, 2 Nc Nt], learned). Decoder, from ``x_0 = 0``::

    x_t = x_{t-1} - a_t (A^T (A x_{t-1} - v_hat) + R(x_{t-1})),   t = 1 .. n_blocks

with ``R(x) = W2 relu(W1 x)`` (no biases, as the paper's eq. 25) and a learned
step ``a_t`` per block. Parameters: encoder ``2 Nc Nt M``; decoder ``2 (2 Nc
Nt) width + n_blocks`` (the BS knows ``A``: it is shared, not counted twice).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from simlink.estimators.base import register
from simlink.estimators.compressed.base import LearnedFeedback
from simlink.estimators.compressed.unfolding import ista_step
from simlink.system import PosInt


def linear_encoder(n_in: int, m: int, seed: int, trainable: bool = True) -> keras.layers.Dense:
    """``v = A x`` as a bias-free Dense layer (kernel ``A^T`` [n_in, m]) with
    i.i.d. ``N(0, 1/n_in)`` entries, so that ``A A^T`` is close to the identity."""
    init = keras.initializers.RandomNormal(stddev=1.0 / np.sqrt(n_in), seed=seed)
    layer = keras.layers.Dense(m, use_bias=False, kernel_initializer=init, trainable=trainable,
                               name="encoder")
    layer.build((None, n_in))
    return layer


class UnfoldedDecoder(keras.layers.Layer):
    """LORA's decoder: ``n_blocks`` ISTA blocks with steps ``a_t`` and one shared MLP.

    Parameters
    ----------
    encoder : keras.layers.Dense
        The encoder whose kernel ``A^T`` the gradient steps use.
    n_blocks : int
        Unfolded blocks.
    width : int
        Hidden width of the regulariser MLP.
    seed : int
        Initialisation of the MLP.

    Input: ``v_hat`` [B, M] float32. Output: ``x_hat`` [B, 2 Nc Nt] float32.
    """

    def __init__(self, encoder: keras.layers.Dense, n_blocks: int, width: int, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        n_in = int(encoder.kernel.shape[0])
        self.steps = self.add_weight(shape=(n_blocks,), initializer="ones", name="steps")
        self.hidden = keras.layers.Dense(width, activation="relu", use_bias=False, name="mlp_in",
                                         kernel_initializer=keras.initializers.HeNormal(seed))
        self.out = keras.layers.Dense(n_in, use_bias=False, name="mlp_out",
                                      kernel_initializer=keras.initializers.GlorotUniform(seed + 1))
        self.hidden.build((None, n_in))
        self.out.build((None, width))

    def regulariser(self, x: tf.Tensor) -> tf.Tensor:
        """``R(x) = W2 relu(W1 x)``: [B, n] -> [B, n]."""
        return self.out(self.hidden(x))

    def call(self, v: tf.Tensor) -> tf.Tensor:
        kernel = self.encoder.kernel
        x = tf.zeros((tf.shape(v)[0], kernel.shape[0]), v.dtype)
        for t in range(self.steps.shape[0]):
            x = ista_step(x, v, kernel, self.steps[t], self.regulariser)
        return x


@register
class Lora(LearnedFeedback):
    """LORA deep-unfolded CSI feedback with a learned quantiser, fed back as bits.

    Parameters
    ----------
    n_blocks : int
        Unfolded ISTA blocks of the decoder (the paper: 4 to 7).
    width : int
        Hidden width of the shared regulariser MLP (the paper: 1024).
    """
    kind = "lora_fb"

    n_blocks: PosInt = 7
    width: PosInt = 1024

    def networks(self, n_in: int, m: int, n_ports: int, seed: int):
        encoder = linear_encoder(n_in, m, seed)
        return encoder, UnfoldedDecoder(encoder, self.n_blocks, self.width, seed + 1)
