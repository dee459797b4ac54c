"""CRNet (Lu, Wang, Song, IEEE ICC 2020), a multi-resolution learned CSI-feedback baseline,
in Keras 3.

Data convention as in :mod:`simlink.nn.csinet`: ``x`` [B, 2 Nc Nt] float32 is
the C-order flattening of the real CSI [B, 2, Nc, Nt], ``v`` [B, M] the
codeword, and the convolutions run on the channels-last image [B, Nc, Nt, 2]:
rows are the ``Nc`` delay taps, columns the ``Nt`` angle bins. The paper's
32 x 32 matrix is delay x angle in the same order and its kernels are written
rows x columns, so a "1x9" kernel spans 1 delay tap and 9 angle bins and a
"9x1" one 9 taps and 1 bin; Keras' ``kernel_size`` is (delay, angle) here too.

Architecture (the paper's and its official code's, with one deliberate change).
Every ConvBN is a bias-free "same" convolution followed by BN; LeakyReLU(0.3)
throughout.

- encoder: path 1 ConvBN 3x3 (2 ch), 1x9 (2), 9x1 (2) with a LeakyReLU
  between; path 2 ConvBN 3x3 (2); concatenated (4 ch), LeakyReLU, ConvBN 1x1
  (2), LeakyReLU; flatten; Dense(M);
- decoder: Dense(2 Nc Nt); reshape to [Nc, Nt, 2]; ConvBN 5x5 (2),
  LeakyReLU; ``n_crblocks`` CRBlocks; flatten;
- CRBlock: path 1 ConvBN 3x3 (7), 1x9 (7), 9x1 (7); path 2 ConvBN 1x5 (7),
  5x1 (7); concatenated (14), LeakyReLU, ConvBN 1x1 (2), identity shortcut,
  LeakyReLU after the add.

The change: CRNet ends the decoder with a sigmoid, because its training data
are normalised into [0, 1]. Our ``x`` is zero-mean and unbounded, so there is
no sigmoid here: the output is the last CRBlock's LeakyReLU (a bijection of
the reals, so every value stays reachable), or the head's with no CRBlock.

Parameter counts (:func:`crnet_param_counts`): conv kernels, dense kernels
and biases, BN's scale and shift (trainable), plus, with ``trainable=False``,
BN's moving mean and variance.
"""
from __future__ import annotations

from collections.abc import Iterator

import keras

from simlink.nn.csinet import _SLOPE, _conv, _dense, _flat, _image
from simlink.nn.seeds import layer_seeds

#: (kernel, output channels) of the ConvBN chains of each parallel path
_Paths = tuple[tuple[tuple[tuple[int, int], int], ...], ...]
_ENCODER_PATHS: _Paths = ((((3, 3), 2), ((1, 9), 2), ((9, 1), 2)), (((3, 3), 2),))
_CRBLOCK_PATHS: _Paths = ((((3, 3), 7), ((1, 9), 7), ((9, 1), 7)), (((1, 5), 7), ((5, 1), 7)))


def _n_convs(paths: _Paths) -> int:
    """ConvBNs of a multi-resolution unit: its paths and the 1x1 fusion."""
    return sum(map(len, paths)) + 1


def _conv_bn(h, filters: int, size: tuple[int, int], seed: int, name: str):
    # no conv bias: BN's shift would cancel it
    h = _conv(filters, size, seed, name, use_bias=False)(h)
    return keras.layers.BatchNormalization(name=f"{name}_bn")(h)


def _multi_resolution(h, paths: _Paths, seeds: Iterator[int], prefix: str):
    """Parallel ConvBN chains (LeakyReLU between), concatenated, LeakyReLU, then a 1x1
    ConvBN to 2 channels: the shared core of CRNet's encoder and of a CRBlock."""
    outs = []
    for p, path in enumerate(paths):
        g = h
        for j, (size, filters) in enumerate(path):
            if j:
                g = keras.layers.LeakyReLU(_SLOPE)(g)
            g = _conv_bn(g, filters, size, next(seeds), f"{prefix}path{p}_conv{size[0]}x{size[1]}")
        outs.append(g)
    h = keras.layers.LeakyReLU(_SLOPE)(keras.layers.Concatenate()(outs))
    return _conv_bn(h, 2, (1, 1), next(seeds), f"{prefix}conv1x1")


def crnet_encoder(n_taps: int, n_ports: int, m: int, *, seed: int = 0,
                  name: str = "crnet_encoder") -> keras.Model:
    """CRNet encoder (UE side).

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
    seeds = iter(layer_seeds(seed, "crnet/encoder", _n_convs(_ENCODER_PATHS) + 1))
    x = keras.Input((n,), name="x")
    h = _multi_resolution(_image(x, n_taps, n_ports), _ENCODER_PATHS, seeds, "")
    h = keras.layers.LeakyReLU(_SLOPE)(h)
    v = _dense(m, next(seeds), "fc")(keras.layers.Flatten()(h))
    return keras.Model(x, v, name=name)


def crnet_decoder(n_taps: int, n_ports: int, m: int, n_crblocks: int = 2, *,
                  seed: int = 0, name: str = "crnet_decoder") -> keras.Model:
    """CRNet decoder (BS side), without the final sigmoid (module docstring).

    Parameters
    ----------
    n_taps, n_ports : int
        ``Nc`` delay taps and ``Nt`` BS ports of the truncated angular-delay CSI.
    m : int
        Codeword length ``M``.
    n_crblocks : int
        Number of CRBlocks (2 in CRNet).
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
    seeds = iter(layer_seeds(seed, "crnet/decoder", 2 + _n_convs(_CRBLOCK_PATHS) * n_crblocks))
    v = keras.Input((m,), name="v")
    # the dense output is read directly as the channels-last image, as in CsiNet+
    h = keras.layers.Reshape((n_taps, n_ports, 2))(_dense(n, next(seeds), "fc")(v))
    h = keras.layers.LeakyReLU(_SLOPE)(_conv_bn(h, 2, (5, 5), next(seeds), "head_conv5x5"))
    for b in range(n_crblocks):
        fused = _multi_resolution(h, _CRBLOCK_PATHS, seeds, f"crblock{b}_")
        h = keras.layers.LeakyReLU(_SLOPE)(keras.layers.Add()([h, fused]))
    return keras.Model(v, _flat(h), name=name)


def crnet(n_taps: int, n_ports: int, m: int, n_crblocks: int = 2, *,
          seed: int = 0) -> tuple[keras.Model, keras.Model]:
    """``(encoder, decoder)`` of CRNet from one seed (independent draws for the two)."""
    return (crnet_encoder(n_taps, n_ports, m, seed=seed),
            crnet_decoder(n_taps, n_ports, m, n_crblocks, seed=seed))


def crnet_param_counts(n_taps: int, n_ports: int, m: int, n_crblocks: int = 2, *,
                       trainable: bool = True) -> tuple[int, int]:
    """``(encoder, decoder)`` parameter counts from the architecture, without Keras.

    A bias-free ``kh x kw`` ConvBN ``ci -> co`` has ``kh kw ci co`` kernel
    parameters and ``2 co`` trainable BN ones (scale, shift), plus ``2 co``
    non-trainable (moving mean and variance) counted only when ``trainable``
    is False; a dense layer ``ni -> no`` has ``ni no + no``.
    """
    n = 2 * n_taps * n_ports
    bn = 2 if trainable else 4

    def unit(paths: _Paths) -> int:                   # one multi-resolution unit from 2 channels
        total, concat = 0, 0
        for path in paths:
            ci = 2
            for (kh, kw), co in path:
                total, ci = total + (kh * kw * ci + bn) * co, co
            concat += ci
        return total + (concat + bn) * 2

    encoder = unit(_ENCODER_PATHS) + n * m + m
    decoder = m * n + n + (5 * 5 * 2 + bn) * 2 + n_crblocks * unit(_CRBLOCK_PATHS)
    return encoder, decoder
