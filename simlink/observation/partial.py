"""Partial DL pilots: noisy DL CSI on a subset of subcarriers and BS antennas.

The pattern of LAD-CKM's partial pilots (docs/methods.md, "Observation
models"): every ``sc_step``-th subcarrier on every ``ant_step``-th BS
antenna, i.e. a fraction ``rho = 1 / (sc_step ant_step)`` of the DL
entries (0.125 with the defaults), each observed as ``h + n``,
``n ~ CN(0, noise_var)`` (unit-power pilots, LS at the pilot).
"""
from __future__ import annotations

import numpy as np

from simlink.observation.grid import complex_awgn


def partial_mask(n_bs: int, n_sc: int, sc_step: int = 4, ant_step: int = 2) -> np.ndarray:
    """Boolean mask [n_bs, n_sc]: the (BS antenna, subcarrier) entries that carry a pilot."""
    mask = np.zeros((n_bs, n_sc), bool)
    mask[::ant_step, ::sc_step] = True
    return mask


def partial_pilots(H_dl: np.ndarray, noise_var: float, rng: np.random.Generator,
                   sc_step: int = 4, ant_step: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Noisy DL CSI on the entries of :func:`partial_mask`, zero elsewhere.

    Input: ``H_dl`` [b, n_bs, n_ue, n_sc] complex64.
    Output: ``(obs [b, n_bs, n_ue, n_sc] complex64, mask [n_bs, n_sc] bool)``.
    """
    mask = partial_mask(H_dl.shape[1], H_dl.shape[3], sc_step, ant_step)
    noisy = H_dl + complex_awgn(H_dl.shape, noise_var, rng)
    return np.where(mask[None, :, None, :], noisy, 0).astype(np.complex64), mask
