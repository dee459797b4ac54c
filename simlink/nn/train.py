"""DDPM training loop for a stack of expert denoisers."""
from __future__ import annotations

import sys
import time
from typing import Callable

import numpy as np
import tensorflow as tf
from tqdm import trange

from simlink.nn.denoiser import ExpertCNN
from simlink.nn.diffusion import Schedule, noisy, to_image

#: ``draw(rng, batch_size) -> x0`` [1, B, H, W] complex64: a clean batch for one
#: expert (unit power per entry; the network sees :func:`to_image` of it).
DrawFn = Callable[[np.random.Generator, int], np.ndarray]


class Adam:
    """Adam (Kingma & Ba) with a cosine-decayed learning rate, as plain graph ops.

    Written out rather than ``keras.optimizers.Adam``: inside one XLA-compiled
    training step the Keras optimizer tripled the step time on CPU.
    """

    def __init__(self, variables: list[tf.Variable], learning_rate: float, total_steps: int,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.variables = variables
        self.lr, self.total = learning_rate, float(total_steps)
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.m = [tf.Variable(tf.zeros_like(v)) for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v)) for v in variables]
        self.step = tf.Variable(0.0)

    def reset(self) -> None:
        """Forget the moments and restart the learning-rate schedule."""
        for var in self.m + self.v:
            var.assign(tf.zeros_like(var))
        self.step.assign(0.0)

    def apply(self, grads: list[tf.Tensor]) -> None:
        self.step.assign_add(1.0)
        n = self.step
        lr = self.lr * 0.5 * (1.0 + tf.cos(np.pi * tf.minimum(n - 1.0, self.total) / self.total))
        lr = lr * tf.sqrt(1.0 - self.b2 ** n) / (1.0 - self.b1 ** n)
        for var, g, m, v in zip(self.variables, grads, self.m, self.v):
            m.assign(self.b1 * m + (1.0 - self.b1) * g)
            v.assign(self.b2 * v + (1.0 - self.b2) * tf.square(g))
            var.assign_sub(lr * m / (tf.sqrt(v) + self.eps))


def train_ddpm(model: ExpertCNN, draws: list[DrawFn], sched: Schedule, *, steps: int,
               batch_size: int, learning_rate: float,
               rngs: list[np.random.Generator]) -> dict[str, np.ndarray]:
    """Train expert ``k`` of ``model`` on ``draws[k]`` with the batches, steps and
    noise drawn from ``rngs[k]``, one expert after the other:
    minimise ``E || eps - eps_theta(x_t, t) ||^2`` with ``t`` uniform, Adam with a
    cosine-decayed learning rate, starting from ``model``'s current weights.

    Experts train one by one on a single-expert working copy, so one compiled
    step serves them all (XLA compiles it once per call, not once per expert)
    and each expert's training time is measured; on CPU, XLA's gradient of the
    grouped convolution that stacks experts is also several times slower than
    single-expert training.

    Output: ``loss`` [K, steps] per-step losses, ``seconds`` [K] training time per expert.
    """
    state = model.get_state()
    work = ExpertCNN({k: v[:1] for k, v in state.items()})
    opt = Adam(work.trainable, learning_rate, steps)
    abar = tf.constant(sched.abar, tf.float32)
    n_steps = sched.n_steps

    @tf.function(jit_compile=True)
    def step(x0: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        x0 = to_image(x0)
        shape = tf.shape(x0)
        t = tf.random.stateless_uniform([shape[1]], seed, 0, n_steps, dtype=tf.int32)
        eps = tf.random.stateless_normal(shape, seed + 1)
        x_t = noisy(x0, eps, tf.gather(abar, t)[None, :, None, None, None])
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(eps - work(x_t, t)))
        opt.apply(tape.gradient(loss, opt.variables))
        return loss

    losses = np.empty((model.n_experts, steps))
    seconds = np.empty(model.n_experts)
    for k, (draw, rng) in enumerate(zip(draws, rngs, strict=True)):
        for name, var in work.weights.items():
            var.assign(state[name][k:k + 1])
        opt.reset()
        seeds = rng.integers(0, 2**31 - 1, size=(steps, 2))
        start = time.perf_counter()
        for i in trange(steps, desc=f"DDPM expert {k + 1}/{len(draws)}", unit="step",
                        mininterval=2.0, leave=False, file=sys.stderr):
            losses[k, i] = step(tf.constant(draw(rng, batch_size)), tf.constant(seeds[i])).numpy()
        seconds[k] = time.perf_counter() - start
        for name, var in model.weights.items():
            var[k:k + 1].assign(work.weights[name])
    return {"loss": losses, "seconds": seconds}
