"""Correlated Rayleigh environments with a known covariance (``kind: gaussian``, docs/methods.md).

Tap ``l`` (delay ``tau_l``, power ``P_l``, powers summing to 1) carries a
spatial vector ``g_l ~ CN(0, R_bs (x) R_ue)`` over the C-order flattening of
``[n_bs, n_ue]``. With ``nu`` a band's frequencies relative to the UL
carrier (carrier offset + baseband subcarrier frequency):

    h_ul[k] = sum_l sqrt(P_l) exp(-j 2 pi nu_ul[k] tau_l) g_l
    h_dl[k] = sum_l sqrt(P_l) exp(-j 2 pi nu_dl[k] tau_l) (c g_l + sqrt(1 - c^2) w_l)

with ``w_l`` an independent copy of ``g_l`` and ``c = ul_dl_correlation``:
the DL tap is ``c exp(-j 2 pi df tau_l)`` times the UL tap plus an
independent part (a turned ``w_l`` has the law of ``w_l``). Every entry has
power 1 exactly, so no calibration is needed.

Spatial correlation: ``exponential`` (``rho^|drow| rho^|dcol|``),
``one_ring`` (BS side; see :func:`~simlink.channels.arrays.one_ring_correlation`)
or ``iid``; the UE side is exponential with ``ue_correlation`` (identity for
``iid``).
"""
from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from simlink.channels.arrays import exponential_correlation, one_ring_correlation
from simlink.channels.bands import BANDS, Band, baseband_frequencies, offset_hz
from simlink.channels.source import BLOCK, EnvBase, SyntheticSource, environment
from simlink.system import NonNegFloat, PosFloat, SystemCfg


class GaussianEnv(EnvBase):
    """Correlated Rayleigh with a known covariance (docs/methods.md, "Environments").

    Taps ``l`` with delays ``delays_s`` and powers ``powers`` (normalised to
    sum 1); each tap carries an independent spatially correlated vector with
    ``R_bs (x) R_ue``. The DL tap equals ``c * exp(-j 2 pi df tau_l)`` times
    the UL tap plus an independent part of power ``1 - c^2``, where
    ``c = ul_dl_correlation``.
    """
    kind: Literal["gaussian"]
    spatial: Literal["exponential", "one_ring", "iid"] = "exponential"
    bs_correlation: Annotated[float, Field(ge=0, lt=1)] = 0.7   # exponential coefficient
    ue_correlation: Annotated[float, Field(ge=0, lt=1)] = 0.0
    angle_spread_deg: Annotated[float, Field(gt=0, le=180)] = 10.0  # one-ring
    mean_angle_deg: Annotated[float, Field(ge=-90, le=90)] = 0.0
    delays_s: list[NonNegFloat] = Field(default_factory=lambda: [0.0, 50e-9, 150e-9, 400e-9])
    powers: list[PosFloat] = Field(default_factory=lambda: [0.5, 0.25, 0.15, 0.1])
    ul_dl_correlation: Annotated[float, Field(ge=0, le=1)] = 1.0

    @model_validator(mode="after")
    def _pdp(self) -> "GaussianEnv":
        if len(self.delays_s) != len(self.powers):
            raise ValueError(f"delays_s has {len(self.delays_s)} taps but powers has "
                             f"{len(self.powers)}")
        return self



def spatial_correlations(env: GaussianEnv, system: SystemCfg) -> tuple[np.ndarray, np.ndarray]:
    """``(R_bs [n_bs, n_bs], R_ue [n_ue, n_ue])``, complex128, unit diagonal."""
    if env.spatial == "iid":
        return np.eye(system.n_bs, dtype=complex), np.eye(system.n_ue, dtype=complex)
    if env.spatial == "one_ring":
        r_bs = one_ring_correlation(system.bs_array, env.angle_spread_deg, env.mean_angle_deg)
    else:
        r_bs = exponential_correlation(system.bs_array, env.bs_correlation)
    return r_bs, exponential_correlation(system.ue_array, env.ue_correlation)


def pdp(env: GaussianEnv) -> tuple[np.ndarray, np.ndarray]:
    """``(delays [L] s, powers [L])``, powers normalised to sum 1."""
    powers = np.asarray(env.powers, dtype=np.float64)
    return np.asarray(env.delays_s, dtype=np.float64), powers / powers.sum()


def _relative_frequencies(system: SystemCfg, band: Band) -> np.ndarray:
    """``nu`` of ``band``: its frequencies relative to the UL carrier [Hz], ``[n_sc]``."""
    return offset_hz(system, band) + baseband_frequencies(system, band)


def _psd_factor(r: np.ndarray) -> np.ndarray:
    """``A`` with ``A A^H = r`` (eigen-decomposition: one-ring matrices can be singular)."""
    w, v = np.linalg.eigh(r)
    return v * np.sqrt(np.clip(w, 0.0, None))


def covariance_factors(env: GaussianEnv, system: SystemCfg) -> dict[str, np.ndarray]:
    """Kronecker factors of the covariances of :func:`covariances`.

    Output (complex128): ``R_bs [n_bs, n_bs]``, ``R_ue [n_ue, n_ue]``,
    ``R_f_ul [n_sc_ul, n_sc_ul]``, ``R_f_dl [n_sc_dl, n_sc_dl]``,
    ``R_f_cross [n_sc_ul, n_sc_dl]`` (``c`` included), with e.g.
    ``R_ul = kron(R_bs, R_ue, R_f_ul)``.
    """
    delays, powers = pdp(env)
    r_bs, r_ue = spatial_correlations(env, system)
    nu = {b: _relative_frequencies(system, b) for b in BANDS}

    def freq(a: Band, b: Band) -> np.ndarray:
        phase = np.exp(-2j * np.pi * np.subtract.outer(nu[a], nu[b])[..., None] * delays)
        return phase @ powers

    return {"R_bs": r_bs, "R_ue": r_ue, "R_f_ul": freq("ul", "ul"), "R_f_dl": freq("dl", "dl"),
            "R_f_cross": env.ul_dl_correlation * freq("ul", "dl")}


def covariances(env: GaussianEnv, system: SystemCfg, *, full: bool = True) -> dict[str, np.ndarray]:
    """Covariances of ``h = vec(H)``, ``H`` flattened C-order over ``[n_bs, n_ue, n_sc]``.

    Output: ``R_ul = E[h_ul h_ul^H]``, ``R_dl = E[h_dl h_dl^H]``,
    ``R_cross = E[h_ul h_dl^H]`` (complex128, ``[N_ul, N_ul]``, ``[N_dl, N_dl]``,
    ``[N_ul, N_dl]`` with ``N = n_bs n_ue n_sc``), plus the Kronecker factors
    of :func:`covariance_factors`; ``full=False`` returns the factors only.
    """
    out = covariance_factors(env, system)
    if full:
        spatial = np.kron(out["R_bs"], out["R_ue"])
        for name in ("ul", "dl", "cross"):
            out[f"R_{name}"] = np.kron(spatial, out[f"R_f_{name}"])
    return out


@environment(GaussianEnv)
class GaussianSource(SyntheticSource):
    """NumPy sampler of the model above (no Sionna)."""

    def __init__(self, env: GaussianEnv, system: SystemCfg):
        super().__init__(env, system)
        r_bs, r_ue = spatial_correlations(env, system)
        self._a_bs, self._a_ue = _psd_factor(r_bs), _psd_factor(r_ue)
        delays, powers = pdp(env)
        # [taps, n_sc] per band: sqrt(P_l) exp(-j 2 pi nu[k] tau_l)
        self._taps_to_sc = {b: np.sqrt(powers)[:, None]
                            * np.exp(-2j * np.pi * np.outer(delays, _relative_frequencies(system, b)))
                            for b in BANDS}

    def _spatial(self, rng: np.random.Generator) -> np.ndarray:
        """``[BLOCK, n_bs, n_ue, taps]`` vectors with covariance ``R_bs (x) R_ue`` per tap."""
        shape = (BLOCK, len(self.env.delays_s), self.system.n_bs, self.system.n_ue)
        z = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)
        # vec_C(A Z B^T) = (A (x) B) vec_C(Z)
        g = self._a_bs @ z @ self._a_ue.T
        return np.moveaxis(g, 1, -1)

    def draw(self, seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        g, w = self._spatial(rng), self._spatial(rng)
        c = self.env.ul_dl_correlation
        g_dl = c * g + np.sqrt(1.0 - c * c) * w
        return ((g @ self._taps_to_sc["ul"]).astype(np.complex64),
                (g_dl @ self._taps_to_sc["dl"]).astype(np.complex64))

    def mean_power(self) -> float:
        return 1.0

    def power_delay_profile(self) -> tuple[np.ndarray, np.ndarray]:
        return pdp(self.env)
