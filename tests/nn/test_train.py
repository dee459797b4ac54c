"""Laws of the training loop: it learns, it trains only the variables it is given,
it is reproducible, early stopping keeps the best weights, plateaus lower the
learning rate, and quiet runs print nothing."""
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from simlink import progress
from simlink.nn import ExpertCNN, Schedule, fit, train_ddpm
from simlink.nn.diffusion import ddpm_loss, to_image
from simlink.nn.train import _validation_batches
from simlink.nn.train import Trainer, read_checkpoint

N_IN, N_OUT = 6, 3


def regression(seed: int = 0, noise: float = 0.0):
    """A learnable linear problem ``y = x W* (+ noise)``: the loss, and a batch stream."""
    rng = np.random.default_rng(seed)
    w_true = rng.standard_normal((N_IN, N_OUT)).astype(np.float32)

    def batches(n_batches: int = 10_000, size: int = 32):
        r = np.random.default_rng(seed + 1)
        for _ in range(n_batches):
            x = r.standard_normal((size, N_IN)).astype(np.float32)
            yield x, x @ w_true
    return w_true, batches


def mse(predict, noise: float = 0.0):
    """``loss_fn(batch, seed)``: mean squared error of ``predict(x)``, targets
    perturbed by stateless noise from the step's seed."""
    def loss_fn(batch, seed):
        x, y = batch
        y = y + noise * tf.random.stateless_normal(tf.shape(y), seed)
        return tf.reduce_mean(tf.square(predict(x) - y))
    return loss_fn


@pytest.mark.fast
def test_loss_decreases_on_a_learnable_problem():
    _, batches = regression()
    w = keras.Variable(np.zeros((N_IN, N_OUT), np.float32))
    hist = fit(mse(lambda x: x @ w), [w], batches(), steps=300,
               optimizer=keras.optimizers.Adam(3e-2), quiet=True)
    assert hist.loss.shape == (300,) and np.all(np.isfinite(hist.loss))
    assert hist.loss[-20:].mean() < 1e-2 * hist.loss[:20].mean()
    assert hist.best_step is None and not hist.stopped_early and len(hist.val_loss) == 0


@pytest.mark.fast
def test_only_the_given_variables_train():
    """A frozen base ``W0`` plus a low-rank adapter ``B A`` (LoRA): the base stays
    bit for bit, the adapter learns (keras and tf variables alike)."""
    _, batches = regression()
    rng = np.random.default_rng(3)
    w0 = tf.Variable(rng.standard_normal((N_IN, N_OUT)).astype(np.float32))
    a = keras.Variable(0.1 * rng.standard_normal((N_IN, 2)).astype(np.float32))
    b = keras.Variable(np.zeros((2, N_OUT), np.float32))
    before = w0.numpy().copy()
    a_before = a.numpy().copy()
    hist = fit(mse(lambda x: x @ (w0 + a @ b)), [a, b], batches(), steps=100,
               optimizer=keras.optimizers.AdamW(1e-2), quiet=True)
    np.testing.assert_array_equal(w0.numpy(), before)
    assert not np.array_equal(a.numpy(), a_before) and np.abs(b.numpy()).max() > 0
    assert hist.loss[-10:].mean() < hist.loss[:10].mean()


@pytest.mark.fast
def test_same_seeds_give_identical_weights():
    def run(seed):
        _, batches = regression()
        w = tf.Variable(np.zeros((N_IN, N_OUT), np.float32))
        hist = fit(mse(lambda x: x @ w, noise=0.5), [w], batches(), steps=40, seed=seed,
                   quiet=True)
        return w.numpy(), hist.loss

    (w1, l1), (w2, l2), (w3, _) = run(7), run(7), run(8)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(l1, l2)
    assert not np.array_equal(w1, w3)


@pytest.mark.fast
def test_early_stopping_stops_and_restores_the_best_weights():
    """Validation losses are scripted (best at the 3rd evaluation), and each
    evaluation records the weights it saw."""
    _, batches = regression()
    w = tf.Variable(np.zeros((N_IN, N_OUT), np.float32))
    script = iter([5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9])
    seen = []

    def validation():
        seen.append(w.numpy().copy())
        return next(script)

    hist = fit(mse(lambda x: x @ w), [w], batches(), steps=100, validation=validation,
               eval_every=2, patience=2, quiet=True)
    assert hist.stopped_early
    assert len(hist.loss) == 10                   # 5 evaluations: best, then 2 without progress
    np.testing.assert_array_equal(hist.val_steps, [2, 4, 6, 8, 10])
    np.testing.assert_array_equal(hist.val_loss, [5.0, 4.0, 3.0, 3.5, 3.6])
    assert hist.best_step == 6
    np.testing.assert_array_equal(w.numpy(), seen[2])
    assert not np.array_equal(seen[2], seen[4])


@pytest.mark.fast
def test_fixed_validation_batches_and_epochs():
    """Epochs re-iterate a callable stream; fixed validation batches are scored
    once per epoch; without stopping, the best weights still come back."""
    _, batches = regression()
    w = tf.Variable(np.zeros((N_IN, N_OUT), np.float32))
    val = list(batches(2, 16))
    hist = fit(mse(lambda x: x @ w), [w], lambda: batches(5), epochs=3, validation=val,
               optimizer=keras.optimizers.Adam(1e-2), quiet=True)
    assert len(hist.loss) == 15
    np.testing.assert_array_equal(hist.val_steps, [5, 10, 15])
    assert hist.best_step == hist.val_steps[np.argmin(hist.val_loss)]
    with pytest.raises(ValueError, match="one-shot"):
        fit(mse(lambda x: x @ w), [w], batches(5), epochs=2, quiet=True)


@pytest.mark.fast
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
def test_a_killed_run_resumes_from_its_checkpoint_to_the_uninterrupted_result(tmp_path):
    """Killed at step 58 (its checkpoint is from step 55, after the best
    evaluation, at 50), a fresh process's run on the same checkpoint file ends
    where one uninterrupted run ends: weights (the best ones), losses,
    validation curve, best step and the plateau-lowered learning rate."""
    _, batches = regression()
    val = list(batches(2, 16))

    def run(stream, path=None, extra=None):
        w = tf.Variable(np.zeros((N_IN, N_OUT), np.float32))
        opt = keras.optimizers.Adam(0.3)
        plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5)
        hist = fit(mse(lambda x: x @ w, noise=0.5), [w], stream, steps=60, optimizer=opt,
                   validation=val, eval_every=5, patience=4, reduce_on_plateau=plateau,
                   checkpoint=path, checkpoint_every=5, checkpoint_extra=extra, quiet=True)
        return w.numpy(), hist, float(opt.learning_rate)

    def killed_at(n):
        for i, batch in enumerate(batches()):
            if i == n:
                raise KeyboardInterrupt
            yield batch

    w_whole, whole, lr_whole = run(batches())
    assert lr_whole < 0.3 and whole.best_step < 60   # the plateau rule acted, best weights kept
    path = tmp_path / "run.checkpoint.npz"
    with pytest.raises(KeyboardInterrupt):
        run(killed_at(58), path, extra=lambda: {"where": np.array("here")})
    done, extra = read_checkpoint(path)
    assert done == 55 and str(extra["where"]) == "here"
    w, hist, lr = run(itertools.islice(batches(), done, None), path)
    np.testing.assert_array_equal(w, w_whole)
    np.testing.assert_array_equal(hist.loss, whole.loss)
    np.testing.assert_array_equal(hist.val_loss, whole.val_loss)
    assert (hist.best_step, hist.stopped_early) == (whole.best_step, whole.stopped_early)
    assert lr == lr_whole
    assert read_checkpoint(tmp_path / "none.npz") == (0, {})


@pytest.mark.fast
# Keras's callback reads the learning rate through np.array(tf tensor), which NumPy 2 flags
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
def test_reduce_on_plateau_lowers_the_learning_rate():
    _, batches = regression()
    w = tf.Variable(np.zeros((N_IN, N_OUT), np.float32))
    opt = keras.optimizers.Adam(1e-3)
    flat = iter([1.0] * 10)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=2, factor=0.5)
    fit(mse(lambda x: x @ w), [w], batches(), steps=8, optimizer=opt,
        validation=lambda: next(flat), eval_every=1, reduce_on_plateau=plateau, quiet=True)
    # evaluations 1..8 at a constant loss: reductions after the 3rd, 5th and 7th
    assert float(opt.learning_rate) == pytest.approx(1e-3 * 0.5 ** 3)


@pytest.mark.fast
def test_quiet_runs_print_nothing(capsys):
    _, batches = regression()
    w = tf.Variable(np.zeros((N_IN, N_OUT), np.float32))
    trainer = Trainer(mse(lambda x: x @ w), [w])
    trainer.fit(batches(), steps=3, quiet=True)
    with progress.quiet():
        trainer.fit(batches(), steps=3)
    assert capsys.readouterr().err == ""
    trainer.fit(batches(), steps=3, quiet=False, desc="loud")
    assert "loud" in capsys.readouterr().err


def _tiny_ddpm(experts: list[int]):
    """Train the experts ``experts`` of a 2-expert initialisation on one data set."""
    rng = np.random.default_rng(0)
    H = ((rng.standard_normal((64, 8, 4)) + 1j * rng.standard_normal((64, 8, 4)))
         / np.sqrt(2)).astype(np.complex64)
    init = ExpertCNN.init(2, 8, 8, np.random.default_rng(1)).get_state()
    model = ExpertCNN({k: v[experts] for k, v in init.items()})

    def draw(r, b):
        return H[r.integers(len(H), size=b)][None]
    out = train_ddpm(model, [draw] * len(experts), Schedule.linear(50), steps=30, batch_size=16,
                     learning_rate=1e-3, rngs=[np.random.default_rng(2 + k) for k in experts])
    return model.get_state(), out


def test_train_ddpm_trains_each_expert_as_if_alone(capsys):
    """Expert 2 of a two-expert call equals expert 2 trained alone, bit for bit:
    the optimizer restarts between experts and the run is reproducible."""
    with progress.quiet():
        (both, out), (alone, out1) = _tiny_ddpm([0, 1]), _tiny_ddpm([1])
    assert capsys.readouterr().err == ""
    loss = np.stack(out["loss"])
    assert loss.shape == (2, 30) and out["seconds"].shape == (2,)
    assert np.all(np.isfinite(loss)) and loss[:, -5:].mean() < loss[:, :5].mean()
    for k in both:
        np.testing.assert_array_equal(both[k][1:], alone[k])
    np.testing.assert_array_equal(loss[1:], np.stack(out1["loss"]))


def test_train_ddpm_to_a_plateau_keeps_the_best_held_out_weights():
    """With held-out images, each expert stops ``patience`` evaluations after its
    best held-out loss (a learning rate far too high makes that early), and
    the weights it ends with score that best loss on the same fixed draws."""
    rng = np.random.default_rng(0)
    H = ((rng.standard_normal((96, 8, 4)) + 1j * rng.standard_normal((96, 8, 4)))
         / np.sqrt(2)).astype(np.complex64)
    model = ExpertCNN(ExpertCNN.init(2, 8, 8, np.random.default_rng(1)).get_state())
    sched = Schedule.linear(50)

    def draw(r, b):
        return H[r.integers(64, size=b)][None]
    with progress.quiet():
        out = train_ddpm(model, [draw] * 2, sched, steps=400, batch_size=16, learning_rate=0.05,
                         rngs=[np.random.default_rng(2 + k) for k in range(2)],
                         validation=[H[64:]] * 2, eval_every=5, patience=3)
    abar = tf.constant(sched.abar, tf.float32)
    state = model.get_state()
    for k in range(2):
        steps, val = out["val_steps"][k], out["val_loss"][k]
        best = int(np.argmin(val))
        assert out["best_step"][k] == steps[best]
        assert len(out["loss"][k]) == steps[-1] < 400          # stopped early ...
        assert len(val) - 1 - best == 3                         # ... `patience` evaluations later
        expert = ExpertCNN({n: v[k:k + 1] for n, v in state.items()})
        # compiled as the trainer's loss is: XLA's stateless draws differ from eager ones
        loss = tf.function(lambda x0, seed: ddpm_loss(
            lambda x, t, c=None: expert(x[None], t, c)[0], to_image(x0[0]), seed, abar),
            jit_compile=True)
        kept = np.mean([float(loss(x0, seed)) for x0, seed in _validation_batches(H[64:], k)])
        np.testing.assert_allclose(kept, val[best], rtol=1e-4)
