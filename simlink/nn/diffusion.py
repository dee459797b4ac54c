"""DDPM pieces shared by the diffusion methods.

Conventions (``docs/methods.md``, DM-VB):

- The diffusion state is complex: ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``
  with ``eps ~ CN(0, I)``, i.e. unit power per complex entry like the
  unit-power channel entries. With this convention Tweedie reads
  ``E[x_0 | x_t] = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)``, the score is
  ``-eps / sqrt(1 - abar_t)`` and the likelihood score of ``y = A x_0 + n``
  is ``A^H C^-1 (y - ...)`` without factors of 2.
- Networks see the real image ``sqrt(2) [Re x, Im x]`` (unit variance per real
  entry, the standard real DDPM) and predict ``eps`` in the same scaling:
  :func:`to_image` / :func:`from_image` map between the two.
- Time indices are 0-based: index ``t`` in ``[0, T)`` is step ``t + 1`` of the paper.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np
import tensorflow as tf

_SQRT2 = float(np.sqrt(2.0))


@dataclass(frozen=True)
class Schedule:
    """Noise schedule ``beta_t`` [T] (float64) and what derives from it."""
    beta: np.ndarray

    @classmethod
    def linear(cls, n_steps: int) -> "Schedule":
        """Ho et al.'s linear schedule ``1e-4 -> 0.02`` over 1000 steps, rescaled
        by ``1000 / n_steps`` (as in improved DDPM) so that ``abar_T < 1e-4``, i.e.
        pure noise, whatever the number of steps; ``beta_T = 20 / n_steps`` needs
        ``n_steps > 20``."""
        if n_steps <= 20:
            raise ValueError(f"linear schedule needs more than 20 steps (beta_T = 20 / n_steps), "
                             f"got {n_steps}")
        scale = 1000.0 / n_steps
        return cls(np.linspace(1e-4 * scale, 0.02 * scale, n_steps))

    @property
    def n_steps(self) -> int:
        return int(self.beta.shape[0])

    @property
    def alpha(self) -> np.ndarray:
        return 1.0 - self.beta

    @property
    def abar(self) -> np.ndarray:
        return np.cumprod(self.alpha)

    @property
    def elbo_weight(self) -> np.ndarray:
        """Weight ``w_t = beta_t / (alpha_t (1 - abar_t))`` of ``||eps - eps_theta||^2``
        in the ELBO: the complex-Gaussian KL between the true and the model reverse
        step of variance ``beta_t`` (eps-parametrised means)."""
        return self.beta / (self.alpha * (1.0 - self.abar))

    def tensors(self) -> dict[str, tf.Tensor]:
        """``beta``, ``alpha``, ``abar`` as float32 tensors [T] for graph code."""
        return {k: tf.constant(getattr(self, k), tf.float32) for k in ("beta", "alpha", "abar")}


def to_image(x: tf.Tensor) -> tf.Tensor:
    """Complex [..., H, W] -> real network image [..., H, W, 2] (unit variance per entry)."""
    return _SQRT2 * tf.stack([tf.math.real(x), tf.math.imag(x)], axis=-1)


def from_image(img: tf.Tensor) -> tf.Tensor:
    """Real network image [..., H, W, 2] -> complex [..., H, W] (inverse of :func:`to_image`)."""
    return tf.complex(img[..., 0], img[..., 1]) / _SQRT2


def complex_normal(shape, seed: tf.Tensor) -> tf.Tensor:
    """Stateless ``CN(0, 1)`` draws of ``shape`` (complex64) from a [2] int seed."""
    re_im = tf.random.stateless_normal(tf.concat([shape, [2]], 0), seed, dtype=tf.float32)
    return from_image(re_im)


def noisy(x0: tf.Tensor, eps: tf.Tensor, abar_t: tf.Tensor) -> tf.Tensor:
    """Forward process ``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps``
    (``abar_t`` broadcast against ``x0``; real or complex alike)."""
    abar_t = tf.cast(abar_t, x0.dtype)
    return tf.sqrt(abar_t) * x0 + tf.sqrt(1.0 - abar_t) * eps


def tweedie(x_t: tf.Tensor, eps: tf.Tensor, abar_t: tf.Tensor) -> tf.Tensor:
    """One-step denoise ``(x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)`` = ``E[x_0 | x_t]``."""
    abar_t = tf.cast(abar_t, x_t.dtype)
    return (x_t - tf.sqrt(1.0 - abar_t) * eps) / tf.sqrt(abar_t)


class Denoiser(Protocol):
    """A noise predictor ``eps_theta(x_t, t, cond)``: what the training loss and
    the sampler need of a diffusion network.

    Input: ``x_t`` the noisy state in the predictor's own domain (a network's
    real images; complex states for the sampler's mixture score), ``t`` int32
    step indices, [B] or a scalar for the whole batch (the sampler's loop
    index), ``cond`` the condition (``None`` for an unconditional prior; e.g.
    the UL CSI of a conditional prior), any nest of tensors.
    Output: predicted ``eps``, shaped and typed like ``x_t``.
    """

    def __call__(self, x_t: tf.Tensor, t: tf.Tensor, cond: Any = None) -> tf.Tensor: ...


#: ``lik_fn(x_t, t)``: the likelihood score ``grad log p(y | x_t)``, shaped like ``x_t``
ScoreFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def ddpm_loss(denoiser: Denoiser, x0: tf.Tensor, seed: tf.Tensor, abar: tf.Tensor,
              cond: Any = None) -> tf.Tensor:
    """Ho et al.'s simple objective on one batch: ``mean ||eps - eps_theta(x_t, t, cond)||^2``
    with ``t`` uniform in ``[0, T)`` per sample and ``x_t`` = :func:`noisy` ``(x0, eps, abar_t)``.

    Input: ``x0`` [B, ...] float32 clean samples in the denoiser's domain (e.g.
    :func:`to_image` of complex channels), ``seed`` [2] int (``t`` is drawn
    from ``seed``, the real ``eps ~ N(0, I)`` from ``seed + 1``), ``abar`` [T]
    float32, ``cond`` passed to the denoiser. Output: scalar float32.
    """
    shape = tf.shape(x0)
    t = tf.random.stateless_uniform([shape[0]], seed, 0, tf.shape(abar)[0], dtype=tf.int32)
    eps = tf.random.stateless_normal(shape, seed + 1)
    abar_t = tf.reshape(tf.gather(abar, t), tf.concat([[-1], tf.ones_like(shape[1:])], 0))
    return tf.reduce_mean(tf.square(eps - denoiser(noisy(x0, eps, abar_t), t, cond)))


def gaussian_eps(R: np.ndarray, sched: Schedule) -> Denoiser:
    """The exact noise prediction of a ``CN(0, R)`` prior, the ideal denoiser
    a network trained on Gaussian data tends to (law 7's calibration):
    ``eps(x_t, t) = sqrt(1 - abar_t) (abar_t R + (1 - abar_t) I)^-1 x_t``.

    Input: ``R`` [n, n] Hermitian covariance of the vectorised state;
    ``x_t`` [..., n] complex64 and a scalar step ``t`` (as the sampler calls
    it; ``cond`` ignored). Output: [..., n] complex64.
    """
    lam, Q = np.linalg.eigh(R)
    abar = sched.abar[:, None]
    gain = tf.constant(np.sqrt(1 - abar) / (abar * lam + 1 - abar), tf.complex64)   # [T, n]
    Q_t = tf.constant(Q, tf.complex64)

    def eps(x: tf.Tensor, t: tf.Tensor, cond: Any = None) -> tf.Tensor:
        coeff = tf.linalg.matvec(Q_t, x, adjoint_a=True)
        return tf.linalg.matvec(Q_t, gain[t] * coeff)
    return eps


def posterior_sample(eps_fn: Denoiser, lik_fn: ScoreFn, x_T: tf.Tensor,
                     sched: dict[str, tf.Tensor], zeta: tf.Tensor,
                     t_start: tf.Tensor | int | None = None, cond: Any = None) -> tf.Tensor:
    """Deterministic posterior sampling (no injected noise), ``t = t_start .. 0``:
    ``x_{t-1} = (x_t + beta_t (-eps_fn(x_t, t, cond) / sqrt(1 - abar_t)
    + zeta lik_fn(x_t, t))) / sqrt(alpha_t)``.

    Input: ``eps_fn`` the (mixture) noise prediction on complex states, called
    as ``eps_fn(x_t, t, cond)`` with a scalar ``t``; ``lik_fn(x_t, t)`` the
    likelihood score ``grad log p(y | x_t)``; ``x_T`` the complex start [...]
    at step ``t_start`` (default ``T - 1``: pure noise); ``sched`` from
    :meth:`Schedule.tensors`; ``cond`` the prior's condition, passed through.
    Output: ``x_0`` [...] complex, the estimate. Graph-friendly (``tf.while_loop``).
    """
    beta, alpha, abar = sched["beta"], sched["alpha"], sched["abar"]
    zeta = tf.cast(zeta, x_T.dtype)

    def body(t, x):
        c = lambda v: tf.cast(v[t], x.dtype)  # noqa: E731
        prior = -eps_fn(x, t, cond) / tf.sqrt(1.0 - c(abar))
        score = prior + zeta * lik_fn(x, t)
        return t - 1, (x + c(beta) * score) / tf.sqrt(c(alpha))

    t0 = tf.shape(beta)[0] - 1 if t_start is None else tf.cast(t_start, tf.int32)
    _, x0 = tf.while_loop(lambda t, x: t >= 0, body, (t0, x_T))
    return x0
