"""Machinery shared by the diffusion estimators ``dmvb``, ``standard_dm`` and ``genie_dm``.

A :class:`DiffusionEstimator` trains one DDPM expert per group of training
data (per environment, or one on the pooled data), stacks the experts into
one :class:`~simlink.nn.ExpertCNN`, and estimates every subcarrier's channel
image ``H_k`` [Nr, Nt] from the flat pilot model of
:mod:`simlink.observation.flat` by deterministic posterior sampling
with a mixture prior of weights ``phi`` [b, K]. Subclasses choose the groups
and ``phi``.
"""
from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Annotated, Literal

import numpy as np
import tensorflow as tf
from pydantic import Field

from simlink.channels.dataset import Dataset
from simlink.estimators.base import Estimate, Estimator
from simlink.hashing import stable_hash
from simlink.nn import (ExpertCNN, Schedule, complex_normal, from_image, posterior_sample,
                        to_image, train_ddpm)
from simlink.nn.denoiser import denoise
from simlink.observation import Observation
from simlink.observation.flat import PilotModel, images_to_csi, likelihood_score
from simlink.system import NonNegInt, PosFloat, PosInt, SystemCfg

#: key of the training time stored beside an expert's cached weights
_SECONDS = "train_seconds"

#: prefix of the training record (validation curve, best step) stored beside an
#: expert's weights and in the estimator's state: not a weight
HISTORY = "history/"

#: held-out images per expert for the validation loss (more add cost, not accuracy)
MAX_VALIDATION_IMAGES = 1024

#: ``start: rls`` begins where the noise level is this many times the RLS error:
#: fresh noise then makes up the difference, so the state has the variance the
#: network was trained on (measured on 64 x 16 CDL-D at 10 dB, genie expert:
#: margin 1 -12.9 dB, 4 -15.2 dB, pure-noise start -16.4 dB)
RLS_START_MARGIN = 4.0

#: expert width ``C`` of ``dmvb`` / ``genie_dm``; ``standard_dm`` defaults to ``sqrt(K)`` times it
DEFAULT_WIDTH = 32


def images(data: Dataset, limit: int) -> np.ndarray:
    """The first ``limit`` per-subcarrier images [n, n_ue, n_bs] complex64 of ``data.H_dl``."""
    n_sc = data.shape("H_dl")[3]
    H = data.rows(np.arange(min(len(data), -(-limit // n_sc))))["H_dl"]
    return np.moveaxis(H, 3, 1).swapaxes(2, 3).reshape(-1, *H.shape[2:0:-1])[:limit]


def image_draw(data: Dataset):
    """Training-batch sampler over the per-subcarrier images of ``data.H_dl``
    [n, n_bs, n_ue, n_sc], read row by row (``data`` may be file-backed).

    Output: ``draw(rng, B) -> [1, B, n_ue, n_bs]`` complex64 (random sample and
    subcarrier each), the :data:`simlink.nn.train.DrawFn` of one expert.
    """
    n, n_sc = len(data), data.shape("H_dl")[3]

    def draw(rng: np.random.Generator, batch: int) -> np.ndarray:
        rows = rng.integers(n, size=batch)
        sc = rng.integers(n_sc, size=batch)
        H = data.rows(rows)["H_dl"]                          # == H_dl[rows]
        return np.swapaxes(H[np.arange(batch), :, :, sc], 1, 2)[None]
    return draw


def experts_eps(weights: dict[str, tf.Tensor], x: tf.Tensor, t: tf.Tensor,
                grouped: bool = False) -> tf.Tensor:
    """Noise prediction of every expert for complex states (``grouped``: the
    form of :func:`~simlink.nn.denoiser.denoise`).

    Input: ``weights`` of :func:`~simlink.nn.denoiser.denoise`, ``x`` [..., Nr, Nt]
    complex64, ``t`` [...] int32 step indices. Output: [K, ..., Nr, Nt] complex64.
    """
    n_experts = weights["time/kernel"].shape[0]
    lead, img = tf.shape(x)[:-2], tf.shape(x)[-2:]
    flat = to_image(tf.reshape(x, tf.concat([[-1], img], 0)))
    shared = tf.broadcast_to(flat[None], tf.concat([[n_experts], tf.shape(flat)], 0))
    eps = from_image(denoise(weights, shared, tf.reshape(t, [-1]), grouped))
    return tf.reshape(eps, tf.concat([[n_experts], lead, img], 0))


# Module-level compiled functions take the weights and the schedule as
# arguments: every estimator instance with the same shapes (dmvb, genie_dm,
# a restored copy, the next campaign cell) reuses one XLA compilation.
@tf.function(jit_compile=True)
def mixture_posterior(weights: dict[str, tf.Tensor], sched: dict[str, tf.Tensor],
                      x_T: tf.Tensor, Yv: tf.Tensor, U: tf.Tensor, s: tf.Tensor,
                      noise_var: tf.Tensor, phi: tf.Tensor, zeta: tf.Tensor,
                      t_start: tf.Tensor, grouped: bool = False) -> tf.Tensor:
    """h-step: posterior sampling with the mixture prior score ``-sum_k phi_k eps_k / sqrt(1 - abar)``.

    Input: ``sched`` from :meth:`Schedule.tensors`, ``x_T`` [b, n_sc, Nr, Nt]
    complex64 start state at step ``t_start`` (scalar int32),
    ``Yv``/``U``/``s``/``noise_var`` the pilot model (:func:`likelihood_score`),
    ``phi`` [b, K] float32, scalar ``zeta``; ``grouped`` as for
    :func:`~simlink.nn.denoiser.denoise` (a Python bool: one trace per value).
    Output: ``x_0`` [b, n_sc, Nr, Nt] complex64.
    """
    phi = tf.cast(phi, tf.complex64)

    def eps_fn(x, t, cond=None):
        eps = experts_eps(weights, x, tf.fill(tf.shape(x)[:2], t), grouped)
        return tf.einsum("kbsrt,bk->bsrt", eps, phi)

    def lik_fn(x, t):
        return likelihood_score(x, sched["abar"][t], Yv, U, s, noise_var)

    return posterior_sample(eps_fn, lik_fn, x_T, sched, zeta, t_start)


def _stacked_history(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The experts' validation curves stacked [K, longest] (steps padded with -1,
    losses with NaN) and best steps [K]; empty unless every expert has one."""
    if not all(HISTORY + "val_steps" in p for p in parts):
        return {}
    n = max(p[HISTORY + "val_steps"].shape[1] for p in parts)
    pad = lambda a, fill: np.pad(a, ((0, 0), (0, n - a.shape[1])), constant_values=fill)  # noqa: E731
    return {HISTORY + "val_steps": np.concatenate([pad(p[HISTORY + "val_steps"], -1) for p in parts]),
            HISTORY + "val_loss": np.concatenate([pad(p[HISTORY + "val_loss"], np.nan) for p in parts]),
            HISTORY + "best_step": np.concatenate([p[HISTORY + "best_step"] for p in parts])}


class DiffusionEstimator(Estimator):
    """Base of the diffusion estimators: the keys ``dmvb``, ``standard_dm`` and
    ``genie_dm`` share (docs/methods.md, "Diffusion family").

    Parameters
    ----------
    width : int
        Expert CNN width ``C``.
    emb_dim : int
        Size of the sinusoidal time embedding (even).
    n_steps : int
        Diffusion steps ``T`` of the linear schedule.
    train_steps : int
        Adam steps per expert (the most, with ``patience``).
    batch_size : int
        Training batch size (images of one subcarrier each).
    learning_rate : float
        Adam learning rate: the peak of a cosine decay to 0 over ``train_steps``,
        or with ``patience`` the start of a rate halved on each plateau.
    patience : int or None
        Train each expert to a plateau of its held-out denoising loss: stop
        after this many evaluations without improvement and keep the best
        weights (None: the fixed ``train_steps`` budget).
    eval_every : int
        Steps between held-out losses (with ``patience``).
    val_fraction : float
        Share of each expert's training samples held out (with ``patience``).
    zeta : float
        Weight of the likelihood score (> 1 favours the measurement).
    start : "rls" or "noise"
        Sampler start: the re-noised regularised-LS estimate at the step whose
        noise level is :data:`RLS_START_MARGIN` times its error (fewer steps,
        robust), or pure noise at ``T``.
    seed : int
        Start noise of the sampler and the VB noise draws (training is seeded
        by the content of each expert, see :meth:`fit`).
    """
    requires = frozenset({"dl_pilots"})
    fit_scope = "all"
    #: 1: Keras Adam (experts trained by the earlier hand-written Adam differ)
    fit_version = 1
    late_keys = frozenset({"patience", "eval_every", "val_fraction"})

    width: PosInt = DEFAULT_WIDTH
    emb_dim: Annotated[int, Field(gt=0, multiple_of=2)] = 32
    n_steps: Annotated[int, Field(ge=25)] = 100
    train_steps: PosInt = 4000
    batch_size: PosInt = 128
    learning_rate: PosFloat = 1e-3
    patience: PosInt | None = None
    eval_every: PosInt = 500
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1
    zeta: PosFloat = 4.0
    start: Literal["rls", "noise"] = "rls"
    seed: NonNegInt = 0

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

    def parts(self, train: Dataset) -> dict[str, str]:
        """One part per expert, keyed by the content hash of what it is trained
        from: the training keys, the width and the data (so ``dmvb`` and
        ``genie_dm`` share their experts, and a pilot-density change or a
        scenario that changes one environment's data retrains nothing else)."""
        width = self._expert_width(len(train.env_names))
        keys = {"width": width, "emb_dim": self.emb_dim, "n_steps": self.n_steps,
                "train_steps": self.train_steps, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "fit_version": self.fit_version}
        if self.patience is not None:   # fixed-budget experts keep their keys
            keys.update(patience=self.patience, eval_every=self.eval_every,
                        val_fraction=self.val_fraction)
        return {f"expert{i}": stable_hash({**keys, "data": g.sha256("H_dl")}, 24)
                for i, g in enumerate(self._groups(train))}

    def fit(self, train: Dataset, *, rng: np.random.Generator,
            parts: Mapping[str, dict[str, np.ndarray]] | None = None) -> "DiffusionEstimator":
        """Train one expert per group of ``train``, except those in ``parts``.

        Each expert is initialised and trained from a generator seeded by its
        part key (``rng`` is not used), so an expert is the same whichever
        estimator or scenario trains it. A mutable ``parts`` receives each
        expert as soon as it is trained; one with a ``checkpoint_path(name)``
        method (the campaign's weight cache) also gets each expert's training
        checkpointed there, so a killed run resumes mid-expert. The missing
        experts train in one :func:`~simlink.nn.train_ddpm` call (one XLA
        compilation).
        ``train_seconds_`` [K]: each expert's training time, measured when it
        was trained.
        """
        width = self._expert_width(len(train.env_names))
        groups = self._groups(train)
        keys = self.parts(train)
        states = dict(parts or {})
        todo = [i for i, name in enumerate(keys) if name not in states]
        if todo:
            seeds = [int(list(keys.values())[i], 16) for i in todo]
            rngs = [np.random.default_rng(s) for s in seeds]
            inits = [ExpertCNN.init(1, width, self.emb_dim, r).get_state() for r in rngs]
            model = ExpertCNN({n: np.concatenate([s[n] for s in inits]) for n in inits[0]})
            data, validation = [groups[i] for i in todo], None
            if self.patience is not None:
                splits = [g.validation_split(self.val_fraction, s % 2**31)
                          for g, s in zip(data, seeds)]
                data = [fit for fit, _ in splits]
                validation = [images(val, MAX_VALIDATION_IMAGES) for _, val in splits]
            names = [list(keys)[i] for i in todo]

            def keep(j: int, record: dict) -> None:
                state = dict(record["state"], **{_SECONDS: np.array([record["seconds"]])})
                if validation is not None:
                    state[HISTORY + "val_steps"] = record["val_steps"][None]
                    state[HISTORY + "val_loss"] = record["val_loss"][None]
                    state[HISTORY + "best_step"] = np.array([record["best_step"]])
                states[names[j]] = state
                if isinstance(parts, MutableMapping):   # e.g. the campaign's cache: kept now
                    parts[names[j]] = state

            checkpoint = getattr(parts, "checkpoint_path", None)
            train_ddpm(model, [image_draw(g) for g in data], Schedule.linear(self.n_steps),
                       steps=self.train_steps, batch_size=self.batch_size,
                       learning_rate=self.learning_rate, rngs=rngs, validation=validation,
                       eval_every=self.eval_every, patience=self.patience, on_trained=keep,
                       checkpoints=None if checkpoint is None else [checkpoint(n) for n in names])
        self.part_states_ = {name: states[name] for name in keys}
        ordered = list(self.part_states_.values())
        self.train_seconds_ = np.array([float(s[_SECONDS][0]) for s in ordered])
        state = {n: np.concatenate([s[n] for s in ordered]) for n in ordered[0]
                 if n != _SECONDS and not n.startswith(HISTORY)}
        state.update(_stacked_history(ordered))
        return self.set_state(state, train.system)

    def part_states(self) -> dict[str, dict[str, np.ndarray]]:
        return self.part_states_

    def get_state(self) -> dict[str, np.ndarray]:
        return {**{k: v.numpy() for k, v in self.weights_.items()}, **self.history_}

    def set_state(self, state: dict[str, np.ndarray], system: SystemCfg) -> "DiffusionEstimator":
        self.history_ = {k: np.asarray(v) for k, v in state.items() if k.startswith(HISTORY)}
        self.weights_ = {k: tf.constant(np.asarray(v, np.float32)) for k, v in state.items()
                         if not k.startswith(HISTORY)}
        self.sched_ = Schedule.linear(self.n_steps)
        return self

    def training_history(self) -> dict[str, list] | None:
        """Each expert's held-out denoising loss ``val_loss`` [K][n_evals] after
        ``val_steps`` [K][n_evals] steps and its ``best_step`` [K] (the weights
        kept); None for fixed-budget experts."""
        if not self.history_:
            return None
        steps, loss = self.history_[HISTORY + "val_steps"], self.history_[HISTORY + "val_loss"]
        keep = steps >= 0
        return {"val_steps": [s[m].tolist() for s, m in zip(steps, keep)],
                "val_loss": [v[m].tolist() for v, m in zip(loss, keep)],
                "best_step": self.history_[HISTORY + "best_step"].tolist()}

    def n_params(self) -> int:
        return int(sum(np.prod(v.shape) for v in self.weights_.values()))

    @property
    def n_experts(self) -> int:
        return int(self.weights_["time/kernel"].shape[0])

    # -- inference ------------------------------------------------------
    def _inputs(self, obs: Observation) -> dict[str, tf.Tensor]:
        """Arguments of :func:`mixture_posterior` for ``obs`` but ``phi``.

        ``start: noise``: pure noise (drawn from ``seed``) at ``t = T - 1``.
        ``start: rls`` (the alternative start of docs/methods.md, "Posterior sampling", re-noised): the regularised-LS
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

    def traced_functions(self, system: SystemCfg) -> list:
        return [mixture_posterior]

    def estimate(self, obs: Observation) -> Estimate:
        phi = tf.constant(self._phi(obs), tf.float32)
        return Estimate(images_to_csi(mixture_posterior(**self._inputs(obs), phi=phi).numpy()))
