"""3GPP Type-II codebook CSI feedback, rank 1 (38.214 sec. 5.2.2.2.3).

UE (:meth:`TypeII.encode`): LS-estimate the DL channel from the pilots; for
every rotation of the DFT grid take the ``L`` orthogonal beams of its group
with the most wideband power and, per subband, the dominant eigenvector of
the channel covariance on those beams (summed over UE antennas), quantised;
keep the rotation whose quantised precoders receive the most power, measure
the gain along them, and pack it all into bits.
BS (:meth:`TypeII.decode`): rebuild a rank-1 DL channel from the bits only.
The codebook math is :mod:`simlink.feedback.typeii`.

Report format (fields in this order, MSB first, see :class:`BitLayout`), with
``P`` polarisations (2 dual, 1 single), ``K = P L - 1``, ``n_sb`` subbands:

- wideband: ``i11`` rotation ``O2 q1 + q2`` (``ceil(log2(O1 O2))`` bits),
  ``i12`` beam combination (``ceil(log2 C(N1 N2, L))``), ``i13`` strongest
  coefficient (``ceil(log2(P L))``), ``i14`` wideband amplitude of the other
  ``K`` coefficients (``amplitude_bits`` each);
- per subband and per non-strongest coefficient: ``i21`` phase
  (``phase_bits``), ``i22`` amplitude (1 bit, only with ``subband_amplitude``);
- ``gain``: ``gain_bits`` per subband, as the Type-I ``codebook`` (38.214
  sends a CQI instead); without it the BS could not scale its estimate.

So ``n_bits = ceil(log2(O1 O2)) + ceil(log2 C(N1 N2, L)) + ceil(log2(P L))
+ K amplitude_bits + n_sb (K (phase_bits + subband_amplitude) + gain_bits)``.

Differences from 38.214, all to keep one fixed-width report: it omits the
subband fields of coefficients whose wideband amplitude is 0 (its CSI part 2
has a size set by part 1), and with ``subbandAmplitude`` sends amplitude and
``N_PSK`` phase for the ``K^(2) - 1`` strongest coefficients only and QPSK
phases for the rest; here every non-strongest coefficient gets every
subband field (a zero-amplitude one's are sent and ignored). 38.214 allows
``L`` in {2, 3, 4}, ``N_PSK`` in {4, 8} and the 3-bit amplitude table only.

Gain and reconstruction are the Type-I ones (:mod:`simlink.estimators.codebook`):
``H_hat[:, u, f] = sqrt(n_bs 10^(q_s/10)) conj(w_s)``, so MRT on ``H_hat``
points along the reported precoder ``w_s``.
"""
from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from simlink.estimators.base import Problem, register
from simlink.estimators.codebook import CodebookFeedback
from simlink.feedback.bits import BitLayout
from simlink.feedback.typeii import TypeIICodebook, combination_beams
from simlink.observation import Observation
from simlink.system import PosInt, SystemCfg


@register
class TypeII(CodebookFeedback):
    """Type-II rank-1 combination of L orthogonal DFT beams + quantised gain, fed back as bits.

    3GPP TS 38.214 sec. 5.2.2.2.3 (docs/methods.md, "Type-II codebook"); the report
    format is in the module docstring.

    Parameters
    ----------
    n_beams : int
        Beams ``L`` combined (38.214: 2, 3 or 4); at most ``N1 N2``.
    phase_bits : int
        Bits of each subband phase, ``N_PSK = 2^phase_bits`` (38.214: 2 or 3;
        others are simlink's extension).
    amplitude_bits : int
        Bits of each wideband amplitude (38.214: 3, its Table 5.2.2.2.3-2;
        other widths, at least 2, space the table's range evenly in dB).
    subband_amplitude : bool
        Also report a 1-bit amplitude per coefficient and subband (38.214's
        ``subbandAmplitude``, Table 5.2.2.2.3-3).

    The other keys (``n1`` ... ``interpolation``) are those of every codebook
    report, documented with :class:`~simlink.estimators.codebook.CodebookFeedback`.

    Input: ``obs.y_pilots`` [b, 1, n_ue, n_pilot_symbols, n_sc_dl] (comb pilots).
    Output: [b, n_bs, n_ue, n_sc_dl] complex64, rebuilt from the report bits only.
    """
    kind = "typeii"

    n_beams: PosInt = 4
    phase_bits: Annotated[int, Field(ge=1, le=8)] = 3
    amplitude_bits: Annotated[int, Field(ge=2, le=8)] = 3
    subband_amplitude: bool = False

    def system_problems(self, system: SystemCfg) -> list[Problem]:
        problems = super().system_problems(system)
        n_group = system.bs_array.rows * system.bs_array.cols
        if self.n_beams > n_group:
            problems.append(("n_beams", f"L = {self.n_beams} beams exceed the N1 N2 = {n_group} "
                                        f"orthogonal beams of a group"))
        return problems

    # -- report format ---------------------------------------------------
    def typeii_codebook(self, system: SystemCfg) -> TypeIICodebook:
        return TypeIICodebook(self.codebook(system), self.n_beams, self.amplitude_bits,
                              self.phase_bits, self.subband_amplitude)

    def layout(self, system: SystemCfg) -> BitLayout:
        """The bit fields of one report (see the module docstring)."""
        cb = self.typeii_codebook(system)
        n_sb, k = self.n_subbands(system), cb.n_coefficients - 1
        b11, b12, b13 = cb.index_bits
        return BitLayout((("i11", b11, 1), ("i12", b12, 1), ("i13", b13, 1),
                          ("i14", self.amplitude_bits, k), ("i21", self.phase_bits, n_sb * k),
                          ("i22", int(self.subband_amplitude), n_sb * k),
                          ("gain", self.gain_bits, n_sb)))

    # -- UE ----------------------------------------------------------------
    def encode(self, obs: Observation) -> np.ndarray:
        """UE side: pilots -> report bits [b, n_bits] uint8."""
        system = obs.system
        cb = self.typeii_codebook(system)
        fields, power = cb.search(cb.grid.project(self.ue_channel(obs)), self.subband_size)
        fields["gain"] = self.gain_index(power, system)
        return self.layout(system).pack(fields)

    # -- BS ----------------------------------------------------------------
    def decode(self, bits: np.ndarray, system: SystemCfg) -> np.ndarray:
        """BS side: report bits [b, n_bits] -> H_hat [b, n_bs, n_ue, n_sc_dl] complex64."""
        fields = self.layout(system).unpack(bits)
        cb = self.typeii_codebook(system)
        n = combination_beams(fields["i12"][:, 0], cb.n_group, self.n_beams)
        x = cb.coefficients(fields, self.n_subbands(system))
        return self.rebuild(cb.precoder(fields["i11"][:, 0], n, x), fields["gain"], system)
