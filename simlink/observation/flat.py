"""Flat per-subcarrier pilot model ``Y_k = H_k X_k + N`` read off the DL pilot grid.

The UE receives ``y[b, 0, u, s, k] = sum_p H[b, p, u, k] G[p, s, k] + n`` where
``G`` [n_bs, n_sym, n_sc] is the transmitted pilot grid (zeros where a port is
silent). On subcarrier ``k`` this is the flat MIMO model of docs/methods.md with

- ``H_k`` [Nr, Nt] = ``H[b, :, :, k].T`` (UE x BS, the image the diffusion prior sees),
- ``X_k`` [Nt, n_sym] = ``G[:, :, k]``, pilot density ``alpha = rank(X_k) / Nt``,
- ``y = A h + n`` with ``h = vec(H_k)`` and ``A = X_k^T kron I_Nr``.

Two grids exist:

- the system's CSI-RS comb (:func:`simlink.observation.grid.pilot_symbols_grid`):
  port ``p`` on OFDM symbol ``p // comb`` and subcarriers ``k = p mod comb``, so
  each subcarrier observes ``Nt / comb`` ports directly;
- the dense flat-model grid (``system.pilots.mode: dense``,
  :func:`simlink.observation.grid.dense_pilot_grid`): ``Np`` OFDM symbols carry the
  same random QPSK pilot matrix ``X`` [Nt, Np] on every subcarrier, so a
  pilot-density sweep ``alpha = Np / Nt`` is a system setting. Tests and
  benchmarks may pass any grid (``observe(..., pilot_grid=...)``).

With ``X_k = U S V^H`` (thin SVD, once per estimate call) every operator the
estimators need is diagonal in the singular basis.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from simlink.observation.observe import Observation


def csi_to_images(H: np.ndarray) -> np.ndarray:
    """[b, n_bs, n_ue, n_sc] -> per-subcarrier images [b, n_sc, n_ue, n_bs]."""
    return np.transpose(H, (0, 3, 2, 1))


def images_to_csi(x: np.ndarray) -> np.ndarray:
    """[b, n_sc, n_ue, n_bs] -> [b, n_bs, n_ue, n_sc] complex64 (inverse of :func:`csi_to_images`)."""
    return np.ascontiguousarray(np.transpose(x, (0, 3, 2, 1))).astype(np.complex64)


@dataclass(frozen=True)
class PilotModel:
    """Per-subcarrier pilot matrices and their thin SVDs ``X_k = U_k diag(s_k) V_k^H``.

    ``X`` [n_sc, Nt, n_sym], ``U`` [n_sc, Nt, r], ``s`` [n_sc, r] float32,
    ``V`` [n_sc, n_sym, r] with ``r = min(Nt, n_sym)`` (zero singular values
    where a subcarrier observes fewer ports).
    """
    X: np.ndarray
    U: np.ndarray
    s: np.ndarray
    V: np.ndarray

    @classmethod
    def from_grid(cls, grid: np.ndarray) -> "PilotModel":
        X = np.transpose(grid, (2, 0, 1)).astype(np.complex128)
        U, s, Vh = np.linalg.svd(X, full_matrices=False)
        return cls(X.astype(np.complex64), U.astype(np.complex64), s.astype(np.float32),
                   np.conj(np.swapaxes(Vh, 1, 2)).astype(np.complex64))

    @classmethod
    def of(cls, obs: Observation) -> "PilotModel":
        return cls.from_grid(obs.transmitted_grid())

    @staticmethod
    def measurements(y_pilots: np.ndarray) -> np.ndarray:
        """``Observation.y_pilots`` [b, 1, n_ue, n_sym, n_sc] -> ``Y`` [b, n_sc, Nr, n_sym]."""
        return np.transpose(y_pilots[:, 0], (0, 3, 1, 2))

    def project(self, y_pilots: np.ndarray) -> np.ndarray:
        """``Y_k V_k`` [b, n_sc, Nr, r] complex64: the measurements in the singular
        basis (the part of ``Y_k`` outside ``span(V_k)`` carries no channel)."""
        return np.einsum("bkrs,ksj->bkrj", self.measurements(y_pilots), self.V)

    def regularised_ls(self, Yv: np.ndarray, lam: float | np.ndarray) -> np.ndarray:
        """``(A^H A + lam I)^-1 A^H y`` per subcarrier, i.e.
        ``H_k = Y_k V_k diag(s / (s^2 + lam)) U_k^H``.

        Input: ``Yv`` from :meth:`project`. Output: images [b, n_sc, Nr, Nt] complex64.
        """
        # zero singular values (ports a subcarrier does not observe) get zero gain, also at lam = 0
        gain = np.divide(self.s, self.s ** 2 + lam, out=np.zeros_like(self.s), where=self.s > 0)
        return np.einsum("bkrj,kj,ktj->bkrt", Yv, gain, np.conj(self.U)).astype(np.complex64)

    def rls_error(self, noise_var: float) -> float:
        """NMSE of :meth:`regularised_ls` with ``lam = noise_var`` for a
        unit-power white prior: ``s2 / (s^2 + s2)`` per observed singular
        direction, 1 per unobserved one, averaged over the ``Nt`` directions
        and the subcarriers."""
        n_t = self.U.shape[1]
        observed = self.s > 0
        err = np.where(observed, noise_var / (self.s ** 2 + noise_var), 0.0).sum(axis=1)
        return float(np.mean((err + n_t - observed.sum(axis=1)) / n_t))


def likelihood_score(x: tf.Tensor, abar_t: tf.Tensor, Yv: tf.Tensor, U: tf.Tensor,
                     s: tf.Tensor, noise_var: tf.Tensor) -> tf.Tensor:
    """Uninformative-prior likelihood score of the noisy state (docs/methods.md, "Diffusion family"):
    ``(1/sqrt(abar)) A^H (s2 I + c A A^H)^-1 (y - A x / sqrt(abar))``, ``c = (1 - abar) / abar``,
    diagonal in the SVD basis: ``(1/sqrt(abar)) (Y V - x U S / sqrt(abar)) diag(s / (s2 + c s^2)) U^H``.

    Input: ``x`` [b, n_sc, Nr, Nt] complex64, scalar ``abar_t`` float32, ``Yv``
    [b, n_sc, Nr, r], ``U`` [n_sc, Nt, r], ``s`` [n_sc, r], scalar ``noise_var``.
    Output: [b, n_sc, Nr, Nt] complex64.
    """
    root = tf.sqrt(abar_t)
    c = (1.0 - abar_t) / abar_t
    s = s[:, None, :]                                                    # [n_sc, 1, r] against [b, n_sc, Nr, r]
    resid = Yv - tf.einsum("bkrt,ktj->bkrj", x, U) * tf.cast(s / root, tf.complex64)
    gain = tf.cast(s / (noise_var + c * tf.square(s)) / root, tf.complex64)
    return tf.einsum("bkrj,ktj->bkrt", resid * gain, tf.math.conj(U))
