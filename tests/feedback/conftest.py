"""Small systems and observations for the feedback tests."""
from __future__ import annotations

import numpy as np
import pytest

from simlink.system import SystemCfg
import dataclasses

from simlink.observation import Observation, observe as observe_batch


def make_system(rows: int = 2, cols: int = 4, polarization: str = "dual",
                n_sc: int = 24, n_ue: int = 1) -> SystemCfg:
    return SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.6e9, n_subcarriers_ul=n_sc,
                     n_subcarriers_dl=n_sc, pilots={"comb": 4},
                     bs_array={"kind": "upa", "rows": rows, "cols": cols,
                               "polarization": polarization},
                     ue_array={"kind": "ula", "n": n_ue})


def observe(H: np.ndarray, system: SystemCfg, noise_var: float, seed: int = 0,
            feedback_channel=None) -> Observation:
    """The UE's pilot observation of the DL channel ``H`` [b, n_bs, n_ue, n_sc]
    (:func:`simlink.observation.observe`), with ``feedback_channel`` between
    encoder and decoder (None: error-free)."""
    H = H.astype(np.complex64)
    obs = observe_batch(H, H, system, -10 * np.log10(noise_var), ("dl_pilots",), seed)
    return dataclasses.replace(obs, feedback_channel=feedback_channel)


def rayleigh(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
            / np.sqrt(2)).astype(np.complex64)


@pytest.fixture
def dual_system() -> SystemCfg:
    """UPA 2 x 4 dual-polarised: 16 ports, N1 = 4, N2 = 2."""
    return make_system()
