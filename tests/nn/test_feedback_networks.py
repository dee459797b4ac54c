"""Laws of the learned CSI-feedback networks (CsiNet+, CRNet, ISTA-Net+): shapes and
the flat-vector convention, seeded initialisation, parameter counts equal to the
architecture's formulas, a stateless decoder, ISTA-Net+'s shared measurement matrix
and its reduction to plain gradient steps, and that a few Adam steps learn."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from simlink.nn.crnet import crnet, crnet_param_counts
from simlink.nn.csinet import (csinet_plus, csinet_plus_param_counts,
                               csinet_plus_table_iv_counts)
from simlink.nn.istanet import ista_net_plus, ista_net_plus_param_counts

NC, NT, M = 8, 8, 16
N = 2 * NC * NT


def x_batch(b: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((b, N)).astype(np.float32)


def n_params(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def values(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


def small_ista(seed: int = 0, **kw):
    kw = {"n_phases": 2, "n_filters": 8} | kw
    return ista_net_plus(NC, NT, M, seed=seed, **kw)


@pytest.fixture(scope="module")
def csinet():
    return csinet_plus(NC, NT, M, n_refine=2, seed=0)


@pytest.fixture(scope="module")
def cr():
    return crnet(NC, NT, M, n_crblocks=2, seed=0)


# --- shapes, convention, seeds ----------------------------------------------------------

@pytest.mark.fast
@pytest.mark.parametrize("build", [lambda: csinet_plus(NC, NT, M, n_refine=2),
                                   lambda: crnet(NC, NT, M, n_crblocks=2), small_ista])
def test_shapes(build):
    encoder, decoder = build()
    v = encoder(x_batch())
    assert tuple(v.shape) == (4, M) and v.dtype == "float32"
    x_hat = decoder(v)
    assert tuple(x_hat.shape) == (4, N) and x_hat.dtype == "float32"


@pytest.mark.fast
@pytest.mark.parametrize("net", ["csinet", "cr"])
def test_conv_nets_read_and_write_the_flat_c_order_convention(net, request):
    """Flat ``x`` is C-order [B, 2, Nc, Nt]; the convolutions see [B, Nc, Nt, 2]."""
    encoder, decoder = request.getfixturevalue(net)
    x = x_batch()
    image = keras.Model(encoder.input, encoder.layers[2].output)(x)     # Reshape, Permute
    np.testing.assert_array_equal(image, x.reshape(4, 2, NC, NT).transpose(0, 2, 3, 1))
    out = keras.Sequential(decoder.layers[-2:])                          # Permute, Flatten
    img = np.random.default_rng(1).standard_normal((4, NC, NT, 2)).astype(np.float32)
    np.testing.assert_array_equal(out(img), img.transpose(0, 3, 1, 2).reshape(4, N))


@pytest.mark.fast
def test_ista_image_mapping_is_the_flat_c_order_convention():
    from simlink.nn.istanet import _from_image, _to_image
    x = x_batch()
    img = keras.ops.convert_to_numpy(_to_image(x, NC, NT))
    np.testing.assert_array_equal(img, x.reshape(4, 2, NC, NT).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(_from_image(img), x)


@pytest.mark.fast
@pytest.mark.parametrize("build", [lambda seed: csinet_plus(NC, NT, M, n_refine=2, seed=seed),
                                   lambda seed: crnet(NC, NT, M, n_crblocks=2, seed=seed),
                                   lambda seed: small_ista(seed)])
def test_same_seed_same_weights_other_seed_other_weights(build):
    (e0, d0), (e1, d1), (e2, d2) = build(3), build(3), build(4)
    for a, b, c in ((e0, e1, e2), (d0, d1, d2)):
        for wa, wb, wc in zip(values(a), values(b), values(c)):
            np.testing.assert_array_equal(wa, wb)
            if wa.size > 2 and np.ptp(wa) > 0:          # random kernels, not constants/zeros
                assert not np.allclose(wa, wc)


@pytest.mark.fast
@pytest.mark.parametrize("net, layer", [("csinet", "refine{}_conv0"),
                                        ("cr", "crblock{}_path0_conv1x9")])
def test_layers_get_their_own_draws(net, layer, request):
    """One seed per layer: same-shape layers (RefineNet blocks, CRBlocks) do not start equal."""
    _, decoder = request.getfixturevalue(net)
    k0, k1 = (decoder.get_layer(layer.format(b)).kernel.numpy() for b in (0, 1))
    assert not np.allclose(k0, k1)


@pytest.mark.fast
def test_crnet_paths_within_a_unit_get_their_own_draws(cr):
    """CRNet's encoder has two same-shape 3x3 ConvBNs (one per path): different draws."""
    encoder, _ = cr
    k0, k1 = (encoder.get_layer(f"path{p}_conv3x3").kernel.numpy() for p in (0, 1))
    assert not np.allclose(k0, k1)


@pytest.mark.fast
def test_crnet_decoder_has_no_hidden_state(cr):
    """Encoder [B, M], decoder [B, 2 Nc Nt]; identical codewords give identical outputs,
    in one batch and across calls (inference BN reads only its stored statistics).
    Across batch sizes only to float32 rounding: the CPU kernels that a batch size
    selects sum in their own order (differences of 1e-7 seen on CI)."""
    encoder, decoder = cr
    v = keras.ops.convert_to_numpy(encoder(x_batch(b=3)))
    assert v.shape == (3, M)
    twice = np.concatenate([v, v])
    x_hat = keras.ops.convert_to_numpy(decoder(twice))
    assert x_hat.shape == (6, N)
    np.testing.assert_array_equal(x_hat[:3], x_hat[3:])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(decoder(twice)), x_hat)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(decoder(v)), x_hat[:3], rtol=1e-5, atol=1e-6)


# --- parameter counts -------------------------------------------------------------------

def conv(k, ci, co, bias=True):
    return k * k * ci * co + (co if bias else 0)


def dense(ni, no, bias=True):
    return ni * no + (no if bias else 0)


def csinet_formula(nc, nt, m, n_refine, bn_per_channel):
    """CsiNet+ from its definition; BN has 2 trainable (gamma, beta) + 2 moving stats."""
    n, bn = 2 * nc * nt, bn_per_channel
    enc = 2 * (conv(7, 2, 2) + bn * 2) + dense(n, m)
    block = (conv(7, 2, 8) + bn * 8) + (conv(5, 8, 16) + bn * 16) + (conv(3, 16, 2) + bn * 2)
    dec = dense(m, n) + conv(5, 2, 2) + bn * 2 + n_refine * block + conv(3, 2, 2)
    return enc, dec


def crnet_formula(nc, nt, m, n_crblocks, bn):
    """CRNet from its definition: every ConvBN is a bias-free conv plus ``bn`` per channel."""
    n = 2 * nc * nt

    def cbn(kh, kw, ci, co):
        return kh * kw * ci * co + bn * co

    enc = (cbn(3, 3, 2, 2) + cbn(1, 9, 2, 2) + cbn(9, 1, 2, 2) + cbn(3, 3, 2, 2)
           + cbn(1, 1, 4, 2) + dense(n, m))
    block = (cbn(3, 3, 2, 7) + cbn(1, 9, 7, 7) + cbn(9, 1, 7, 7) + cbn(1, 5, 2, 7)
             + cbn(5, 1, 7, 7) + cbn(1, 1, 14, 2))
    dec = dense(m, n) + cbn(5, 5, 2, 2) + n_crblocks * block
    return enc, dec


def ista_formula(nc, nt, m, n_phases, nf):
    """ISTA-Net+: bias-free A and Q; per phase bias-free D, F (2 convs), F~ (2), G, rho, theta."""
    n = 2 * nc * nt
    phase = conv(3, 2, nf, False) + 4 * conv(3, nf, nf, False) + conv(3, nf, 2, False) + 2
    return dense(n, m, False), dense(m, n, False) + n_phases * phase


@pytest.mark.fast
@pytest.mark.parametrize("n_refine", [0, 2])
def test_csinet_param_counts(n_refine):
    encoder, decoder = csinet_plus(NC, NT, M, n_refine=n_refine)
    keras_trainable = (n_params(encoder.trainable_weights), n_params(decoder.trainable_weights))
    keras_all = (n_params(encoder.weights), n_params(decoder.weights))
    assert keras_trainable == csinet_formula(NC, NT, M, n_refine, 2) \
        == csinet_plus_param_counts(NC, NT, M, n_refine)
    assert keras_all == csinet_formula(NC, NT, M, n_refine, 4) \
        == csinet_plus_param_counts(NC, NT, M, n_refine, trainable=False)


@pytest.mark.fast
@pytest.mark.parametrize("nc, nt, m, n_crblocks", [(8, 8, 16, 2), (4, 6, 5, 1)])
def test_crnet_param_counts(nc, nt, m, n_crblocks):
    encoder, decoder = crnet(nc, nt, m, n_crblocks)
    keras_trainable = (n_params(encoder.trainable_weights), n_params(decoder.trainable_weights))
    keras_all = (encoder.count_params(), decoder.count_params())
    assert keras_trainable == crnet_formula(nc, nt, m, n_crblocks, 2) \
        == crnet_param_counts(nc, nt, m, n_crblocks)
    assert keras_all == crnet_formula(nc, nt, m, n_crblocks, 4) \
        == crnet_param_counts(nc, nt, m, n_crblocks, trainable=False)


@pytest.mark.fast
def test_csinet_counts_at_paper_size_and_table_iv():
    """Nc = Nt = 32: the architecture's counts, and the rule that gives Table IV exactly."""
    for m, table_iv in ((512, (1_048_772, 1_069_936)), (32, (65_732, 86_896))):
        assert csinet_plus_param_counts(32, 32, m) == csinet_formula(32, 32, m, 5, 2)
        assert csinet_plus_table_iv_counts(32, 32, m) == table_iv


@pytest.mark.fast
@pytest.mark.parametrize("n_phases, nf", [(1, 4), (3, 8)])
def test_ista_param_counts(n_phases, nf):
    encoder, decoder = small_ista(n_phases=n_phases, n_filters=nf)
    assert decoder.weights == decoder.trainable_weights          # nothing non-trainable
    keras_counts = (n_params(encoder.trainable_weights), n_params(decoder.trainable_weights))
    assert keras_counts == ista_formula(NC, NT, M, n_phases, nf) \
        == ista_net_plus_param_counts(NC, NT, M, n_phases, nf)


# --- ISTA-Net+: shared A, gradient-step reduction, symmetry loss ------------------------

@pytest.mark.fast
def test_ista_decoder_uses_the_encoders_variable():
    encoder, decoder = small_ista()
    assert decoder.encoder is encoder
    # A is the encoder's alone: an optimiser given both weight lists sees it once
    assert not any(w is encoder.kernel for w in decoder.weights)
    v = encoder(x_batch())
    before = keras.ops.convert_to_numpy(decoder(v))
    encoder.kernel.assign(encoder.kernel * 1.5)
    after = keras.ops.convert_to_numpy(decoder(v))
    assert not np.allclose(before, after, atol=1e-3)


@pytest.mark.fast
def test_ista_with_zero_residual_branch_is_plain_gradient_descent():
    """G = 0 and Q = A^T (its initial value): ``x_0 = A^T v``, then each phase
    ``x <- x - rho_k A^T (A x - v)`` with its own ``rho_k``."""
    encoder, decoder = small_ista(n_phases=3)
    rhos = [0.01, 0.02, 0.03]
    for phase, rho in zip(decoder.phases, rhos):
        phase.conv_g.kernel.assign(np.zeros(phase.conv_g.kernel.shape, np.float32))
        phase.rho.assign(rho)
    a = encoder.kernel.numpy().astype(np.float64).T        # [M, N]
    np.testing.assert_array_equal(decoder.q_init.kernel.numpy(), a)                  # Q = A^T
    v = np.random.default_rng(2).standard_normal((4, M)).astype(np.float32)
    x = v @ a                                                                   # A^T v
    for rho in rhos:
        x = x - rho * (x @ a.T - v) @ a
    x_hat = keras.ops.convert_to_numpy(decoder(v))
    np.testing.assert_allclose(x_hat, x, rtol=1e-4, atol=1e-4 * np.abs(x).max())


@pytest.mark.fast
def test_ista_symmetry_loss_is_exposed_and_differentiable():
    encoder, decoder = small_ista()
    v = encoder(x_batch())
    x_hat, sym = decoder(v, return_symmetry=True)
    np.testing.assert_array_equal(x_hat, decoder(v))
    assert sym.shape == () and float(sym) > 0
    with tf.GradientTape() as tape:
        _, sym = decoder(v, return_symmetry=True)
    grads = tape.gradient(sym, decoder.phases[0].backward.trainable_weights)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


# --- learning ---------------------------------------------------------------------------

def low_rank_data(n: int = 64, rank: int = 3, seed: int = 0) -> np.ndarray:
    """Unit-variance samples on a random ``rank``-dimensional subspace of R^N."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((N, rank)))[0]                   # [N, r]
    x = rng.standard_normal((n, rank)) @ basis.T * np.sqrt(N / rank)
    return x.astype(np.float32)


def train(encoder, decoder, x, steps, gamma=0.0):
    """Full-batch Adam(1e-3) on ``MSE (+ gamma * symmetry)``; the MSE before and after."""
    weights = encoder.trainable_weights + decoder.trainable_weights
    opt = keras.optimizers.Adam(1e-3)

    def loss():
        out = decoder(encoder(x, training=True), training=True,
                      **({"return_symmetry": True} if gamma else {}))
        x_hat, sym = out if gamma else (out, 0.0)
        mse = tf.reduce_mean(tf.square(x_hat - x))
        return mse + gamma * sym, mse

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            total, mse = loss()
        opt.apply_gradients(zip(tape.gradient(total, weights), weights))
        return mse

    first = float(loss()[1])
    for _ in range(steps):
        step()
    return first, float(loss()[1])


def test_csinet_learns():
    x = low_rank_data()
    first, last = train(*csinet_plus(NC, NT, M, n_refine=2, seed=0), x, steps=50)
    assert np.isfinite(last) and last < 0.5 * first


def test_ista_learns():
    x = low_rank_data()
    first, last = train(*small_ista(seed=0, n_phases=3), x, steps=50, gamma=0.01)
    assert np.isfinite(last) and last < 0.5 * first
