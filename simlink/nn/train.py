"""One training loop for every learned method, and the DDPM trainer built on it.

:func:`fit` minimises ``loss_fn(batch, seed)`` over an explicit list of
variables (the rest of the model stays frozen: a frozen base plus adapters
trains the adapters only), one XLA-compiled step per batch, with any Keras 3
optimizer (``keras.optimizers.Adam`` at ``1e-3`` unless given), for a number
of steps or epochs, with optional validation, early stopping that restores
the best weights, and learning-rate reduction on a plateau (Keras's own
``EarlyStopping`` / ``ReduceLROnPlateau`` callbacks, driven once per
evaluation). A :class:`Trainer` keeps the compiled step so that several runs
over variables of the same shapes share one compilation (:func:`train_ddpm`
trains its experts one after the other this way). A run given a
``checkpoint`` file saves its whole state there every few steps and, started
again after an interruption, resumes from it to the weights an uninterrupted
run ends with (hours of training are not lost to a killed process). Inside
:func:`budget`, a run with a checkpoint stops at its next checkpoint once the
budget is spent and raises :class:`TrainingPaused`: a long training is done in
pieces, on as many machines as it takes.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np
import tensorflow as tf

from simlink import progress
from simlink.fileio import load_state, save_state
from simlink.nn.denoiser import ExpertCNN
from simlink.nn.diffusion import Schedule, ddpm_loss, to_image

#: ``loss_fn(batch, seed) -> scalar``: ``batch`` one item of the batch stream as
#: tensors (same nesting), ``seed`` [2] int64 for stateless random ops of this step.
LossFn = Callable[[Any, tf.Tensor], tf.Tensor]

#: an iterable of batches, or a callable returning a fresh one per pass (an
#: epoch); a batch is a NumPy array or a nest (tuple, dict) of them.
Batches = Iterable | Callable[[], Iterable]

#: ``draw(rng, batch_size) -> x0`` [1, B, H, W] complex64: a clean batch for one
#: expert (unit power per entry; the network sees :func:`to_image` of it).
DrawFn = Callable[[np.random.Generator, int], np.ndarray]

#: second word of the seed given to ``loss_fn`` during validation (steps use the step index)
_VALIDATION_SEED = -1

#: what a checkpoint keeps of the Keras callbacks (their counters and bests)
_CALLBACK_STATE = ("best", "wait", "stopped_epoch", "best_epoch", "cooldown_counter")


class TrainingPaused(Exception):
    """A :func:`budget` ran out during a run of :meth:`Trainer.fit`: its state
    is saved in ``checkpoint`` after ``done`` of ``total`` steps (``total``
    None when the run counts epochs of unknown length); ``desc`` names the run."""

    def __init__(self, desc: str, done: int, total: int | None, checkpoint: Path):
        of = "" if total is None else f" of {total}"
        #: how far the run got, for a person: "LORA training: paused after step 234 of 1000"
        self.progress = f"{desc}: paused after step {done}{of}"
        super().__init__(f"{self.progress} ({checkpoint})")
        self.desc, self.done, self.total, self.checkpoint = desc, done, total, checkpoint


#: ``time.monotonic()`` after which checkpointed runs pause (:func:`budget`)
_deadline: float | None = None


@contextmanager
def budget(seconds: float | None) -> Iterator[None]:
    """Within the block, a :meth:`Trainer.fit` run that has a checkpoint file
    stops at its first checkpoint after ``seconds`` (from entering the block),
    saves it and raises :class:`TrainingPaused`; started again, it resumes
    there. Runs without a checkpoint are never stopped (nothing would keep
    their work). ``None``: no budget."""
    global _deadline
    outer = _deadline
    if seconds is not None:
        mine = time.monotonic() + seconds
        _deadline = mine if outer is None else min(outer, mine)
    try:
        yield
    finally:
        _deadline = outer


def budget_spent() -> bool:
    """Whether the enclosing :func:`budget` has run out."""
    return _deadline is not None and time.monotonic() >= _deadline


class Optimizer(Protocol):
    """What the loop needs of an optimizer; every ``keras.optimizers.Optimizer`` is one."""
    built: bool

    def build(self, variables: list) -> None: ...

    def apply(self, grads: list, variables: list) -> None: ...


@dataclass(frozen=True)
class History:
    """What a run of :func:`fit` did.

    ``loss`` [n_steps] training loss of every step; ``val_loss`` [n_evals] and
    ``val_steps`` [n_evals] validation losses and the step count after which
    each was taken; ``best_step`` the step count of the best validation loss
    (the weights kept when ``restore_best``; ``None`` without validation);
    ``stopped_early`` whether early stopping ended the run; ``seconds`` its
    wall time (compilation included).
    """
    loss: np.ndarray
    val_loss: np.ndarray
    val_steps: np.ndarray
    best_step: int | None
    stopped_early: bool
    seconds: float


class _Model:
    """The face of a Keras model that ``EarlyStopping`` and ``ReduceLROnPlateau``
    use, over the trained variables only."""

    def __init__(self, variables: list, optimizer: Optimizer):
        self.variables, self.optimizer = variables, optimizer
        self.stop_training = False

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in self.variables]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        for v, w in zip(self.variables, weights, strict=True):
            v.assign(w)


def _to_tensors(batch: Any) -> Any:
    return tf.nest.map_structure(tf.convert_to_tensor, batch)


def _batch_size(batch: Any) -> int:
    return int(np.shape(tf.nest.flatten(batch)[0])[0])


class Trainer:
    """The compiled training step of ``loss_fn`` over ``variables``, reusable
    across :meth:`fit` runs (one XLA compilation per batch shape for all).

    Parameters
    ----------
    loss_fn
        ``loss_fn(batch, seed) -> scalar`` (:data:`LossFn`), traced into the step.
    variables
        The trainable subset (``tf.Variable`` or ``keras.Variable``): only
        these change; every other variable ``loss_fn`` reads stays as it is.
    optimizer
        Any :class:`Optimizer`, built on ``variables`` here if it is not yet
        (before tracing, so that its slots are ordinary captured variables);
        default ``keras.optimizers.Adam(1e-3)``.
    jit_compile
        XLA-compile the step and the validation loss.
    """

    def __init__(self, loss_fn: LossFn, variables: Sequence, optimizer: Optimizer | None = None,
                 *, jit_compile: bool = True):
        self.variables = list(variables)
        if not self.variables:
            raise ValueError("no variables to train")
        self.optimizer = keras.optimizers.Adam(1e-3) if optimizer is None else optimizer
        if not self.optimizer.built:
            self.optimizer.build(self.variables)
        self.loss_fn = loss_fn
        self._step = tf.function(self._train_step, jit_compile=jit_compile)
        self._loss = tf.function(loss_fn, jit_compile=jit_compile)

    def _train_step(self, batch: Any, seed: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = self.loss_fn(batch, seed)
        self.optimizer.apply(tape.gradient(loss, self.variables), self.variables)
        return loss

    def evaluate(self, batches: Iterable, seed: int = 0) -> float:
        """Mean loss over fixed ``batches`` (weighted by batch size), no update;
        every batch sees the same seed, so repeated evaluations are comparable."""
        s = tf.constant([seed, _VALIDATION_SEED], tf.int64)
        total, n = 0.0, 0
        for batch in batches:
            b = _batch_size(batch)
            total += b * float(self._loss(_to_tensors(batch), s))
            n += b
        if not n:
            raise ValueError("validation batches are empty")
        return total / n

    def fit(self, batches: Batches, *, steps: int | None = None, epochs: int | None = None,
            validation: Callable[[], float] | Iterable | None = None,
            eval_every: int | None = None, patience: int | None = None, min_delta: float = 0.0,
            restore_best: bool = True,
            reduce_on_plateau: keras.callbacks.ReduceLROnPlateau | None = None,
            desc: str = "training", quiet: bool | None = None, leave: bool = True,
            seed: int = 0, checkpoint: Path | None = None, checkpoint_every: int = 500,
            checkpoint_extra: Callable[[], dict[str, np.ndarray]] | None = None,
            checkpoint_state: Sequence = (), checkpoint_final: bool = False) -> History:
        """Train on ``batches`` for ``steps`` steps or ``epochs`` passes.

        Parameters
        ----------
        batches
            :data:`Batches`. With ``steps``, passes repeat until ``steps`` batches
            were used (an endless iterator is one pass); with ``epochs``, each
            pass is an epoch. A one-shot iterator serves one pass only.
        steps, epochs
            Exactly one of them.
        validation
            ``None``; a callable returning a validation loss (e.g. an NMSE on a
            validation split); or fixed batches, scored by :meth:`evaluate`.
        eval_every
            Steps between evaluations; default the end of each epoch (needed
            with ``steps`` when validating or reducing on a plateau).
            Evaluations are the "epochs" of the Keras callbacks.
        patience, min_delta
            Early stopping after ``patience`` evaluations without a validation
            improvement of more than ``min_delta`` (``None``: never stop).
        restore_best
            With validation, end with the weights of the best evaluation.
        reduce_on_plateau
            A ``keras.callbacks.ReduceLROnPlateau`` (e.g. ``monitor="val_loss"``,
            ``patience=10, factor=0.9``), fed ``loss`` (the mean training loss
            since the last evaluation) and ``val_loss``; the optimizer's
            learning rate must be a float, not a schedule.
        desc, quiet, leave
            The progress bar (:func:`simlink.progress.bar`; ``quiet=None``
            follows :func:`simlink.progress.set_quiet`).
        seed
            Step ``i`` (0-based) gets ``seed = [seed, i]``, validation ``[seed, -1]``.
        checkpoint, checkpoint_every, checkpoint_extra, checkpoint_state
            A file (``.npz``) to save the run's state to every
            ``checkpoint_every`` steps: the trained variables, the optimizer's,
            the other variables the step changes (``checkpoint_state``, e.g.
            batch-normalisation statistics), the losses so far and the
            callbacks' counters, with the arrays ``checkpoint_extra()`` returns
            (the caller's state, e.g. of the generator drawing the batches;
            :func:`read_checkpoint` reads them back). When the file exists, the
            run resumes from it: ``batches`` must then start at the step it was
            saved at. When ``batches`` is a callable (a fresh iterable per
            pass), a pass's stream cannot be cut in the middle, so checkpoints
            are saved at the end of the first pass after every
            ``checkpoint_every`` steps, and a resumed run starts a new pass.
            Inside :func:`budget`, the run pauses at its next checkpoint once
            the budget is spent (:class:`TrainingPaused`). The caller removes
            the file once it has kept the result.
        checkpoint_final
            Also save the state at the end, marked finished: a run started again
            on it returns that result at once (for a caller whose later stages
            may be interrupted).

        Returns
        -------
        History
        """
        if (steps is None) == (epochs is None):
            raise ValueError("give exactly one of steps and epochs")
        if eval_every is None and epochs is None and (validation is not None or reduce_on_plateau):
            raise ValueError("eval_every is needed to validate or reduce on a plateau with steps")
        if patience is not None and validation is None:
            raise ValueError("early stopping needs validation")
        model = _Model(self.variables, self.optimizer)
        stopper = None
        if validation is not None:
            stopper = keras.callbacks.EarlyStopping(
                monitor="val_loss", min_delta=min_delta,
                patience=np.inf if patience is None else patience,
                restore_best_weights=restore_best)
        callbacks = [cb for cb in (stopper, reduce_on_plateau) if cb is not None]
        if reduce_on_plateau is not None and reduce_on_plateau.monitor not in (
                ("loss", "val_loss") if validation is not None else ("loss",)):
            raise ValueError(f"reduce_on_plateau monitors {reduce_on_plateau.monitor!r}, "
                             "which this run does not log")
        for cb in callbacks:
            cb.set_model(model)
            cb.on_train_begin()

        losses: list[float] = []
        val_loss: list[float] = []
        val_steps: list[int] = []
        checkpoint_state = list(checkpoint_state)
        last_eval, n_evals, spent, last_save, passes = 0, 0, 0.0, 0, 0
        if checkpoint is not None and (saved := load_state(checkpoint)) is not None:
            losses, val_loss, val_steps = (saved[k].tolist()
                                           for k in ("loss", "val_loss", "val_steps"))
            last_eval, n_evals = int(saved["last_eval"]), int(saved["n_evals"])
            spent, last_save = float(saved["seconds"]), len(losses)
            passes = int(saved["passes"]) if "passes" in saved else 0
            _assign(self.variables, saved, "var")
            _assign(self.optimizer.variables, saved, "opt")
            _assign(checkpoint_state, saved, "state")
            if "finished" in saved:
                best = int(saved["best_step"])
                return History(loss=np.array(losses), val_loss=np.array(val_loss),
                               val_steps=np.array(val_steps, dtype=np.int64),
                               best_step=None if best < 0 else best,
                               stopped_early=bool(saved["stopped_early"]), seconds=spent)
            for j, cb in enumerate(callbacks):
                for name in _CALLBACK_STATE:
                    if f"cb{j}/{name}" in saved:
                        value = saved[f"cb{j}/{name}"][()]
                        setattr(cb, name, value.item() if np.ndim(value) == 0 else value)
                if f"cb{j}/best_weights/0" in saved:
                    cb.best_weights = [saved[f"cb{j}/best_weights/{i}"]
                                       for i in range(len(self.variables))]

        def save_checkpoint(**final) -> None:
            nonlocal last_save
            last_save = len(losses)
            state = {"loss": np.array(losses, np.float64), "passes": passes,
                     "val_loss": np.array(val_loss, np.float64),
                     "val_steps": np.array(val_steps, np.int64), "last_eval": last_eval,
                     "n_evals": n_evals, "seconds": spent + time.perf_counter() - start}
            state.update({f"var/{i}": v.numpy() for i, v in enumerate(self.variables)})
            state.update({f"opt/{i}": v.numpy() for i, v in enumerate(self.optimizer.variables)})
            state.update({f"state/{i}": v.numpy() for i, v in enumerate(checkpoint_state)})
            for j, cb in enumerate(callbacks):
                state.update({f"cb{j}/{name}": np.asarray(getattr(cb, name))
                              for name in _CALLBACK_STATE if getattr(cb, name, None) is not None})
                for i, w in enumerate(getattr(cb, "best_weights", None) or []):
                    state[f"cb{j}/best_weights/{i}"] = w
            if checkpoint_extra is not None:
                state.update({f"extra/{k}": v for k, v in checkpoint_extra().items()})
            state.update(final)
            save_state(checkpoint, state)

        def pause() -> None:
            if last_save != len(losses):   # not saved at this step already
                save_checkpoint()
            raise TrainingPaused(desc, len(losses), total, checkpoint)

        def evaluate() -> None:
            nonlocal last_eval, n_evals
            logs = {"loss": float(np.mean(losses[last_eval:]))}
            if validation is not None:
                logs["val_loss"] = (validation() if callable(validation)
                                    else self.evaluate(validation, seed))
                val_loss.append(float(logs["val_loss"]))
                val_steps.append(len(losses))
            for cb in callbacks:
                cb.on_epoch_end(n_evals, dict(logs))
            bar.set_postfix(logs, refresh=False)
            last_eval, n_evals = len(losses), n_evals + 1

        total = steps if steps is not None else _total(batches, epochs)
        by_pass = callable(batches)    # checkpoints at the ends of passes only
        start = time.perf_counter()
        with progress.bar(total, desc=desc, unit="step", leave=leave, quiet=quiet) as bar:
            bar.update(len(losses))
            for it in _passes(batches, None if epochs is None else epochs - passes):
                for batch in _take(it, None if steps is None else steps - len(losses)):
                    s = tf.constant([seed, len(losses)], tf.int64)
                    losses.append(float(self._step(_to_tensors(batch), s)))
                    bar.update()
                    if eval_every is not None and len(losses) % eval_every == 0:
                        evaluate()
                        if model.stop_training:
                            break
                    if checkpoint is not None and not by_pass:
                        if len(losses) % checkpoint_every == 0:
                            save_checkpoint()
                        if budget_spent() and len(losses) != steps:
                            pause()
                passes += 1
                if model.stop_training or len(losses) == steps:
                    break
                if eval_every is None and epochs is not None:
                    evaluate()
                    if model.stop_training:
                        break
                if checkpoint is not None and by_pass and (epochs is None or passes < epochs):
                    if len(losses) - last_save >= checkpoint_every:
                        save_checkpoint()
                    if budget_spent():
                        pause()
        for cb in callbacks:
            cb.on_train_end()
        best = None
        if stopper is not None and val_steps:
            best = val_steps[stopper.best_epoch]
        if checkpoint is not None and checkpoint_final:
            save_checkpoint(finished=np.int8(1), best_step=np.int64(-1 if best is None else best),
                            stopped_early=np.int8(model.stop_training))
        return History(loss=np.array(losses), val_loss=np.array(val_loss),
                       val_steps=np.array(val_steps, dtype=np.int64), best_step=best,
                       stopped_early=model.stop_training,
                       seconds=spent + time.perf_counter() - start)


def _assign(variables: Sequence, saved: dict[str, np.ndarray], prefix: str) -> None:
    n = sum(k.startswith(prefix + "/") for k in saved)
    if n != len(variables):
        raise ValueError(f"checkpoint holds {n} {prefix} arrays, this run has {len(variables)}")
    for i, v in enumerate(variables):
        v.assign(saved[f"{prefix}/{i}"])


def read_checkpoint(path: Path | None) -> tuple[int, dict[str, np.ndarray]]:
    """``(steps done, extra arrays)`` of the checkpoint a :meth:`Trainer.fit`
    run saved at ``path``; ``(0, {})`` when there is none (a fresh start)."""
    saved = None if path is None else load_state(path)
    if saved is None:
        return 0, {}
    return len(saved["loss"]), {k[len("extra/"):]: v for k, v in saved.items()
                                if k.startswith("extra/")}


#: end-of-iterator marker (a batch may be any object, ``None`` included)
_END = object()


def _passes(batches: Batches, epochs: int | None) -> Iterator[Iterator]:
    """Iterators over the passes: ``epochs`` of them, or as many as needed.
    A pass that yields nothing is an error (an exhausted one-shot iterator)."""
    n = 0
    while epochs is None or n < epochs:
        it = iter(batches() if callable(batches) else batches)
        first = next(it, _END)
        if first is _END:
            raise ValueError(f"pass {n + 1} over the batches is empty (a one-shot iterator "
                             "serves one pass: give a callable or a re-iterable)")
        yield _chain(first, it)
        n += 1


def _chain(first: Any, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def _take(it: Iterator, n: int | None) -> Iterator:
    """At most ``n`` items of ``it`` (all when ``None``), never pulling one more:
    a lazy stream draws no batch that is not trained on."""
    if n is None:
        yield from it
        return
    for _ in range(n):
        item = next(it, _END)
        if item is _END:
            return
        yield item


def _total(batches: Batches, epochs: int) -> int | None:
    """Number of steps of ``epochs`` passes, if the batches know their length."""
    try:
        return epochs * len(batches)  # type: ignore[arg-type]
    except TypeError:
        return None


def ddpm_optimizer(learning_rate: float, steps: int | None) -> Optimizer:
    """``keras.optimizers.Adam`` with the learning rate decayed to 0 over ``steps``
    on a cosine (``CosineDecay``), the optimizer of :func:`train_ddpm`; with
    ``steps=None`` a constant rate (a variable, which ``ReduceLROnPlateau`` may
    lower). (``benchmarks/optimizer.py``: a hand-written Adam is no faster in the
    XLA-compiled DDPM step, CPU time Keras / hand-written 0.97-1.05 at the
    DM-VB CDL size.)"""
    rate = learning_rate if steps is None else keras.optimizers.schedules.CosineDecay(
        learning_rate, steps)
    return keras.optimizers.Adam(rate, epsilon=1e-8)


def fit(loss_fn: LossFn, variables: Sequence, batches: Batches, *,
        optimizer: Optimizer | None = None, jit_compile: bool = True, **kwargs) -> History:
    """Minimise ``loss_fn`` over ``variables`` on ``batches``: a one-run
    :class:`Trainer` (see its parameters) and :meth:`Trainer.fit` (the rest:
    ``steps`` / ``epochs``, ``validation``, ``eval_every``, ``patience``,
    ``min_delta``, ``restore_best``, ``reduce_on_plateau``, ``desc``, ``quiet``,
    ``leave``, ``seed``)."""
    return Trainer(loss_fn, variables, optimizer, jit_compile=jit_compile).fit(batches, **kwargs)


#: fixed (t, noise) draws per held-out image in :func:`train_ddpm`'s validation
#: loss: the DDPM loss varies a lot with ``t``, several draws steady it
VALIDATION_DRAWS = 4

#: held-out images per validation batch of :func:`train_ddpm`
_VALIDATION_BATCH = 256


def train_ddpm(model: ExpertCNN, draws: list[DrawFn], sched: Schedule, *, steps: int,
               batch_size: int, learning_rate: float, rngs: list[np.random.Generator],
               validation: list[np.ndarray] | None = None, eval_every: int = 500,
               patience: int | None = None, quiet: bool | None = None,
               on_trained: Callable[[int, dict[str, Any]], None] | None = None,
               checkpoints: Sequence[Path] | None = None) -> dict[str, Any]:
    """Train expert ``k`` of ``model`` on ``draws[k]`` with the batches, steps and
    noise drawn from ``rngs[k]``, one expert after the other:
    :func:`~simlink.nn.diffusion.ddpm_loss` with Adam (:func:`ddpm_optimizer`),
    starting from ``model``'s current weights (``quiet``: as for :func:`fit`).

    Without ``validation``: ``steps`` steps on a cosine-decayed learning rate.
    With ``validation`` (per expert, held-out clean images [n, H, W] complex64):
    train to a plateau of the held-out denoising loss (each image at
    :data:`VALIDATION_DRAWS` fixed ``(t, noise)`` draws, evaluated every
    ``eval_every`` steps) at a constant rate that ``ReduceLROnPlateau`` halves
    after ``max(1, patience // 2)`` evaluations without improvement; stop after
    ``patience`` of them (``None``: never) or at ``steps``, and keep the best
    evaluation's weights.

    Experts train one by one on a single-expert working copy, so one compiled
    step serves them all (XLA compiles it once per call, not once per expert)
    and each expert's training time is measured; on CPU, XLA's gradient of the
    grouped convolution that stacks experts is also several times slower than
    single-expert training.

    Output: ``loss`` [K] arrays of per-step losses (``steps`` each without
    validation), ``seconds`` [K] training time per expert, and with
    validation ``val_loss`` / ``val_steps`` [K] arrays (the curves) and
    ``best_step`` [K]. ``on_trained(k, record)``, if given, is called as
    soon as expert ``k`` is trained, with its ``state`` (single-expert
    weights) and its entries of the output, so a caller can keep it before
    the next expert starts.

    ``checkpoints`` [K], if given: expert ``k`` checkpoints its training to
    ``checkpoints[k]`` every ``eval_every`` steps (:meth:`Trainer.fit`, with
    the state of ``rngs[k]``), resumes from it when it exists (to the same
    weights as an uninterrupted run), and removes it after ``on_trained``.
    """
    if validation is not None and len(validation) != len(draws):
        raise ValueError(f"{len(validation)} validation sets for {len(draws)} experts")
    state = model.get_state()
    work = ExpertCNN({k: v[:1] for k, v in state.items()})
    abar = tf.constant(sched.abar, tf.float32)
    expert = lambda x, t, cond=None: work(x[None], t, cond)[0]  # noqa: E731

    # The noise seeds travel with the batch rather than coming from fit's
    # ``seed``: each expert's generator draws all of its step seeds first, then
    # the batches, as the cached experts were trained.
    def loss_fn(batch, _):
        x0, noise_seed = batch
        return ddpm_loss(expert, to_image(x0[0]), noise_seed, abar)

    opt = ddpm_optimizer(learning_rate, None if validation is not None else steps)
    trainer = Trainer(loss_fn, work.trainable, opt)
    out: dict[str, Any] = {"loss": [], "seconds": np.empty(model.n_experts),
                           "val_loss": [], "val_steps": [], "best_step": []}
    for k, (draw, rng) in enumerate(zip(draws, rngs, strict=True)):
        for name, var in work.weights.items():
            var.assign(state[name][k:k + 1])
        for var in opt.variables:      # a fresh optimizer: step count and moments 0
            var.assign(tf.zeros_like(var))
        seeds = rng.integers(0, 2**31 - 1, size=(steps, 2))
        ckpt = None if checkpoints is None else Path(checkpoints[k])
        done, extra = read_checkpoint(ckpt)
        if done:   # the batches drawn so far are trained on: draw on from there
            rng.bit_generator.state = json.loads(str(extra["rng"]))
        kwargs: dict[str, Any] = {}
        if validation is not None:
            opt.learning_rate.assign(learning_rate)
            kwargs = dict(validation=_validation_batches(validation[k], k),
                          eval_every=min(eval_every, steps),
                          patience=patience, reduce_on_plateau=keras.callbacks.ReduceLROnPlateau(
                              monitor="val_loss", factor=0.5,
                              patience=max(1, (patience or 2) // 2), verbose=0))
        if ckpt is not None:
            kwargs.update(checkpoint=ckpt, checkpoint_every=min(eval_every, steps),
                          checkpoint_extra=lambda rng=rng: {
                              "rng": np.array(json.dumps(rng.bit_generator.state))})
        hist = trainer.fit(((draw(rng, batch_size), s) for s in seeds[done:]), steps=steps,
                           desc=f"DDPM expert {k + 1}/{len(draws)}", quiet=quiet, leave=False,
                           **kwargs)
        record = {"loss": hist.loss, "seconds": hist.seconds}
        if validation is not None:
            record.update(val_loss=hist.val_loss, val_steps=hist.val_steps, best_step=hist.best_step)
        for name, value in record.items():
            if name == "seconds":
                out[name][k] = value
            else:
                out[name].append(value)
        for name, var in model.weights.items():
            var[k:k + 1].assign(work.weights[name])
        if on_trained is not None:
            on_trained(k, {"state": work.get_state(), **record})
        if ckpt is not None:
            ckpt.unlink(missing_ok=True)
    return out


def _validation_batches(images: np.ndarray, expert: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed ``(x0 [1, B, H, W], noise seed [2])`` batches over ``images`` [n, H, W]:
    every image at :data:`VALIDATION_DRAWS` seeds, the same at every evaluation."""
    if not len(images):
        raise ValueError(f"expert {expert}: no held-out images to validate on")
    return [(images[None, i:i + _VALIDATION_BATCH], np.array([d, i], np.int64))
            for d in range(VALIDATION_DRAWS) for i in range(0, len(images), _VALIDATION_BATCH)]
