"""Downlink CSI-RS-like pilots on a Sionna ``ResourceGrid``.

One transmitter (the BS) sends one non-precoded stream per BS port. Ports are
frequency-multiplexed ``comb`` at a time on one OFDM symbol, so every port
sees ``n_sc_dl / comb`` pilots spread over the band and no two ports share a
resource element. The grid holds only the pilot-carrying OFDM symbols; the
CSI period (``pilots.period_symbols``) only enters the overhead ``rho``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import tensorflow as tf
from sionna.phy.ofdm import PilotPattern, ResourceGrid

from simlink.system import SystemCfg


def comb_pilot_mask(system: SystemCfg) -> np.ndarray:
    """Boolean mask [n_bs, n_pilot_symbols, n_sc_dl]: where port p sends a pilot."""
    comb, n_sc = system.pilots.comb, system.n_subcarriers_dl
    mask = np.zeros((system.n_bs, system.n_pilot_symbols, n_sc), bool)
    for p in range(system.n_bs):
        mask[p, p // comb, p % comb::comb] = True
    return mask


#: pilots are part of the system definition, not of the Monte Carlo draw
PILOT_SEED = 1234


def qpsk(shape: tuple[int, ...], seed: int = PILOT_SEED) -> np.ndarray:
    """Unit-power QPSK symbols of ``shape`` (complex64) from a fixed generator."""
    bits = np.random.default_rng(seed).integers(0, 2, size=(*shape, 2))
    return (((1 - 2 * bits[..., 0]) + 1j * (1 - 2 * bits[..., 1])) / np.sqrt(2)).astype(np.complex64)


def complex_awgn(shape: tuple[int, ...], noise_var: float, rng: np.random.Generator) -> np.ndarray:
    """``CN(0, noise_var)`` samples of ``shape`` (complex64)."""
    z = rng.standard_normal(tuple(shape) + (2,), dtype=np.float32)
    return (np.sqrt(noise_var / 2) * (z[..., 0] + 1j * z[..., 1])).astype(np.complex64)


@lru_cache(maxsize=16)
def pilot_resource_grid(system: SystemCfg) -> ResourceGrid:
    """Sionna resource grid carrying the DL pilots of ``system`` (cached)."""
    mask = comb_pilot_mask(system)
    n_pilots = system.n_subcarriers_dl // system.pilots.comb
    pattern = PilotPattern(mask[None], tf.constant(qpsk((1, system.n_bs, n_pilots))))
    return ResourceGrid(num_ofdm_symbols=system.n_pilot_symbols,
                        fft_size=system.n_subcarriers_dl,
                        subcarrier_spacing=system.subcarrier_spacing_hz,
                        num_tx=1, num_streams_per_tx=system.n_bs,
                        pilot_pattern=pattern)


def dense_pilot_grid(n_bs: int, n_pilots: int, n_sc: int, seed: int = PILOT_SEED) -> np.ndarray:
    """Flat-model grid [n_bs, n_pilots, n_sc] complex64: one unit-power QPSK
    matrix ``X`` [n_bs, n_pilots] (:func:`qpsk`), repeated on every subcarrier."""
    return np.repeat(qpsk((n_bs, n_pilots), seed)[:, :, None], n_sc, axis=2)


def pilot_symbols_grid(system: SystemCfg) -> np.ndarray:
    """Transmitted grid X [n_bs, n_pilot_symbols, n_sc_dl] complex64 (zeros off-pilot)."""
    if system.pilots.mode == "dense":
        return dense_pilot_grid(system.n_bs, system.n_pilot_symbols, system.n_subcarriers_dl)
    rg = pilot_resource_grid(system)
    mask = comb_pilot_mask(system)
    X = np.zeros(mask.shape, np.complex64)
    pilots = rg.pilot_pattern.pilots.numpy()[0]        # [n_bs, n_pilots]
    for p in range(system.n_bs):
        X[p][mask[p]] = pilots[p]
    return X


def receive_grid(H: np.ndarray, grid: np.ndarray, noise_var: float,
                 rng: np.random.Generator) -> np.ndarray:
    """UE-side received grid for an arbitrary pilot grid.

    Input: ``H`` [b, n_bs, n_ue, n_sc] complex64, ``grid`` [n_bs, n_sym, n_sc].
    Output: [b, 1, n_ue, n_sym, n_sc] complex64 (the ``Observation.y_pilots``
    layout), ``y = sum_p H[p] X[p] + n`` with ``n ~ CN(0, noise_var)``.
    """
    y = np.einsum("bpuk,psk->busk", H, grid)
    return (y + complex_awgn(y.shape, noise_var, rng))[:, None].astype(np.complex64)


def h_from_sionna(h_hat: tf.Tensor) -> np.ndarray:
    """Sionna estimator output [b, 1, n_ue, 1, n_bs, n_sym, n_sc] ->
    [b, n_bs, n_ue, n_sc] (every port's estimate is constant in time)."""
    h = tf.transpose(h_hat[:, 0, :, 0, :, 0, :], [0, 2, 1, 3])
    return h.numpy().astype(np.complex64)


def ls_at_pilots(y_pilots: np.ndarray, system: SystemCfg) -> tuple[np.ndarray, np.ndarray]:
    """Raw LS estimates at the pilot REs, no interpolation.

    Input: ``y_pilots`` [b, 1, n_ue, n_pilot_symbols, n_sc_dl].
    Output: ``h_p`` [b, n_ue, n_obs] complex64 and ``idx`` [n_obs] int, the
    flat indices of the observed entries in a [n_bs, n_sc_dl] grid. The
    error of ``h_p`` is ``CN(0, noise_var)`` because pilots have unit power.
    """
    mask = comb_pilot_mask(system)                    # [n_bs, n_sym, n_sc]
    X = pilot_symbols_grid(system)
    port, sym, sc = np.nonzero(mask)
    h_p = y_pilots[:, 0][:, :, sym, sc] / X[port, sym, sc]
    return h_p.astype(np.complex64), port * system.n_subcarriers_dl + sc
