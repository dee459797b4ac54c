"""The denoiser protocol: the DDPM loss and the sampler call ``eps(x_t, t, cond)``."""
import numpy as np
import pytest
import tensorflow as tf

from simlink.nn import ExpertCNN, Schedule, complex_normal, ddpm_loss, posterior_sample

pytestmark = pytest.mark.fast


def test_ddpm_loss_is_zero_for_the_oracle_denoiser():
    """With ``x0 = 0``, ``x_t = sqrt(1 - abar_t) eps``: a denoiser that divides by
    ``sqrt(1 - abar_t)`` at the ``t`` it is given predicts ``eps`` exactly, so
    the loss checks that ``t``, ``abar_t`` and ``eps`` travel together."""
    abar = tf.constant(Schedule.linear(50).abar, tf.float32)
    seen = {}

    def oracle(x_t, t, cond=None):
        seen["cond"] = cond
        return x_t / tf.sqrt(1.0 - tf.gather(abar, t))[:, None, None, None]

    x0 = tf.zeros([64, 4, 8, 2])
    seed = tf.constant([1, 2], tf.int64)
    assert float(ddpm_loss(oracle, x0, seed, abar, cond="ul")) < 1e-10
    assert seen["cond"] == "ul"
    # a denoiser predicting nothing pays the noise power, 1 per real entry
    zero = lambda x_t, t, cond=None: tf.zeros_like(x_t)  # noqa: E731
    assert float(ddpm_loss(zero, x0, seed, abar)) == pytest.approx(1.0, abs=0.05)


def test_posterior_sample_passes_the_condition():
    sched = Schedule.linear(30).tensors()
    x_T = complex_normal([4, 3], tf.constant([0, 1]))
    lik = lambda x, t: tf.zeros_like(x)  # noqa: E731
    c = tf.constant(0.3 + 0.1j, tf.complex64)
    with_cond = posterior_sample(lambda x, t, cond: cond * x, lik, x_T, sched, 1.0, cond=c)
    closed = posterior_sample(lambda x, t, cond: c * x, lik, x_T, sched, 1.0)
    np.testing.assert_array_equal(with_cond.numpy(), closed.numpy())


def test_expert_cnn_is_an_unconditional_denoiser():
    net = ExpertCNN.init(2, 8, 8, np.random.default_rng(0))
    x = tf.zeros([2, 3, 4, 4, 2])
    t = tf.constant([0, 5, 9])
    assert net(x, t).shape == (2, 3, 4, 4, 2)
    np.testing.assert_array_equal(net(x, t, None).numpy(), net(x, t).numpy())
    with pytest.raises(TypeError, match="unconditional"):
        net(x, t, cond=tf.zeros([3, 4]))
