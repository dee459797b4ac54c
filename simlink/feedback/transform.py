"""The angular-delay transform of learned CSI feedback, with its inverse.

A UE antenna's DL CSI over the band is ``H~`` [n_sc, n_bs] (subcarriers x BS
ports). Its angular-delay form is ``X = F_d H~ F_a``: ``F_d`` the unitary
inverse DFT along the subcarriers (a path of delay ``tau`` lands on tap
``tau * n_sc * delta_f``) and ``F_a`` the unitary DFT along the ports (for a
uniform linear array a plane wave lands on one angular bin; on a UPA or a
cross-polarised array it still is a unitary change of basis). Multipath
delays span a short interval, so the first ``n_taps`` rows hold nearly all
the energy and the rest is dropped (docs/methods.md, "LORA feedback").

Both transforms are unitary, so the energy a truncation keeps is the power
delay profile summed over the kept taps, and the round trip without
truncation is exact up to float rounding. All functions are TensorFlow ops
(usable inside compiled training steps) that also accept NumPy arrays.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def angular_delay(H: tf.Tensor | np.ndarray, n_taps: int | None = None) -> tf.Tensor:
    """``X = F_d H~ F_a``, truncated to the first ``n_taps`` delay taps.

    Input: ``H`` [..., n_sc, n_bs] complex64 (space-frequency CSI).
    Output: [..., n_taps, n_bs] complex64 (all ``n_sc`` taps when ``n_taps`` is None).
    """
    H = tf.convert_to_tensor(H, tf.complex64)
    n_sc, n_bs = H.shape[-2], H.shape[-1]
    # ifft carries 1/n_sc, fft none: scale both to unitary
    X = tf.signal.ifft(tf.linalg.matrix_transpose(H)) * tf.cast(np.sqrt(n_sc), tf.complex64)
    X = tf.signal.fft(tf.linalg.matrix_transpose(X)) / tf.cast(np.sqrt(n_bs), tf.complex64)
    return X if n_taps is None else X[..., :n_taps, :]


def space_frequency(X: tf.Tensor | np.ndarray, n_sc: int) -> tf.Tensor:
    """Inverse of :func:`angular_delay`: zero-pad the taps to ``n_sc``, then invert both DFTs.

    Input: ``X`` [..., n_taps, n_bs] complex64, ``n_taps <= n_sc``.
    Output: ``H~`` [..., n_sc, n_bs] complex64.
    """
    X = tf.convert_to_tensor(X, tf.complex64)
    n_taps, n_bs = X.shape[-2], X.shape[-1]
    if n_taps > n_sc:
        raise ValueError(f"{n_taps} delay taps do not fit {n_sc} subcarriers")
    pad = [[0, 0]] * (X.shape.rank - 2) + [[0, n_sc - n_taps], [0, 0]]
    X = tf.pad(X, pad)
    H = tf.signal.ifft(X) * tf.cast(np.sqrt(n_bs), tf.complex64)      # undo F_a along ports
    H = tf.signal.fft(tf.linalg.matrix_transpose(H)) / tf.cast(np.sqrt(n_sc), tf.complex64)
    return tf.linalg.matrix_transpose(H)


def to_real(X: tf.Tensor) -> tf.Tensor:
    """``[..., n_taps, n_bs]`` complex to the flat real vector ``x`` [..., 2 n_taps n_bs]:
    the C-order flattening of [..., 2, n_taps, n_bs] (real part, then imaginary part)."""
    X = tf.convert_to_tensor(X, tf.complex64)
    parts = tf.stack([tf.math.real(X), tf.math.imag(X)], axis=-3)
    return tf.reshape(parts, tf.concat([tf.shape(parts)[:-3], [-1]], 0))


def from_real(x: tf.Tensor, n_taps: int, n_bs: int) -> tf.Tensor:
    """Inverse of :func:`to_real`: [..., 2 n_taps n_bs] float to [..., n_taps, n_bs] complex64."""
    x = tf.convert_to_tensor(x, tf.float32)
    parts = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [2, n_taps, n_bs]], 0))
    return tf.complex(parts[..., 0, :, :], parts[..., 1, :, :])


def csi_vectors(H: tf.Tensor | np.ndarray, n_taps: int) -> tf.Tensor:
    """Every UE antenna's truncated angular-delay CSI as one flat real row.

    Input: ``H`` [b, n_bs, n_ue, n_sc] complex64 (simlink's channel layout).
    Output: ``x`` [b * n_ue, 2 n_taps n_bs] float32, rows ordered (sample, UE antenna).
    """
    H = tf.convert_to_tensor(H, tf.complex64)
    n_bs, n_sc = H.shape[1], H.shape[3]
    Ht = tf.reshape(tf.transpose(H, [0, 2, 3, 1]), [-1, n_sc, n_bs])   # [b n_ue, n_sc, n_bs]
    return to_real(angular_delay(Ht, n_taps))


def csi_from_vectors(x: tf.Tensor, n_taps: int, n_bs: int, n_ue: int, n_sc: int) -> tf.Tensor:
    """Inverse of :func:`csi_vectors` (the dropped taps come back as zeros).

    Input: ``x`` [b * n_ue, 2 n_taps n_bs] float. Output: [b, n_bs, n_ue, n_sc] complex64.
    """
    Ht = space_frequency(from_real(x, n_taps, n_bs), n_sc)               # [b n_ue, n_sc, n_bs]
    return tf.transpose(tf.reshape(Ht, [-1, n_ue, n_sc, n_bs]), [0, 3, 1, 2])
