"""Time per XLA-compiled DDPM training step: hand-written Adam against Keras's.

One step of :func:`simlink.nn.train_ddpm` (a single-expert
:class:`~simlink.nn.ExpertCNN`, the loss :func:`simlink.nn.diffusion.ddpm_loss`,
gradient and optimizer update in ONE ``tf.function(jit_compile=True)``) with

- ``hand``: :class:`CosineAdam` below, Adam with a cosine-decayed learning
  rate written out as graph ops (what ``train_ddpm`` used before this script
  showed Keras to be as fast);
- ``keras.apply``: ``keras.optimizers.Adam`` on a ``CosineDecay`` schedule,
  ``optimizer.apply(grads, variables)``: the optimizer of ``train_ddpm``
  (:func:`simlink.nn.train.ddpm_optimizer`);
- ``keras.apply_gradients``: the same through ``apply_gradients(zip(...))``;
- ``keras.const``: ``keras.optimizers.Adam`` with a float learning rate
  (what ``ReduceLROnPlateau`` needs), ``apply``.

Every Keras optimizer is built on the variables before the step is traced,
and uses ``epsilon=1e-8`` like the hand-written one, so all variants do the
same arithmetic (their weights after the timed steps are compared). Cases:
the DM-VB CDL size (16 x 64 images, width 32, embedding 32) at batch 32 and
128, and a small one (8 x 4, width 8) where the optimizer's share is largest.
Each variant is compiled and warmed up, then the variants alternate in rounds,
in a rotated order each round (so load from other jobs on shared cores hits
all alike); printed: the median
over rounds of the wall and of this process's CPU time per step, and the ratio
of each Keras variant to ``hand``.

    .venv/bin/python benchmarks/optimizer.py [--rounds 7] [--steps 10] [--quick]
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from simlink.nn import ExpertCNN, Schedule
from simlink.nn.diffusion import ddpm_loss, to_image
from simlink.nn.train import ddpm_optimizer


class CosineAdam:
    """Adam (Kingma & Ba) with a cosine-decayed learning rate, as plain graph ops:
    the hand-written baseline of this benchmark. Learning rate of step ``n``
    (1-based): ``lr (1 + cos(pi min(n - 1, N) / N)) / 2``."""

    def __init__(self, learning_rate: float, total_steps: int, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.total = learning_rate, float(total_steps)
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.m: list[tf.Variable] = []
        self.v: list[tf.Variable] = []
        self.step = tf.Variable(0.0)
        self.built = False

    def build(self, variables: list[tf.Variable]) -> None:
        """Zero first and second moments shaped like ``variables``."""
        self.m = [tf.Variable(tf.zeros_like(v)) for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v)) for v in variables]
        self.built = True

    @property
    def variables(self) -> list[tf.Variable]:
        """The step count and the moments: zeroing them restarts the optimizer."""
        return [self.step, *self.m, *self.v]

    def apply(self, grads: list[tf.Tensor], variables: list[tf.Variable]) -> None:
        """One Adam update of ``variables`` (the ones given to :meth:`build`, in order)."""
        self.step.assign_add(1.0)
        n = self.step
        lr = self.lr * 0.5 * (1.0 + tf.cos(np.pi * tf.minimum(n - 1.0, self.total) / self.total))
        lr = lr * tf.sqrt(1.0 - self.b2 ** n) / (1.0 - self.b1 ** n)
        for var, g, m, v in zip(variables, grads, self.m, self.v, strict=True):
            m.assign(self.b1 * m + (1.0 - self.b1) * g)
            v.assign(self.b2 * v + (1.0 - self.b2) * tf.square(g))
            var.assign_sub(lr * m / (tf.sqrt(v) + self.eps))

#: (name, H, W, width = embedding, batch)
CASES = (("small 8x4 w8 b16", 8, 4, 8, 16),
         ("cdl 16x64 w32 b32", 16, 64, 32, 32),
         ("cdl 16x64 w32 b128", 16, 64, 32, 128))

#: the schedule length does not change the step's cost; train_steps sets the cosine horizon
N_DIFFUSION, TRAIN_STEPS, LR = 100, 1000, 1e-3


def make_step(variant: str, init: dict[str, np.ndarray], abar: tf.Tensor):
    """``(step(x0, seed) -> loss, network)`` for one optimizer variant."""
    net = ExpertCNN(init)
    variables = net.trainable
    if variant == "keras.const":
        opt = keras.optimizers.Adam(LR, epsilon=1e-8)
    else:
        opt = CosineAdam(LR, TRAIN_STEPS) if variant == "hand" else ddpm_optimizer(LR, TRAIN_STEPS)
    opt.build(variables)
    expert = lambda x, t, cond=None: net(x[None], t, cond)[0]  # noqa: E731

    @tf.function(jit_compile=True)
    def step(x0: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = ddpm_loss(expert, to_image(x0[0]), seed, abar)
        grads = tape.gradient(loss, variables)
        if variant == "keras.apply_gradients":
            opt.apply_gradients(zip(grads, variables))
        else:
            opt.apply(grads, variables)
        return loss
    return step, net


def timed(step: Callable, x0: tf.Tensor, seeds: np.ndarray) -> tuple[float, float]:
    """Wall and CPU seconds per step over ``seeds`` (loss fetched every step, as in training)."""
    w0, c0 = time.perf_counter(), time.process_time()
    for s in seeds:
        step(x0, tf.constant(s)).numpy()
    n = len(seeds)
    return (time.perf_counter() - w0) / n, (time.process_time() - c0) / n


def run_case(name: str, h: int, w: int, width: int, batch: int, variants: list[str],
             rounds: int, steps: int) -> None:
    rng = np.random.default_rng(0)
    init = ExpertCNN.init(1, width, width, rng).get_state()
    shape = (1, batch, h, w)
    x0 = tf.constant(((rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
                      / np.sqrt(2)).astype(np.complex64))
    abar = tf.constant(Schedule.linear(N_DIFFUSION).abar, tf.float32)
    seeds = rng.integers(0, 2**31 - 1, size=(rounds * steps + 3, 2))
    steps_fns, nets, compile_s = {}, {}, {}
    for v in variants:
        steps_fns[v], nets[v] = make_step(v, init, abar)
        t0 = time.perf_counter()
        steps_fns[v](x0, tf.constant(seeds[0])).numpy()
        compile_s[v] = time.perf_counter() - t0
        for s in seeds[1:3]:                                   # warm-up
            steps_fns[v](x0, tf.constant(s)).numpy()
    wall = {v: [] for v in variants}
    cpu = {v: [] for v in variants}
    for r in range(rounds):
        chunk = seeds[3 + r * steps: 3 + (r + 1) * steps]
        for v in variants[r % len(variants):] + variants[:r % len(variants)]:
            a, b = timed(steps_fns[v], x0, chunk)
            wall[v].append(a)
            cpu[v].append(b)
    ref = nets["hand"].get_state()
    print(f"\n{name}: {nets['hand'].n_params()} parameters, {rounds} rounds x {steps} steps")
    print(f"  {'variant':<24}{'compile s':>10}{'wall ms':>10}{'cpu ms':>10}"
          f"{'wall/hand':>11}{'cpu/hand':>10}{'max |dw|':>11}")
    for v in variants:
        mw, mc = np.median(wall[v]), np.median(cpu[v])
        dw = max(float(np.max(np.abs(nets[v].get_state()[k] - ref[k]))) for k in ref)
        print(f"  {v:<24}{compile_s[v]:>10.2f}{1e3 * mw:>10.2f}{1e3 * mc:>10.2f}"
              f"{mw / np.median(wall['hand']):>11.3f}{mc / np.median(cpu['hand']):>10.3f}{dw:>11.2e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7, help="alternating timing rounds")
    ap.add_argument("--steps", type=int, default=10, help="steps per variant and round")
    ap.add_argument("--quick", action="store_true", help="small case only, 3 rounds x 5 steps")
    args = ap.parse_args()
    variants = ["hand", "keras.apply", "keras.apply_gradients", "keras.const"]
    cases = CASES[:1] if args.quick else CASES
    rounds, steps = (3, 5) if args.quick else (args.rounds, args.steps)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}")
    for case in cases:
        run_case(*case, variants=variants, rounds=rounds, steps=steps)


if __name__ == "__main__":
    main()
