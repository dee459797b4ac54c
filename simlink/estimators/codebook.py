"""3GPP Type-I codebook CSI feedback (the standard's baseline).

UE (:meth:`Codebook.encode`): LS-estimate the DL channel from the pilots,
pick the PMI maximising ``sum_{f in subband} ||H(f)^T w||^2`` (summed over UE
antennas), quantise the gain along that codeword and pack both into bits.
BS (:meth:`Codebook.decode`): rebuild a rank-1 DL channel from the bits only.

Report format (fields in this order, MSB first, see :class:`BitLayout`):

- dual polarisation: ``i11``, ``i12`` once (wideband ``i1``), then ``i2``
  (2 bits) and ``gain`` per subband, as 38.214 codebookMode 1;
- single polarisation has no ``i2``; with subbands its beam ``(i11, i12)``
  is reported per subband, since a wideband beam would leave nothing to
  report per subband but the gain;
- ``gain``: ``gain_bits`` per subband, 38.214 has none (it sends a CQI
  instead); without it the BS could not scale its estimate.

Gain. ``g^2 = mean_{f in s} ||H(f)^T w||^2`` is reported normalised to the
channel's nominal power, ``q = 10 log10(g^2 / (n_bs n_ue))`` dB (0 dB when a
unit-power-per-entry channel is fully captured by the beam), quantised
uniformly over :data:`GAIN_RANGE_DB`. With ``gain_bits = 0`` the BS assumes
``q = 0`` dB: the estimate then has unit average power per entry.

Reconstruction. Every UE antenna gets the common beam,
``H_hat[:, u, f] = sqrt(n_bs 10^(q/10)) conj(w_s)`` for ``f`` in subband
``s``: MRT on ``H_hat`` points along ``w_s`` and ``||H_hat(f)^T w_s||^2 = g^2``.
Phases across UE antennas and subcarriers are not reported (rank 1, no
co-phasing between subbands), so NMSE is poor while the beam is right.

The keys, the UE's LS estimate, the gain field and the reconstruction are
those of every 38.214 codebook report (:class:`CodebookFeedback`, shared
with the Type-II ``typeii``); a codebook supplies its precoders and bits.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from simlink.estimators.base import FeedbackEstimator, Problem, register
from simlink.estimators.ls import ls_estimate
from simlink.observation import Observation
from simlink.system import NonNegInt, PosInt, SystemCfg
from simlink.feedback.bits import BitLayout, UniformQuantizer
from simlink.feedback.typei import TypeICodebook, subband_index, typei_codebook

#: Range of the normalised gain ``q`` in dB. Channels have unit power per
#: entry, so a fully captured rank-1 channel sits at 0 dB; fading lifts it a
#: few dB, while scattering spreads energy off the beam (an i.i.d. channel on
#: 32 ports keeps ~ -8 dB). 4 bits give 2 dB steps, <= 1 dB error.
GAIN_RANGE_DB = (-24.0, 8.0)

class CodebookFeedback(FeedbackEstimator):
    """Base of the 38.214 codebook reports: the keys, the UE's LS estimate,
    the gain field and the rank-1 reconstruction they share (module docstring).

    A codebook supplies :meth:`layout`, :meth:`encode` (pilots -> bits) and
    :meth:`decode` (bits -> channel, via :meth:`rebuild`).

    Parameters
    ----------
    n1 : int or None
        Ports ``N1`` along the array's columns (None: the BS array's columns).
    n2 : int or None
        Ports ``N2`` along the array's rows (None: the BS array's rows).
    o1 : int
        DFT oversampling ``O1`` along ``N1``.
    o2 : int
        DFT oversampling ``O2`` along ``N2``.
    subband_size : int or None
        Subband width in subcarriers (None: one wideband PMI).
    gain_bits : int
        Bits of the quantised beam gain per subband (0: no gain report).
    interpolation : "nearest" or "linear"
        Interpolation of the UE's LS estimate between pilots.
    """
    requires = frozenset({"dl_pilots", "feedback"})
    pilot_modes = frozenset({"comb"})

    n1: PosInt | None = None
    n2: PosInt | None = None
    o1: PosInt = 4
    o2: PosInt = 4
    subband_size: PosInt | None = None
    gain_bits: NonNegInt = 4
    interpolation: Literal["nearest", "linear"] = "linear"

    def system_problems(self, system: SystemCfg) -> list[Problem]:
        bs, n_sc = system.bs_array, system.n_subcarriers_dl
        n1, n2 = self.n1 or bs.cols, self.n2 or bs.rows
        problems = super().system_problems(system)
        if n1 * n2 != bs.rows * bs.cols:
            problems.append(("n1", f"N1 x N2 = {n1} x {n2} does not match the "
                                   f"{bs.rows} x {bs.cols} BS array"))
        if self.subband_size and n_sc % self.subband_size:
            problems.append(("subband_size", f"{self.subband_size} does not divide "
                                             f"n_subcarriers_dl={n_sc}"))
        return problems

    # -- report format ---------------------------------------------------
    def codebook(self, system: SystemCfg) -> TypeICodebook:
        """The oversampled DFT grid of ``system``'s BS array."""
        return typei_codebook(system, self.n1, self.n2, self.o1, self.o2)

    def n_subbands(self, system: SystemCfg) -> int:
        return int(subband_index(system.n_subcarriers_dl, self.subband_size)[-1]) + 1

    def layout(self, system: SystemCfg) -> BitLayout:
        """The bit fields of one report."""
        raise NotImplementedError

    def quantizer(self) -> UniformQuantizer:
        return UniformQuantizer(*GAIN_RANGE_DB, self.gain_bits)

    def feedback_bits(self, system: SystemCfg) -> float:
        return float(self.layout(system).n_bits)

    # -- UE ----------------------------------------------------------------
    def ue_channel(self, obs: Observation) -> np.ndarray:
        """The UE's LS estimate of the DL channel: [b, n_bs, n_ue, n_sc_dl] complex64."""
        return ls_estimate(obs.y_pilots, obs.system, obs.noise_var, self.interpolation)

    def gain_index(self, power: np.ndarray, system: SystemCfg) -> np.ndarray:
        """The ``gain`` field: ``power`` [b, n_sb], ``sum_{f in s} ||H(f)^T w_s||^2``
        along the reported unit-norm precoders, to quantiser cells [b, n_sb] int64."""
        sb_len = np.bincount(subband_index(system.n_subcarriers_dl, self.subband_size))
        g2 = power / sb_len / (system.n_bs * system.n_ue)
        q_db = 10.0 * np.log10(np.maximum(g2, np.finfo(np.float32).tiny))
        return self.quantizer().index(q_db)

    # -- BS ----------------------------------------------------------------
    def rebuild(self, w: np.ndarray, gain: np.ndarray, system: SystemCfg) -> np.ndarray:
        """The rank-1 channel of precoders ``w`` [b, n_sb, n_bs] (unit norm) and
        ``gain`` cells [b, n_sb]: [b, n_bs, n_ue, n_sc_dl] complex64 (module docstring)."""
        q_db = self.quantizer().value(gain) if self.gain_bits else np.zeros(w.shape[:2])
        amp = np.sqrt(system.n_bs * 10.0 ** (q_db / 10.0)).astype(np.float32)
        col = amp[..., None] * np.conj(w)                             # [b, s, n_bs]
        col = col[:, subband_index(system.n_subcarriers_dl, self.subband_size)]  # [b, f, n_bs]
        H = np.broadcast_to(np.transpose(col, (0, 2, 1))[:, :, None, :],
                            (len(w), system.n_bs, system.n_ue, system.n_subcarriers_dl))
        return np.ascontiguousarray(H, np.complex64)



@register
class Codebook(CodebookFeedback):
    """Type-I single-panel rank-1 PMI + quantised gain, fed back as bits.

    3GPP TS 38.214 sec. 5.2.2.2.1 (docs/methods.md, "Type-I codebook"); the report
    format is in the module docstring.

    The keys (``n1`` ... ``interpolation``) are those of every codebook report,
    documented with :class:`CodebookFeedback`.

    Input: ``obs.y_pilots`` [b, 1, n_ue, n_pilot_symbols, n_sc_dl] (comb pilots).
    Output: [b, n_bs, n_ue, n_sc_dl] complex64, rebuilt from the report bits only.
    """
    kind = "codebook"

    # -- report format ---------------------------------------------------
    def layout(self, system: SystemCfg) -> BitLayout:
        """The bit fields of one report (see the module docstring)."""
        cb = self.codebook(system)
        n_sb = self.n_subbands(system)
        n_beams = 1 if cb.dual else n_sb
        b11, b12, b2 = cb.index_bits
        return BitLayout((("i11", b11, n_beams), ("i12", b12, n_beams),
                          ("i2", b2, n_sb), ("gain", self.gain_bits, n_sb)))

    # -- UE ----------------------------------------------------------------
    def encode(self, obs: Observation) -> np.ndarray:
        """UE side: pilots -> report bits [b, n_bits] uint8."""
        system = obs.system
        H = self.ue_channel(obs)
        cb = self.codebook(system)
        pmi = cb.select(cb.beam_power(H, self.subband_size), wideband_beam=cb.dual)
        layout = self.layout(system)
        counts = {name: count for name, _, count in layout.fields}
        return layout.pack({"i11": pmi.i11[:, :counts["i11"]],
                            "i12": pmi.i12[:, :counts["i12"]],
                            "i2": pmi.i2, "gain": self.gain_index(pmi.power, system)})

    # -- BS ----------------------------------------------------------------
    def decode(self, bits: np.ndarray, system: SystemCfg) -> np.ndarray:
        """BS side: report bits [b, n_bits] -> H_hat [b, n_bs, n_ue, n_sc_dl] complex64."""
        fields = self.layout(system).unpack(bits)
        w = self.codebook(system).codeword(fields["i11"], fields["i12"], fields["i2"])  # [b, s, n_bs]
        return self.rebuild(w, fields["gain"], system)
