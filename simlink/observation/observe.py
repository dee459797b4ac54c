"""What the UE and the BS observe of one Monte Carlo batch, and the one
:func:`observe` that campaigns, tests and benchmarks all use."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from simlink.feedback.bsc import bsc
from simlink.observation.grid import complex_awgn, receive_grid, pilot_symbols_grid
from simlink.observation.partial import partial_pilots
from simlink.system import SystemCfg

#: ``bits [b, n_bits] -> bits`` applied between a feedback encoder and its decoder
FeedbackChannel = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Observation:
    """What the base station / UE observe for one Monte Carlo batch.

    Only the fields an estimator ``requires`` are filled; the others are None.

    - ``ul_csi``: [b, n_bs, n_ue, n_sc_ul] complex64, BS-side noisy UL estimate (``ul_csi``).
    - ``y_pilots``: [b, 1, n_ue, n_sym, n_sc_dl] complex64, the DL pilot grid
      received by the UE (Sionna ``ResourceGrid`` layout; ``dl_pilots``).
    - ``pilot_grid``: [n_bs, n_sym, n_sc_dl] complex64, the transmitted grid
      behind ``y_pilots`` when it is not the system's own (tests, benchmarks).
    - ``dl_partial``: [b, n_bs, n_ue, n_sc_dl] complex64, noisy DL CSI on the
      entries of ``dl_partial_mask`` [n_bs, n_sc_dl] and zero elsewhere (``dl_partial``).
    - ``env_id``: [b] int32 (``env_id``, genie baselines only).
    - ``H_dl``: [b, n_bs, n_ue, n_sc_dl] the true DL channel (``dl_true``, ``perfect`` only).
    - ``feedback_channel``: the channel feedback bits cross (``feedback``; None: error-free).
    """
    system: SystemCfg
    noise_var: float
    batch_size: int
    ul_csi: np.ndarray | None = None
    y_pilots: np.ndarray | None = None
    pilot_grid: np.ndarray | None = None
    dl_partial: np.ndarray | None = None
    dl_partial_mask: np.ndarray | None = None
    env_id: np.ndarray | None = None
    H_dl: np.ndarray | None = None
    feedback_channel: FeedbackChannel | None = None

    @property
    def snr_db(self) -> float:
        return float(-10.0 * np.log10(self.noise_var))

    def transmitted_grid(self) -> np.ndarray:
        """The pilot grid [n_bs, n_sym, n_sc_dl] behind ``y_pilots``."""
        return pilot_symbols_grid(self.system) if self.pilot_grid is None else self.pilot_grid


def observe(H_ul: np.ndarray, H_dl: np.ndarray, system: SystemCfg, snr_db: float,
            requires: Iterable[str], seed: int, *, env_index: int | None = None,
            feedback_ber: float = 0.0, pilot_grid: np.ndarray | None = None) -> Observation:
    """The :class:`Observation` of a batch, with only the fields in ``requires`` filled.

    Parameters
    ----------
    H_ul, H_dl : np.ndarray
        True channels [b, n_bs, n_ue, n_sc_ul] and [b, n_bs, n_ue, n_sc_dl] complex64.
    system : SystemCfg
        The FDD link (its pilots define the DL pilot grid).
    snr_db : float
        SNR; the noise variance is ``10^(-snr_db / 10)`` (unit-power channels).
    requires : iterable of str
        The observations to fill (``Estimator.requires``).
    seed : int
        Base seed. Each observation kind draws from its own stream
        ``[seed, i]``, so an estimator sees the same noise whatever else it requires.
    env_index : int, optional
        Environment index for ``env_id`` (required when ``env_id`` is).
    feedback_ber : float
        Bit error probability of the binary symmetric feedback channel.
    pilot_grid : np.ndarray, optional
        A transmitted grid [n_bs, n_sym, n_sc_dl] replacing the system's.
    """
    requires = frozenset(requires)
    noise_var = 10.0 ** (-snr_db / 10.0)
    fields: dict = {}
    if "ul_csi" in requires:
        noise = complex_awgn(H_ul.shape, noise_var, np.random.default_rng([seed, 0]))
        fields["ul_csi"] = (H_ul + noise).astype(np.complex64)
    if "dl_pilots" in requires:
        grid = pilot_symbols_grid(system) if pilot_grid is None else np.asarray(pilot_grid, np.complex64)
        fields["y_pilots"] = receive_grid(H_dl, grid, noise_var, np.random.default_rng([seed, 1]))
        if pilot_grid is not None:
            fields["pilot_grid"] = grid
    if "feedback" in requires and feedback_ber > 0:
        rng = np.random.default_rng([seed, 2])
        fields["feedback_channel"] = lambda bits: bsc(bits, feedback_ber, rng)
    if "dl_partial" in requires:
        fields["dl_partial"], fields["dl_partial_mask"] = partial_pilots(
            H_dl, noise_var, np.random.default_rng([seed, 3]))
    if "env_id" in requires:
        if env_index is None:
            raise ValueError("observe: env_index is needed for the env_id observation")
        fields["env_id"] = np.full(len(H_dl), env_index, np.int32)
    if "dl_true" in requires:
        fields["H_dl"] = H_dl
    return Observation(system=system, noise_var=noise_var, batch_size=len(H_dl), **fields)
