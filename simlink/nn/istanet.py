"""ISTA-Net+ (Zhang & Ghanem, CVPR 2018) as a learned CSI-feedback baseline, in Keras 3.

Data convention as in :mod:`simlink.nn.csinet`: ``x`` [B, 2 Nc Nt] float32 is
the C-order flattening of the real CSI [B, 2, Nc, Nt], ``v`` [B, M] float32 a
codeword; no quantiser inside. The convolutions run on the channels-last
image [B, Nc, Nt, 2].

Encoder: a learned measurement matrix, ``v = A x`` (a bias-free Dense layer,
``A`` initialised N(0, 1/M)). Decoder: ``x_0 = Q v`` with ``Q`` learned and
initialised as ``A^T``, then ``n_phases`` phases, phase ``k``::

    r   = x - rho_k A^T (A x - v)
    x   = r + G(F~(soft(F(D(r)), theta_k)))

with ``D`` a 3x3 conv ``2 -> Nf``, ``F`` and ``F~`` each 3x3 conv ``Nf -> Nf``,
ReLU, 3x3 conv ``Nf -> Nf``, ``G`` a 3x3 conv ``Nf -> 2``, ``soft`` the soft
threshold, and ``rho_k``, ``theta_k`` and all convolutions learned per phase.
As in the paper's code the convolutions have no bias, kernels start
Glorot-normal and ``theta_k`` at 0.01.

``A`` in the gradient step is the ENCODER's variable (the BS knows the
measurement matrix), read live at every call: the decoder holds the encoder
without tracking it, so ``decoder.trainable_weights`` does not list ``A``
(an optimiser given encoder and decoder weights sees it once) and the
decoder's parameter count excludes it.

One departure from the paper: its ``rho_k`` start at 0.5 for a measurement
matrix with orthonormal rows (``||Phi||_2 = 1``). An N(0, 1/M) matrix with
``2 Nc Nt > M`` has ``||A||_2^2`` about ``(1 + sqrt(M / 2NcNt))^2 2NcNt / M``
(about 15 at 2NcNt = 128, M = 16), for which a step of 0.5 diverges; so
``rho_k`` start at ``0.5 / ||A||_2^2`` of the initial ``A``, the same step
relative to the gradient's Lipschitz constant.

Symmetry (constraint) loss of ISTA-Net: ``sum_k mean((F~_k(F_k(D_k r_k)) -
D_k r_k)^2)`` (mean over batch, pixels and channels; summed over phases, as
in the paper's code). ``decoder(v, return_symmetry=True)`` returns it next to
``x_hat``; a trainer adds ``gamma * symmetry`` (``gamma = 0.01`` in the paper)
to the reconstruction loss.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from simlink.nn.seeds import layer_seeds

#: initial soft threshold of every phase (ISTA-Net code)
_THETA0 = 0.01
#: initial gradient step relative to 1 / ||A||_2^2 (ISTA-Net code: 0.5 with ||Phi||_2 = 1)
_RHO0 = 0.5




def _to_image(x, n_taps: int, n_ports: int):
    """[B, 2 Nc Nt] -> [B, Nc, Nt, 2] (flat vector in C order of [B, 2, Nc, Nt])."""
    return ops.transpose(ops.reshape(x, (-1, 2, n_taps, n_ports)), (0, 2, 3, 1))


def _from_image(img):
    """[B, Nc, Nt, 2] -> [B, 2 Nc Nt] (inverse of :func:`_to_image`)."""
    return ops.reshape(ops.transpose(img, (0, 3, 1, 2)), (ops.shape(img)[0], -1))


class IstaNetPlusEncoder(keras.layers.Layer):
    """Learned linear measurement ``v = A x`` (UE side).

    Parameters
    ----------
    n_taps, n_ports : int
        ``Nc`` delay taps and ``Nt`` BS ports of the truncated angular-delay CSI.
    m : int
        Codeword length ``M``.
    seed : int
        Seed of the N(0, 1/M) initialiser of ``A``: the same seed gives the same ``A``.
    name : str
        Keras name of the layer.

    Input
    -----
    x : [B, 2 Nc Nt], float32
        C-order flattening of the real CSI [B, 2, Nc, Nt].

    Output
    ------
    v : [B, M], float32
        Codeword ``A x``.
    """

    def __init__(self, n_taps: int, n_ports: int, m: int, *, seed: int = 0,
                 name: str = "ista_net_plus_encoder"):
        super().__init__(name=name)
        self.n_taps, self.n_ports, self.m = n_taps, n_ports, m
        init = keras.initializers.RandomNormal(
            stddev=1.0 / np.sqrt(m), seed=layer_seeds(seed, "ista_net_plus/encoder", 1)[0])
        self.measurement = keras.layers.Dense(m, use_bias=False, kernel_initializer=init,
                                              name="measurement")
        self.build((None, 2 * n_taps * n_ports))

    def build(self, input_shape):
        self.measurement.build(input_shape)

    @property
    def kernel(self) -> keras.Variable:
        """The variable holding ``A^T`` [2 Nc Nt, M] (``v = x @ kernel``)."""
        return self.measurement.kernel

    def call(self, x):
        return self.measurement(x)


class _IstaPhase(keras.layers.Layer):
    """One ISTA-Net+ phase: gradient step on ``||A x - v||^2 / 2``, then the
    learned proximal step on the image, and the phase's symmetry residual.

    Input: ``x`` [B, 2 Nc Nt], ``v`` [B, M], ``a_t`` [2 Nc Nt, M] (the encoder's
    kernel, ``A^T``). Output: new ``x`` [B, 2 Nc Nt] and, with ``with_symmetry``,
    the scalar mean of ``(F~(F(D r)) - D r)^2`` (else None: it costs one more
    pass through ``F~``).
    """

    def __init__(self, n_taps: int, n_ports: int, n_filters: int, rho0: float,
                 seeds: list[int], name: str):
        super().__init__(name=name)
        self.n_taps, self.n_ports, self.n_filters = n_taps, n_ports, n_filters
        seeds = iter(seeds)

        def conv(filters: int, name: str, activation: str | None = None):
            return keras.layers.Conv2D(
                filters, 3, padding="same", use_bias=False, activation=activation, name=name,
                kernel_initializer=keras.initializers.GlorotNormal(next(seeds)))

        self.conv_d = conv(n_filters, "D")
        self.forward = keras.Sequential([conv(n_filters, "F0", "relu"), conv(n_filters, "F1")],
                                        name="F")
        self.backward = keras.Sequential([conv(n_filters, "Fb0", "relu"), conv(n_filters, "Fb1")],
                                         name="F_tilde")
        self.conv_g = conv(2, "G")
        self.rho0 = rho0

    def build(self, input_shape):
        image = (None, self.n_taps, self.n_ports, 2)
        features = (None, self.n_taps, self.n_ports, self.n_filters)
        self.conv_d.build(image)
        self.forward.build(features)
        self.backward.build(features)
        self.conv_g.build(features)
        # created here rather than in __init__ so that their paths carry the decoder's name
        self.rho = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.rho0),
                                   name="rho")
        self.theta = self.add_weight(shape=(), initializer=keras.initializers.Constant(_THETA0),
                                     name="theta")

    def call(self, x, v, a_t, with_symmetry: bool = False):
        r = x - self.rho * ops.matmul(ops.matmul(x, a_t) - v, ops.transpose(a_t))
        img = _to_image(r, self.n_taps, self.n_ports)
        d = self.conv_d(img)
        f = self.forward(d)
        img = img + self.conv_g(self.backward(ops.soft_shrink(f, self.theta)))
        # F~ applied to F's output WITHOUT the threshold: ISTA-Net's constraint
        # F~ o F = I, enforced on the features this phase actually sees
        symmetry = ops.mean(ops.square(self.backward(f) - d)) if with_symmetry else None
        return _from_image(img), symmetry


class IstaNetPlusDecoder(keras.layers.Layer):
    """ISTA-Net+ reconstruction (BS side) on the encoder's measurement matrix.

    Parameters
    ----------
    encoder : IstaNetPlusEncoder
        The encoder whose ``A`` the gradient steps use (shared, not copied, and
        not tracked: see the module docstring). ``Q`` starts as its ``A^T``.
    n_phases : int
        Number of phases (9 in ISTA-Net+).
    n_filters : int
        Feature channels ``Nf`` of ``D``, ``F``, ``F~`` and ``G`` (32 in ISTA-Net+).
    seed : int
        Seed of the conv initialisers: the same seed gives the same weights.
    name : str
        Keras name of the layer.

    Input
    -----
    v_hat : [B, M], float32
        Codeword after the caller's quantiser.
    return_symmetry : bool
        Also return the symmetry loss (keyword, default False).

    Output
    ------
    x_hat : [B, 2 Nc Nt], float32
        Reconstruction, same convention as the encoder input.
    symmetry : [], float32
        Only with ``return_symmetry``: ``sum_k mean((F~_k(F_k(D_k r_k)) - D_k r_k)^2)``.
    """

    def __init__(self, encoder: IstaNetPlusEncoder, n_phases: int = 9, n_filters: int = 32, *,
                 seed: int = 0, name: str = "ista_net_plus_decoder"):
        super().__init__(name=name)
        # bypass Keras' attribute tracking: A stays the encoder's variable alone,
        # so it is neither listed twice to an optimiser nor saved with the decoder
        object.__setattr__(self, "_encoder", encoder)
        self.n_taps, self.n_ports, self.m = encoder.n_taps, encoder.n_ports, encoder.m
        self.n_phases, self.n_filters = n_phases, n_filters
        a_t = encoder.kernel.numpy()
        rho0 = _RHO0 / float(np.linalg.norm(a_t, 2)) ** 2
        self.q_init = keras.layers.Dense(2 * self.n_taps * self.n_ports, use_bias=False,
                                         kernel_initializer="zeros", name="Q")
        seeds = layer_seeds(seed, "ista_net_plus/decoder", 6 * n_phases)
        self.phases = [_IstaPhase(self.n_taps, self.n_ports, n_filters, rho0,
                                  seeds[6 * k:6 * k + 6], name=f"phase{k}")
                       for k in range(n_phases)]
        self.build((None, self.m))
        self.q_init.kernel.assign(a_t.T)                  # x_0 = A^T v at the start

    @property
    def encoder(self) -> IstaNetPlusEncoder:
        """The encoder whose measurement matrix the gradient steps use."""
        return self._encoder

    def build(self, input_shape):
        self.q_init.build(input_shape)
        for phase in self.phases:
            phase.build((None, 2 * self.n_taps * self.n_ports))

    def call(self, v, return_symmetry: bool = False):
        a_t = self._encoder.kernel
        x = self.q_init(v)
        symmetry = 0.0
        for phase in self.phases:
            x, sym = phase(x, v, a_t, with_symmetry=return_symmetry)
            if return_symmetry:
                symmetry = symmetry + sym
        return (x, symmetry) if return_symmetry else x


def ista_net_plus(n_taps: int, n_ports: int, m: int, n_phases: int = 9, n_filters: int = 32, *,
                  seed: int = 0) -> tuple[IstaNetPlusEncoder, IstaNetPlusDecoder]:
    """``(encoder, decoder)`` of ISTA-Net+ from one seed, the decoder on the encoder's ``A``."""
    encoder = IstaNetPlusEncoder(n_taps, n_ports, m, seed=seed)
    return encoder, IstaNetPlusDecoder(encoder, n_phases, n_filters, seed=seed)


def ista_net_plus_param_counts(n_taps: int, n_ports: int, m: int, n_phases: int = 9,
                               n_filters: int = 32) -> tuple[int, int]:
    """``(encoder, decoder)`` parameter counts from the architecture, without Keras.

    Encoder: ``A``, ``M x 2NcNt``. Decoder: ``Q`` (``2NcNt x M``) and per phase
    the bias-free 3x3 convs ``D`` (``9 * 2 Nf``), ``F`` and ``F~`` (``2 * 9 Nf^2``
    each), ``G`` (``9 Nf * 2``), plus ``rho_k`` and ``theta_k``. The shared
    ``A`` counts in the encoder only. All parameters are trainable.
    """
    n = 2 * n_taps * n_ports
    phase = 9 * 2 * n_filters + 2 * 2 * 9 * n_filters ** 2 + 9 * n_filters * 2 + 2
    return n * m, n * m + n_phases * phase
