"""KLT transform coding: the closed-form linear reference of compressed feedback
(docs/methods.md, "LORA feedback", calibration).

``v = U_M^T x`` with ``U_M`` the ``M`` leading eigenvectors of the training
covariance of the scaled truncated CSI ``x``, each entry quantised with
``bits`` bits by a uniform midrise quantiser whose step is the MSE-optimal one
for a Gaussian of that entry's variance (:func:`gaussian_uniform_step`), and
``x_hat = U_M v_hat``. For a Gaussian source it is the optimal linear code at
``M`` entries of ``bits`` bits each: without quantisation its NMSE on the
kept taps is ``sum_{i > M} lambda_i / sum_i lambda_i`` (:func:`klt_nmse`).
"""
from __future__ import annotations

from functools import lru_cache

import keras
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from simlink.channels.dataset import Dataset
from simlink.estimators.base import register
from simlink.estimators.compressed.base import CompressedFeedback
from simlink.feedback.transform import csi_vectors


def uniform_gaussian_mse(step: float, n_bits: int) -> float:
    """MSE of the ``2**n_bits``-level uniform midrise quantiser of step ``step``
    (outer cells unbounded) on a standard Gaussian, from its partial moments."""
    levels = (np.arange(1 << n_bits) - ((1 << n_bits) - 1) / 2) * step
    # the outer cells end where the Gaussian has no mass left in float64
    far = max(40.0, 2 * levels[-1])
    edges = np.concatenate([[-far], (levels[:-1] + levels[1:]) / 2, [far]])
    a, b = edges[:-1], edges[1:]
    pa, pb = norm.pdf(a), norm.pdf(b)
    i0 = norm.cdf(b) - norm.cdf(a)
    i1 = pa - pb
    i2 = i0 - (b * pb - a * pa)          # the integral of x^2 phi(x) over [a, b]
    return float(np.sum(i2 - 2 * levels * i1 + levels ** 2 * i0))


@lru_cache(maxsize=None)
def gaussian_uniform_step(n_bits: int) -> float:
    """The step minimising :func:`uniform_gaussian_mse` (in standard deviations)."""
    top = 8.0 / (1 << n_bits) + 2.0      # covers the optimum at every bit count
    return float(minimize_scalar(uniform_gaussian_mse, bounds=(1e-6, top), args=(n_bits,),
                                 method="bounded", options={"xatol": 1e-9}).x)


def klt_nmse(eigenvalues: np.ndarray, m: int, n_bits: int | None = None) -> float:
    """NMSE on the kept taps of the KLT with ``m`` entries: the dropped energy,
    plus, with ``n_bits``, the Gaussian quantisation error of the kept entries."""
    lam = np.sort(np.asarray(eigenvalues, np.float64))[::-1]
    err = lam[m:].sum()
    if n_bits is not None:
        err += lam[:m].sum() * uniform_gaussian_mse(gaussian_uniform_step(n_bits), n_bits)
    return float(err / lam.sum())


@register
class Klt(CompressedFeedback):
    """Karhunen-Loeve transform coding with Gaussian-optimal uniform quantisers, fed back as bits.

    The closed-form linear reference of compressed feedback: leading
    eigenvectors of the training covariance, ``bits`` bits per entry.
    """
    kind = "klt"
    per_entry_quantizer = True

    def networks(self, n_in: int, m: int, n_ports: int, seed: int):
        enc = keras.layers.Dense(m, use_bias=False, trainable=False, name="klt_encoder")
        dec = keras.layers.Dense(n_in, use_bias=False, trainable=False, name="klt_decoder")
        enc.build((None, n_in))
        dec.build((None, m))
        return enc, dec

    def prepare(self, train: Dataset, scale: float, rng: np.random.Generator) -> None:
        C, count = 0.0, 0
        for chunk in train.chunks("H_dl"):           # streamed: memory holds one chunk
            x = csi_vectors(chunk["H_dl"], self.n_taps).numpy().astype(np.float64) / scale
            C = C + x.T @ x
            count += len(x)
        lam, U = np.linalg.eigh(C / count)
        lam, U = lam[::-1], U[:, ::-1]
        m = self.encoder_.kernel.shape[1]
        self.eigenvalues_ = lam
        self.encoder_.kernel.assign(U[:, :m].astype(np.float32))
        self.decoder_.kernel.assign(U[:, :m].T.astype(np.float32))

    def _calibrate(self, H: np.ndarray, rng: np.random.Generator) -> None:
        m = self.encoder_.kernel.shape[1]
        s = gaussian_uniform_step(self.bits) * np.sqrt(np.maximum(self.eigenvalues_[:m], 0))
        self.quantizer_.set_range(s, -s * ((1 << self.bits) - 1) / 2)
