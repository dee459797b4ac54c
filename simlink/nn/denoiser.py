"""Lightweight time-conditioned CNN denoiser (DM-VB, ``docs/methods.md``), stacked over experts.

One :class:`ExpertCNN` holds ``K`` independent denoisers whose weights carry a
leading expert axis, so all ``K`` are trained and evaluated in ONE compiled
call (a mixture-of-experts prior needs every expert at every sampling step;
a Python loop of calls over experts would run ``K`` small programs in
sequence). Inside that call each expert's network runs on its own: on CPU,
XLA runs the alternative, one grouped convolution over the experts' packed
channels per layer (the fast path of cuDNN on GPUs), 2.2x slower
(``benchmarks/dmvb.py --latency``).

Per expert, for a real image ``[H, W, 2]`` and a step index ``t``:
sinusoidal embedding of ``t`` -> one dense layer -> scale ``g`` and bias ``b``
(size ``C``); 3x3 convs ``2 -> C/2`` (ReLU) ``-> C``; channel-wise affine
``F <- (1 + g) * F + b`` at every pixel; 3x3 convs ``C -> C/2`` (ReLU)
``-> C/4`` (ReLU) ``-> 2``. The scale is ``1 + g`` rather than ``g`` so that a
freshly initialised network passes its features through instead of
multiplying them by a near-zero random scale.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import tensorflow as tf


def conv_widths(width: int) -> list[int]:
    """Channel counts along the network: ``[2, C/2, C, C/2, C/4, 2]``."""
    return [2, max(1, width // 2), width, max(1, width // 2), max(1, width // 4), 2]


#: index of the conv layer whose output the time affine modulates
_AFFINE_AFTER = 1


def sinusoidal_embedding(t: tf.Tensor, dim: int) -> tf.Tensor:
    """Transformer position embedding of step indices.

    Input: ``t`` [B] int. Output: [B, dim] float32 (``sin`` half, ``cos`` half).
    """
    half = dim // 2
    freqs = tf.exp(-np.log(10000.0) * tf.range(half, dtype=tf.float32) / half)
    arg = tf.cast(t, tf.float32)[:, None] * freqs[None, :]
    return tf.concat([tf.sin(arg), tf.cos(arg)], axis=-1)


def _pack(x: tf.Tensor) -> tf.Tensor:
    """[K, B, H, W, C] -> [B, H, W, K*C]: experts side by side on the channel axis."""
    k, c = tf.shape(x)[0], tf.shape(x)[-1]
    x = tf.transpose(x, [1, 2, 3, 0, 4])
    return tf.reshape(x, tf.concat([tf.shape(x)[:3], [k * c]], 0))


def _unpack(x: tf.Tensor, n_experts: int) -> tf.Tensor:
    """[B, H, W, K*C] -> [K, B, H, W, C] (inverse of :func:`_pack`)."""
    s = tf.shape(x)
    x = tf.reshape(x, tf.concat([s[:3], [n_experts, s[3] // n_experts]], 0))
    return tf.transpose(x, [3, 0, 1, 2, 4])


def _expert_conv(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """Per-expert 3x3 'same' convolution as ONE grouped convolution.

    Input: ``x`` [B, H, W, K*ci] packed, ``kernel`` [K, 3, 3, ci, co], ``bias`` [K, co].
    Output: [B, H, W, K*co] packed. ``tf.nn.conv2d`` runs ``K`` groups when its
    filter has ``ci`` input channels and the input ``K*ci``.
    """
    k, _, _, ci, co = kernel.shape
    kernel = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]), [3, 3, ci, k * co])
    return tf.nn.conv2d(x, kernel, 1, "SAME") + tf.reshape(bias, [k * co])


def denoise(weights: Mapping[str, tf.Tensor], x: tf.Tensor, t: tf.Tensor,
            grouped: bool = False) -> tf.Tensor:
    """Predicted noise of every expert, as a pure function of the weights (so
    compiled functions that take the weights as arguments serve every trained
    network of the same shapes).

    Input: ``weights`` as in :meth:`ExpertCNN.get_state`, ``x`` [K, B, H, W, 2]
    float32 (each expert its own image batch; broadcast one batch for a shared
    input), ``t`` [B] int step indices. Output: [K, B, H, W, 2] float32.
    ``grouped``: all experts in one grouped convolution per layer, or (the
    default) each expert's network on its own: the same arithmetic as ``K``
    dense convolutions per layer in the same compiled graph, which XLA runs
    2.2x faster on CPU (``benchmarks/dmvb.py --latency``).
    """
    n_experts, emb_dim = weights["time/kernel"].shape[:2]
    if not grouped and n_experts > 1:
        return tf.concat([denoise({n: w[k:k + 1] for n, w in weights.items()}, x[k:k + 1], t,
                                  grouped=True) for k in range(n_experts)], 0)
    n_layers = len(conv_widths(1)) - 1
    emb = sinusoidal_embedding(t, emb_dim)                                   # [B, d]
    gb = tf.einsum("bd,kdc->kbc", emb, weights["time/kernel"]) + weights["time/bias"][:, None]
    g, b = (_pack(v) for v in tf.split(gb[:, :, None, None, :], 2, axis=-1))  # [B, 1, 1, K*C]
    x = _pack(x)
    for i in range(n_layers):
        x = _expert_conv(x, weights[f"conv{i}/kernel"], weights[f"conv{i}/bias"])
        if i == _AFFINE_AFTER:
            x = (1.0 + g) * x + b
        elif i < n_layers - 1:
            x = tf.nn.relu(x)
    return _unpack(x, n_experts)


class ExpertCNN(tf.Module):
    """``K`` stacked time-conditioned CNN denoisers (weights of :func:`denoise`),
    an unconditional :class:`~simlink.nn.diffusion.Denoiser`.

    Weights live in ``tf.Variable`` s named as in :meth:`get_state`; build a
    fresh network with :meth:`init`, a trained one with ``ExpertCNN(state)``.
    """

    def __init__(self, state: dict[str, np.ndarray]):
        super().__init__(name="expert_cnn")
        self.weights = {k: tf.Variable(np.asarray(v, np.float32), name=k.replace("/", "_"))
                        for k, v in sorted(state.items())}

    @classmethod
    def init(cls, n_experts: int, width: int, emb_dim: int,
             rng: np.random.Generator) -> "ExpertCNN":
        """He-normal kernels and zero biases drawn from ``rng``."""
        w = conv_widths(width)
        state = {"time/kernel": rng.standard_normal((n_experts, emb_dim, 2 * width))
                 * np.sqrt(1.0 / emb_dim),
                 "time/bias": np.zeros((n_experts, 2 * width))}
        for i, (ci, co) in enumerate(zip(w[:-1], w[1:])):
            state[f"conv{i}/kernel"] = (rng.standard_normal((n_experts, 3, 3, ci, co))
                                        * np.sqrt(2.0 / (9 * ci)))
            state[f"conv{i}/bias"] = np.zeros((n_experts, co))
        return cls(state)

    @property
    def n_experts(self) -> int:
        return int(self.weights["time/kernel"].shape[0])

    @property
    def trainable(self) -> list[tf.Variable]:
        return list(self.weights.values())

    def n_params(self) -> int:
        """Learned parameters of all experts together."""
        return int(sum(np.prod(v.shape) for v in self.weights.values()))

    def get_state(self) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in self.weights.items()}

    def tensors(self) -> dict[str, tf.Tensor]:
        """Current weight values, the argument of :func:`denoise` in compiled code."""
        return {k: tf.convert_to_tensor(v) for k, v in self.weights.items()}

    def __call__(self, x: tf.Tensor, t: tf.Tensor, cond: None = None) -> tf.Tensor:
        """:func:`denoise` with this network's weights: ``x`` [K, B, H, W, 2], ``t`` [B].

        The experts are unconditional priors: a ``cond`` is an error rather than
        silently ignored, so a conditional method cannot train one by mistake.
        """
        if cond is not None:
            raise TypeError("ExpertCNN is an unconditional denoiser: cond must be None")
        return denoise(self.weights, x, t)
