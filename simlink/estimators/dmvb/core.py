"""Machinery shared by the diffusion estimators ``dmvb``, ``standard_dm`` and ``genie_dm``.

A :class:`DiffusionEstimator` trains one DDPM expert per group of training
data (per environment, or one on the pooled data), stacks the experts into
one :class:`~simlink.nn.ExpertCNN`, and estimates every subcarrier's channel
image ``H_k`` [Nr, Nt] from the flat pilot model of
:mod:`simlink.estimators.dmvb.pilot_model` by deterministic posterior sampling
with a mixture prior of weights ``phi`` [b, K]. Subclasses choose the groups
and ``phi``.
"""
from __future__ import annotations

import hashlib

import numpy as np
import tensorflow as tf

from simlink.config import SystemCfg, stable_hash
from simlink.estimators.base import Dataset, Estimator, Observation
from simlink.estimators.dmvb.pilot_model import PilotModel, images_to_csi, likelihood_score
from simlink.fileio import load_state, save_state
from simlink.nn import (ExpertCNN, Schedule, complex_normal, from_image, posterior_sample,
                        to_image, train_ddpm)
from simlink.nn.denoiser import denoise
from simlink.paths import cache_dir

#: key of the training time stored beside an expert's cached weights
_SECONDS = "train_seconds"

#: ``start: rls`` begins where the noise level is this many times the RLS error:
#: fresh noise then makes up the difference, so the state has the variance the
#: network was trained on (measured on 64 x 16 CDL-D at 10 dB, genie expert:
#: margin 1 -12.9 dB, 4 -15.2 dB, pure-noise start -16.4 dB)
RLS_START_MARGIN = 4.0

#: expert width ``C`` of ``dmvb`` / ``genie_dm``; ``standard_dm`` defaults to ``sqrt(K)`` times it
DEFAULT_WIDTH = 32


def image_draw(H: np.ndarray):
    """Training-batch sampler over the per-subcarrier images of ``H`` [n, n_bs, n_ue, n_sc].

    Output: ``draw(rng, B) -> [1, B, n_ue, n_bs]`` complex64 (random sample and
    subcarrier each), the :data:`simlink.nn.train.DrawFn` of one expert.
    """
    def draw(rng: np.random.Generator, batch: int) -> np.ndarray:
        rows = rng.integers(H.shape[0], size=batch)
        sc = rng.integers(H.shape[3], size=batch)
        return np.swapaxes(H[rows, :, :, sc], 1, 2)[None]   # [B, n_bs, n_ue] -> [1, B, n_ue, n_bs]
    return draw


def experts_eps(weights: dict[str, tf.Tensor], x: tf.Tensor, t: tf.Tensor) -> tf.Tensor:
    """Noise prediction of every expert for complex states, in one batched network call.

    Input: ``weights`` of :func:`~simlink.nn.denoiser.denoise`, ``x`` [..., Nr, Nt]
    complex64, ``t`` [...] int32 step indices. Output: [K, ..., Nr, Nt] complex64.
    """
    n_experts = weights["time/kernel"].shape[0]
    lead, img = tf.shape(x)[:-2], tf.shape(x)[-2:]
    flat = to_image(tf.reshape(x, tf.concat([[-1], img], 0)))
    shared = tf.broadcast_to(flat[None], tf.concat([[n_experts], tf.shape(flat)], 0))
    eps = from_image(denoise(weights, shared, tf.reshape(t, [-1])))
    return tf.reshape(eps, tf.concat([[n_experts], lead, img], 0))


# Module-level compiled functions take the weights and the schedule as
# arguments: every estimator instance with the same shapes (dmvb, genie_dm,
# a restored copy, the next campaign cell) reuses one XLA compilation.
@tf.function(jit_compile=True)
def mixture_posterior(weights: dict[str, tf.Tensor], sched: dict[str, tf.Tensor],
                      x_T: tf.Tensor, Yv: tf.Tensor, U: tf.Tensor, s: tf.Tensor,
                      noise_var: tf.Tensor, phi: tf.Tensor, zeta: tf.Tensor,
                      t_start: tf.Tensor) -> tf.Tensor:
    """h-step: posterior sampling with the mixture prior score ``-sum_k phi_k eps_k / sqrt(1 - abar)``.

    Input: ``sched`` from :meth:`Schedule.tensors`, ``x_T`` [b, n_sc, Nr, Nt]
    complex64 start state at step ``t_start`` (scalar int32),
    ``Yv``/``U``/``s``/``noise_var`` the pilot model (:func:`likelihood_score`),
    ``phi`` [b, K] float32, scalar ``zeta``.
    Output: ``x_0`` [b, n_sc, Nr, Nt] complex64.
    """
    phi = tf.cast(phi, tf.complex64)

    def eps_fn(x, t):
        eps = experts_eps(weights, x, tf.fill(tf.shape(x)[:2], t))
        return tf.einsum("kbsrt,bk->bsrt", eps, phi)

    def lik_fn(x, t):
        return likelihood_score(x, sched["abar"][t], Yv, U, s, noise_var)

    return posterior_sample(eps_fn, lik_fn, x_T, sched, zeta, t_start)


class DiffusionEstimator(Estimator):
    """Base of the diffusion estimators. Hyper-parameters (set by subclasses):
    ``width``, ``emb_dim``, ``n_steps`` (T), ``train_steps``, ``batch_size``,
    ``learning_rate``, ``zeta`` (likelihood weight), ``start`` (``noise`` or
    ``rls``, see :meth:`_inputs`), ``seed`` (start noise of the
    sampler and the VB noise draws; training uses ``fit``'s ``rng``)."""
    requires = frozenset({"dl_pilots"})
    fit_scope = "all"
    compiled = True

    # -- learning -------------------------------------------------------
    def _groups(self, train: Dataset) -> list[Dataset]:
        """Training data of each expert: one per environment (``standard_dm`` pools)."""
        groups = [train.for_env(k) for k in range(len(train.env_names))]
        empty = [train.env_names[k] for k, g in enumerate(groups) if len(g) == 0]
        if empty:
            raise ValueError(f"{self.kind}: no training samples for environment(s) {empty}")
        return groups

    def _expert_width(self, n_envs: int) -> int:
        return self.width

    def _expert_key(self, H: np.ndarray, width: int) -> str:
        """Content hash of the expert of ``width`` trained on ``H``: the training
        keys, the width and the data."""
        return stable_hash({"width": width, "emb_dim": self.emb_dim, "n_steps": self.n_steps,
                            "train_steps": self.train_steps, "batch_size": self.batch_size,
                            "learning_rate": self.learning_rate,
                            "data": hashlib.sha256(np.ascontiguousarray(H).tobytes()).hexdigest()}, 24)

    def fit(self, train: Dataset, *, rng: np.random.Generator) -> "DiffusionEstimator":
        """Train (or load) one expert per group of ``train``.

        Experts are cached one by one under ``cache_dir()/experts`` by
        :meth:`_expert_key`, and each is initialised and trained from a
        generator seeded by that key (``rng`` is not used): ``dmvb`` and
        ``genie_dm`` share their experts, and a pilot-density change or a
        scenario that changes one environment's data retrains nothing else.
        The missing experts train in one :func:`~simlink.nn.train_ddpm` call
        (one XLA compilation). ``train_seconds_`` [K]: each expert's training
        time, measured when it was trained.
        """
        width = self._expert_width(len(train.env_names))
        groups = self._groups(train)
        keys = [self._expert_key(g.H_dl, width) for g in groups]
        paths = [cache_dir() / "experts" / f"{key}.npz" for key in keys]
        states = [load_state(path) for path in paths]
        todo = [i for i, state in enumerate(states) if state is None]
        if todo:
            rngs = [np.random.default_rng(int(keys[i], 16)) for i in todo]
            inits = [ExpertCNN.init(1, width, self.emb_dim, r).get_state() for r in rngs]
            model = ExpertCNN({n: np.concatenate([s[n] for s in inits]) for n in inits[0]})
            out = train_ddpm(model, [image_draw(groups[i].H_dl) for i in todo],
                             Schedule.linear(self.n_steps), steps=self.train_steps,
                             batch_size=self.batch_size, learning_rate=self.learning_rate, rngs=rngs)
            trained = model.get_state()
            for j, i in enumerate(todo):
                states[i] = {n: v[j:j + 1] for n, v in trained.items()}
                states[i][_SECONDS] = out["seconds"][j:j + 1]
                save_state(paths[i], states[i])
        self.train_seconds_ = np.array([float(s[_SECONDS][0]) for s in states])
        state = {n: np.concatenate([s[n] for s in states]) for n in states[0] if n != _SECONDS}
        return self.set_state(state, train.system)

    def get_state(self) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in self.weights_.items()}

    def set_state(self, state: dict[str, np.ndarray], system: SystemCfg) -> "DiffusionEstimator":
        self.system_ = system
        self.weights_ = {k: tf.constant(np.asarray(v, np.float32)) for k, v in state.items()}
        self.sched_ = Schedule.linear(self.n_steps)
        return self

    def n_params(self) -> int:
        return int(sum(np.prod(v.shape) for v in self.weights_.values()))

    @property
    def n_experts(self) -> int:
        return int(self.weights_["time/kernel"].shape[0])

    # -- inference ------------------------------------------------------
    def _inputs(self, obs: Observation) -> dict[str, tf.Tensor]:
        """Arguments of :func:`mixture_posterior` for ``obs`` but ``phi``.

        ``start: noise``: pure noise (drawn from ``seed``) at ``t = T - 1``.
        ``start: rls`` (METHODS.md's alternative, re-noised): the regularised-LS
        estimate ``h_rls`` at the first step ``t'`` whose noise level
        ``(1 - abar) / abar`` reaches :data:`RLS_START_MARGIN` times the RLS
        error ``e`` (unobserved directions included),
        ``x_t' = sqrt(abar) h_rls + sqrt(1 - abar - abar e) n``. The sampler
        then runs ``t'`` steps instead of ``T`` and skips the high-noise steps
        where the update divides by ``sqrt(alpha_t)`` most: there any shortfall
        of the network's noise prediction grows geometrically (up to
        ``1 / sqrt(abar_T)``, ~220x at T = 100), which made under-trained
        64 x 16 experts diverge from a pure-noise start.
        """
        pm = PilotModel.of(obs)
        Yv = pm.project(obs.y_pilots)
        b, n_sc, n_r = Yv.shape[:3]
        abar = self.sched_.abar
        noise = complex_normal([b, n_sc, n_r, pm.U.shape[1]], tf.constant([self.seed, 0]))
        if self.start == "noise":
            t_start, x_T = len(abar) - 1, noise
        else:
            err = pm.rls_error(obs.noise_var)
            level = (1.0 - abar) / abar
            t_start = int(min(np.searchsorted(level, RLS_START_MARGIN * err), len(abar) - 1))
            a = abar[t_start]
            h_rls = tf.constant(pm.regularised_ls(Yv, obs.noise_var), tf.complex64)
            x_T = np.sqrt(a) * h_rls + np.sqrt(max(1.0 - a - a * err, 0.0)) * noise
        return {"weights": self.weights_, "sched": self.sched_.tensors(), "x_T": x_T,
                "Yv": tf.constant(Yv), "U": tf.constant(pm.U), "s": tf.constant(pm.s),
                "noise_var": tf.constant(obs.noise_var, tf.float32),
                "zeta": tf.constant(self.zeta, tf.float32),
                "t_start": tf.constant(t_start, tf.int32)}

    def _phi(self, obs: Observation) -> np.ndarray:
        """Mixture weights [b, K] of a single-pass estimator."""
        raise NotImplementedError

    def traced_functions(self) -> list:
        return [mixture_posterior]

    def estimate(self, obs: Observation) -> np.ndarray:
        phi = tf.constant(self._phi(obs), tf.float32)
        return images_to_csi(mixture_posterior(**self._inputs(obs), phi=phi).numpy())
