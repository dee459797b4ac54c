"""CsiNet+ (Guo, Wen, Jin, Li, IEEE TWC 2020), a learned CSI-feedback baseline, in Keras 3.

Data convention (shared with :mod:`simlink.nn.istanet`). One report's CSI is
the truncated angular-delay matrix ``H`` in C^{Nc x Nt}; the networks see it as
the flat real vector ``x`` [B, 2 Nc Nt] float32, the C-order flattening of the
real array [B, 2, Nc, Nt] (index 0 real part, 1 imaginary part). A codeword
is ``v`` [B, M] float32. The encoder maps ``x -> v``, the decoder ``v_hat ->
x_hat``; there is no quantiser inside: the caller puts one between the two.
The convolutions run on the channels-last image [B, Nc, Nt, 2].

Architecture (the paper's, with one deliberate change):

- encoder: 7x7 conv (2 ch) + BN + LeakyReLU(0.3), twice; flatten; Dense(M);
- decoder: Dense(2 Nc Nt); reshape to [Nc, Nt, 2]; 5x5 conv (2) + BN;
  ``n_refine`` RefineNet blocks (7x7 conv (8) + BN + LeakyReLU, 5x5 conv (16)
  + BN + LeakyReLU, 3x3 conv (2) + BN, identity shortcut, LeakyReLU after the
  add); 3x3 conv (2); flatten.

The change: CsiNet+ ends the decoder head (after the 5x5 conv) and the
decoder (after the final 3x3 conv) with a sigmoid, because its training data
are normalised into [0, 1]. Our ``x`` is zero-mean and unbounded, so both are
linear here; a sigmoid would clip every negative entry.

Parameter counts (:func:`csinet_plus_param_counts`) include the biases of
every conv and dense layer and BN's scale and shift (trainable), plus, with
``trainable=False``, BN's moving mean and variance. The published Table IV
figures count something narrower; :func:`csinet_plus_table_iv_counts`
reproduces them and says what they leave out.
"""
from __future__ import annotations

import keras

from simlink.nn.seeds import layer_seeds

#: LeakyReLU negative slope of CsiNet / CsiNet+ (and CRNet, :mod:`simlink.nn.crnet`)
_SLOPE = 0.3
#: (kernel size, output channels) of the three convs of a RefineNet block
_REFINE = ((7, 8), (5, 16), (3, 2))


def _conv(filters: int, size: int | tuple[int, int], seed: int, name: str, *,
          use_bias: bool = True) -> keras.layers.Conv2D:
    return keras.layers.Conv2D(filters, size, padding="same", use_bias=use_bias, name=name,
                               kernel_initializer=keras.initializers.GlorotUniform(seed))


def _dense(units: int, seed: int, name: str) -> keras.layers.Dense:
    return keras.layers.Dense(units, name=name,
                              kernel_initializer=keras.initializers.GlorotUniform(seed))


def _image(x, n_taps: int, n_ports: int):
    """Flat ``x`` [B, 2 Nc Nt] (C-order [B, 2, Nc, Nt]) as the image [B, Nc, Nt, 2]."""
    return keras.layers.Permute((2, 3, 1))(keras.layers.Reshape((2, n_taps, n_ports))(x))


def _flat(h):
    """The image [B, Nc, Nt, 2] as the flat C-order vector of [B, 2, Nc, Nt]."""
    return keras.layers.Flatten()(keras.layers.Permute((3, 1, 2))(h))


def csinet_plus_encoder(n_taps: int, n_ports: int, m: int, *, seed: int = 0,
                        name: str = "csinet_plus_encoder") -> keras.Model:
    """CsiNet+ encoder (UE side).

    Parameters
    ----------
    n_taps, n_ports : int
        ``Nc`` delay taps and ``Nt`` BS ports of the truncated angular-delay CSI.
    m : int
        Codeword length ``M``.
    seed : int
        Seed of the kernel initialisers: the same seed gives the same weights.
    name : str
        Keras name of the model.

    Input
    -----
    x : [B, 2 Nc Nt], float32
        C-order flattening of the real CSI [B, 2, Nc, Nt].

    Output
    ------
    v : [B, M], float32
        Codeword.
    """
    n = 2 * n_taps * n_ports
    seeds = iter(layer_seeds(seed, "csinet_plus/encoder", 3))
    x = keras.Input((n,), name="x")
    h = _image(x, n_taps, n_ports)
    for i in range(2):
        h = _conv(2, 7, next(seeds), f"conv{i}")(h)
        h = keras.layers.BatchNormalization(name=f"bn{i}")(h)
        h = keras.layers.LeakyReLU(_SLOPE)(h)
    v = _dense(m, next(seeds), "fc")(keras.layers.Flatten()(h))
    return keras.Model(x, v, name=name)


def csinet_plus_decoder(n_taps: int, n_ports: int, m: int, n_refine: int = 5, *,
                        seed: int = 0, name: str = "csinet_plus_decoder") -> keras.Model:
    """CsiNet+ decoder (BS side), with linear outputs (module docstring).

    Parameters
    ----------
    n_taps, n_ports : int
        ``Nc`` delay taps and ``Nt`` BS ports of the truncated angular-delay CSI.
    m : int
        Codeword length ``M``.
    n_refine : int
        Number of RefineNet blocks (5 in CsiNet+).
    seed : int
        Seed of the kernel initialisers: the same seed gives the same weights.
    name : str
        Keras name of the model.

    Input
    -----
    v_hat : [B, M], float32
        Codeword after the caller's quantiser.

    Output
    ------
    x_hat : [B, 2 Nc Nt], float32
        Reconstruction, same convention as the encoder input.
    """
    n = 2 * n_taps * n_ports
    seeds = iter(layer_seeds(seed, "csinet_plus/decoder", 3 + len(_REFINE) * n_refine))
    v = keras.Input((m,), name="v")
    # the dense layer is learned, so its output can be read directly as the
    # channels-last image: no [2, Nc, Nt] detour as for the input
    h = keras.layers.Reshape((n_taps, n_ports, 2))(_dense(n, next(seeds), "fc")(v))
    h = _conv(2, 5, next(seeds), "head_conv")(h)
    h = keras.layers.BatchNormalization(name="head_bn")(h)
    for b in range(n_refine):
        shortcut = h
        for j, (size, filters) in enumerate(_REFINE):
            h = _conv(filters, size, next(seeds), f"refine{b}_conv{j}")(h)
            h = keras.layers.BatchNormalization(name=f"refine{b}_bn{j}")(h)
            if j < len(_REFINE) - 1:
                h = keras.layers.LeakyReLU(_SLOPE)(h)
        h = keras.layers.LeakyReLU(_SLOPE)(keras.layers.Add()([shortcut, h]))
    h = _conv(2, 3, next(seeds), "out_conv")(h)
    return keras.Model(v, _flat(h), name=name)


def csinet_plus(n_taps: int, n_ports: int, m: int, n_refine: int = 5, *,
                seed: int = 0) -> tuple[keras.Model, keras.Model]:
    """``(encoder, decoder)`` of CsiNet+ from one seed (independent draws for the two)."""
    return (csinet_plus_encoder(n_taps, n_ports, m, seed=seed),
            csinet_plus_decoder(n_taps, n_ports, m, n_refine, seed=seed))


def csinet_plus_param_counts(n_taps: int, n_ports: int, m: int, n_refine: int = 5, *,
                             trainable: bool = True) -> tuple[int, int]:
    """``(encoder, decoder)`` parameter counts from the architecture, without Keras.

    A ``k x k`` conv ``ci -> co`` has ``k^2 ci co + co`` parameters, a dense
    layer ``ni -> no`` has ``ni no + no``, a BN of ``c`` channels ``2 c``
    trainable (scale, shift) and ``2 c`` more non-trainable (moving mean and
    variance), counted only when ``trainable`` is False.
    """
    n = 2 * n_taps * n_ports
    bn = 2 if trainable else 4

    def conv(k: int, ci: int, co: int) -> int:
        return k * k * ci * co + co + bn * co            # conv followed by its BN

    encoder = 2 * conv(7, 2, 2) + n * m + m
    block, ci = 0, 2
    for size, co in _REFINE:
        block, ci = block + conv(size, ci, co), co
    decoder = n * m + n + conv(5, 2, 2) + n_refine * block + (9 * 2 * 2 + 2)
    return encoder, decoder


def csinet_plus_table_iv_counts(n_taps: int, n_ports: int, m: int,
                                n_refine: int = 5) -> tuple[int, int]:
    """The counting rule that reproduces CsiNet+'s published Table IV exactly.

    Table IV gives 1,048,772 / 1,069,936 (encoder / decoder) at Nc = Nt = 32,
    M = 512 and 65,732 / 86,896 at M = 32: both equal ``2 Nc Nt M`` (the dense
    kernel, no bias) plus ``7*7*2*2`` for the encoder (ONE 7x7 conv kernel,
    though the encoder has two) and plus ``n_refine`` times the RefineNet
    conv kernels for the decoder. Biases, BN, the second encoder conv and the
    decoder's 5x5 head and 3x3 output convs are not counted; with them the
    architecture has :func:`csinet_plus_param_counts`.
    """
    n = 2 * n_taps * n_ports
    block, ci = 0, 2
    for size, co in _REFINE:
        block, ci = block + size * size * ci * co, co
    return n * m + 7 * 7 * 2 * 2, n * m + n_refine * block
