"""LASSO in the angular (2-D DFT) domain by FISTA (DM-VB baseline).

Per subcarrier, with ``H_k = F_r G F_t^T`` (unitary DFT matrices over the UE
and BS ports: the angular domain of half-wavelength ULAs):

    min_G  1/2 ||Y_k - F_r G F_t^T X_k||_F^2 + lam_k ||G||_1,

``lam_k = lam * sqrt(noise_var) * s_max(X_k)``: after a gradient step of size
``1 / s_max^2`` the noise on ``G`` has standard deviation about
``sqrt(noise_var) / s_max``, so ``lam`` is a threshold in noise standard
deviations whatever the pilot power.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from simlink.estimators.base import Estimate, Estimator, register
from simlink.observation import Observation
from simlink.observation.flat import PilotModel, images_to_csi
from simlink.system import NonNegFloat, PosInt, SystemCfg


def dft(n: int) -> np.ndarray:
    """Unitary DFT matrix [n, n] complex64."""
    k = np.arange(n)
    return (np.exp(-2j * np.pi * np.outer(k, k) / n) / np.sqrt(n)).astype(np.complex64)


@tf.function(jit_compile=True)
def fista(Y: tf.Tensor, X: tf.Tensor, F_r: tf.Tensor, F_t: tf.Tensor, step: tf.Tensor,
          thresh: tf.Tensor, n_iter: tf.Tensor) -> tf.Tensor:
    """FISTA for the problem of the module docstring.

    Input: ``Y`` [b, n_sc, Nr, n_sym], ``X`` [n_sc, Nt, n_sym], DFTs ``F_r`` [Nr, Nr],
    ``F_t`` [Nt, Nt] (complex64), per-subcarrier ``step = 1 / s_max^2`` and
    ``thresh = lam_k * step`` [n_sc] float32. Output: ``H_k`` [b, n_sc, Nr, Nt] complex64.
    """
    B = tf.einsum("ts,ksj->ktj", F_t, X)                     # F_t^T X (F_t is symmetric)
    B_h = tf.math.conj(tf.transpose(B, [0, 2, 1]))
    F_r_h = tf.math.conj(tf.transpose(F_r))
    step_c = tf.cast(step, tf.complex64)[None, :, None, None]
    thresh = thresh[None, :, None, None]

    def shrink(z):
        mag = tf.abs(z)
        return z * tf.cast(tf.maximum(1.0 - thresh / tf.maximum(mag, 1e-30), 0.0), tf.complex64)

    def body(i, g, z, q):
        resid = Y - tf.einsum("rq,bkqt,ktj->bkrj", F_r, z, B)
        g_new = shrink(z + step_c * tf.einsum("rq,bkqj,kjt->bkrt", F_r_h, resid, B_h))
        q_new = (1.0 + tf.sqrt(1.0 + 4.0 * q * q)) / 2.0
        z_new = g_new + tf.cast((q - 1.0) / q_new, tf.complex64) * (g_new - g)
        return i + 1, g_new, z_new, q_new

    shape = tf.concat([tf.shape(Y)[:3], tf.shape(X)[1:2]], 0)
    g0 = tf.zeros(shape, tf.complex64)
    _, g, _, _ = tf.while_loop(lambda i, *_: i < n_iter, body, (0, g0, g0, tf.constant(1.0)))
    return tf.einsum("rq,bkqt,st->bkrs", F_r, g, F_t)        # F_r G F_t^T


@register
class Lasso(Estimator):
    """LASSO in the angular (2-D DFT) domain by FISTA (docs/methods.md, "LASSO").

    Parameters
    ----------
    lam : float
        Soft threshold in noise standard deviations (see the module docstring).
    n_iter : int
        FISTA iterations.

    Input: ``obs.y_pilots`` [b, 1, n_ue, n_sym, n_sc_dl] (comb or dense pilots).
    Output: [b, n_bs, n_ue, n_sc_dl] complex64.
    """
    kind = "lasso"
    requires = frozenset({"dl_pilots"})

    lam: NonNegFloat = 1.0
    n_iter: PosInt = 200

    def estimate(self, obs: Observation) -> Estimate:
        pm = PilotModel.of(obs)
        n_t = pm.X.shape[1]
        n_r = obs.y_pilots.shape[2]
        s_max = np.maximum(pm.s.max(axis=1), 1e-12)   # a subcarrier without pilots stays at 0
        step = 1.0 / s_max ** 2
        thresh = self.lam * np.sqrt(obs.noise_var) * s_max * step
        H = fista(tf.constant(pm.measurements(obs.y_pilots)), tf.constant(pm.X),
                  tf.constant(dft(n_r)), tf.constant(dft(n_t)), tf.constant(step, tf.float32),
                  tf.constant(thresh, tf.float32), tf.constant(self.n_iter))
        return Estimate(images_to_csi(H.numpy()))

    def traced_functions(self, system: SystemCfg) -> list:
        return [fista]
