"""3GPP TS 38.214 Type-II codebook, rank 1 (sec. 5.2.2.2.3): orthogonal beam
groups of the Type-I DFT grid, the combinatorial beam index, the amplitude
and phase tables, and the UE's choice and quantisation of the combining
coefficients.

Beams. The grid is Type-I's (:mod:`simlink.feedback.typei`: same ``v_l``,
``u_m``, port order, and ``O = 1`` on a one-port dimension). A rotation
``i11 = (q1, q2)``, ``q1 in [0, O1)``, ``q2 in [0, O2)``, sent as the one
integer ``q = O2 q1 + q2``, selects a group of ``N1 N2`` mutually orthogonal
beams ``b_{O1 n1 + q1, O2 n2 + q2}``, numbered ``n = N1 n2 + n1`` (38.214's
``n^(i)``). The report keeps ``L`` of them, ``n^(0) < ... < n^(L-1)``, as one
combinatorial index (38.214's ``i1,2``)::

    i12 = sum_{i=0}^{L-1} C(N1 N2 - 1 - n^(i), L - i)        in [0, C(N1 N2, L))

Precoder (38.214's rank-1 ``W^(1)``). Coefficient ``j = p L + i`` weighs beam
``n^(i)`` on polarisation ``p`` (``P = 2`` polarisations, ``P = 1`` single)::

    x_{s,j} = p1_j p2_{s,j} exp(j 2 pi c_{s,j} / N_PSK)
    w_s = [sum_i x_{s,i} b_{n^(i)}; sum_i x_{s,L+i} b_{n^(i)}] / sqrt(N1 N2 sum_j |x_{s,j}|^2)

(the beams of a group are orthogonal, so ``||w_s|| = 1``). The strongest
coefficient ``j* = i13`` has ``p1 = p2 = 1``, ``c = 0`` and is not reported;
every other one has a wideband amplitude ``p1`` (``i14``, Table
5.2.2.2.3-2), and per subband a phase ``c`` (``i21``, ``N_PSK = 2^phase_bits``)
and, optionally, an amplitude ``p2`` (``i22``, Table 5.2.2.2.3-3).

UE (:meth:`TypeIICodebook.search`). Exhaustive over the ``O1 O2`` rotations:
each keeps the ``L`` strongest beams of its group (wideband power, both
polarisations, all UE antennas; the beams of a group are orthogonal, so
these span the most power any ``L`` of them can), takes per subband the
dominant eigenvector of the channel covariance projected on them (rank 1)
and quantises it; the rotation whose quantised precoders receive the most
power wins. Scoring the report as the BS will rebuild it, rather than the
power the beams span, also settles ``L = N1 N2``, where every group spans
the whole space and the choice only matters through the quantisation.

Any bit pattern decodes: rotation and strongest index wrap, every ``i12``
maps to ``L`` distinct beams, the tables cover their fields' ranges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simlink.feedback.bits import bits_for
from simlink.feedback.typei import TypeICodebook, subband_index, subband_matrix

#: 38.214 Table 5.2.2.2.3-2: wideband amplitude ``p1`` of ``k1 = 0 .. 7``.
WIDEBAND_AMPLITUDE = np.sqrt([0.0, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0])
#: 38.214 Table 5.2.2.2.3-3: subband amplitude ``p2`` of ``k2 = 0, 1``.
SUBBAND_AMPLITUDE = np.sqrt([0.5, 1.0])


def wideband_amplitudes(bits: int) -> np.ndarray:
    """The wideband amplitudes of a ``bits``-wide field ``k1``: [2^bits] float64, increasing.

    ``0`` and ``2^bits - 1`` levels evenly spaced in dB between the smallest
    non-zero amplitude of Table 5.2.2.2.3-2 and 1: the table itself at 3 bits
    (3 dB steps in power); other widths (``bits >= 2``) are simlink's extension.
    """
    return np.concatenate([[0.0], np.geomspace(WIDEBAND_AMPLITUDE[1], 1.0, (1 << bits) - 1)])


def nearest_level(x: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Index of the level nearest to each ``x`` (linear distance).

    Input: ``x`` [...] float; ``levels`` [n] increasing. Output: [...] int64 in ``[0, n)``.
    """
    return np.searchsorted((levels[1:] + levels[:-1]) / 2, x).astype(np.int64)


def combination_index(n: np.ndarray, n_total: int) -> np.ndarray:
    """38.214's beam combination index ``i12`` of ``L`` distinct beams.

    Input: ``n`` [..., L] integers in ``[0, n_total)``, increasing along the last axis.
    Output: ``sum_i C(n_total - 1 - n[..., i], L - i)`` [...] int64, in ``[0, C(n_total, L))``.
    """
    n = np.asarray(n, np.int64)
    n_beams = n.shape[-1]
    out = np.zeros(n.shape[:-1], np.int64)
    for i in range(n_beams):
        table = np.array([math.comb(x, n_beams - i) for x in range(n_total)], np.int64)
        out += table[n_total - 1 - n[..., i]]
    return out


def combination_beams(i12: np.ndarray, n_total: int, n_beams: int) -> np.ndarray:
    """The ``L = n_beams`` beams of index ``i12``: 38.214's algorithm, the
    inverse of :func:`combination_index`.

    ``x*`` is the largest ``x <= n_total - 1 - i`` with ``C(x, L - i) <=`` the
    remainder; it falls strictly at each step whatever ``i12`` is, so an index
    past ``C(n_total, L)`` (a bit error) still gives ``L`` distinct beams.

    Input: ``i12`` [...] non-negative integers. Output: [..., L] int64, increasing.
    """
    rest = np.array(i12, np.int64)
    out = []
    for i in range(n_beams):
        table = np.array([math.comb(x, n_beams - i) for x in range(n_total)], np.int64)
        x = np.minimum(np.searchsorted(table, rest, side="right") - 1, n_total - 1 - i)
        rest = rest - table[x]
        out.append(n_total - 1 - x)
    return np.stack(out, -1)


@dataclass(frozen=True)
class TypeIICodebook:
    """Rank-1 Type-II codebook with ``n_beams = L`` beams on the Type-I ``grid``.

    Report fields (module docstring), as arrays: ``i11`` [b] rotation,
    ``i12`` [b] beam combination, ``i13`` [b] strongest coefficient, ``i14``
    [b, K] wideband amplitudes, ``i21`` [b, n_sb, K] phases and ``i22``
    [b, n_sb, K] subband amplitudes (zeros without ``subband_amplitude``),
    with ``K = P L - 1`` coefficients in increasing ``j``, ``j*`` left out.
    """
    grid: TypeICodebook
    n_beams: int
    amplitude_bits: int = 3
    phase_bits: int = 3
    subband_amplitude: bool = False

    @property
    def n_group(self) -> int:
        """Orthogonal beams per group, ``N1 N2``."""
        return self.grid.n1 * self.grid.n2

    @property
    def n_rotations(self) -> int:
        return self.grid.o1 * self.grid.o2

    @property
    def n_coefficients(self) -> int:
        """Combining coefficients ``P L``."""
        return self.grid.n_pol * self.n_beams

    @property
    def index_bits(self) -> tuple[int, int, int]:
        """Widths of ``(i11, i12, i13)``: ceil(log2) of ``O1 O2``, ``C(N1 N2, L)``, ``P L``."""
        return (bits_for(self.n_rotations), bits_for(math.comb(self.n_group, self.n_beams)),
                bits_for(self.n_coefficients))

    def beam_indices(self, q: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid indices ``(l, m) = (O1 n1 + q1, O2 n2 + q2)`` of beams ``n`` of rotation ``q``.

        Input: integer arrays of one broadcast shape [...]. Output: two [...] int64.
        """
        g = self.grid
        q1, q2 = np.divmod(np.asarray(q) % self.n_rotations, g.o2)
        n2, n1 = np.divmod(np.asarray(n), g.n1)
        return g.o1 * n1 + q1, g.o2 * n2 + q2

    # -- UE ------------------------------------------------------------------
    def search(self, z: np.ndarray,
               subband_size: int | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The report of each sample (module docstring) and the power its precoders receive.

        Input: ``z`` [b, P, n_ue, n_sc, N1 O1 N2 O2], :meth:`TypeICodebook.project`
        of the UE's channel estimate.
        Output: every field of the class docstring (``i11``, ``i12`` [b]), and
        ``sum_{f in s} ||H(f)^T w_s||^2`` [b, n_sb] float64 along the decoded ``w_s``.
        """
        b, n_rot = len(z), self.n_rotations
        n = self.strongest_beams(z)                                     # [b, R, L]
        Z = self.beamformed(z, np.broadcast_to(np.arange(n_rot), (b, n_rot)), n)
        Z = Z.reshape(b * n_rot, *Z.shape[2:])                          # [b R, f, u, P L]
        c = self.combining(Z, subband_size)                             # [b R, s, P L]
        fields = self.quantise(c)
        power = self.received_power(Z, self.coefficients(fields, c.shape[1]), subband_size)
        best = power.reshape(b, n_rot, -1).sum(-1).argmax(-1)
        chosen = np.arange(b) * n_rot + best
        fields = {name: value[chosen] for name, value in fields.items()}
        fields.update(i11=best, i12=combination_index(n[np.arange(b), best], self.n_group))
        return fields, power[chosen]

    def strongest_beams(self, z: np.ndarray) -> np.ndarray:
        """The ``L`` beams of each rotation's group with the most wideband power.

        Input: ``z`` as :meth:`search`. Output: ``n`` [b, O1 O2, L] int64, increasing.
        """
        g = self.grid
        power = np.sum(np.abs(z) ** 2, axis=(1, 2, 3))                  # [b, N1 O1 N2 O2]
        # l = O1 n1 + q1, m = O2 n2 + q2: group q's beams are [q1, q2, n2, n1]
        power = power.reshape(-1, g.n1, g.o1, g.n2, g.o2).transpose(0, 2, 4, 3, 1)
        power = power.reshape(len(z), self.n_rotations, self.n_group)
        return np.sort(np.argsort(-power, axis=-1, kind="stable")[..., :self.n_beams], axis=-1)

    def beamformed(self, z: np.ndarray, q: np.ndarray, n: np.ndarray) -> np.ndarray:
        """The channel seen through beams ``n`` of rotations ``q``, ``H(f)^T (e_p kron b_{n^(i)})``.

        Input: ``z`` as :meth:`search`; ``q`` [b, R]; ``n`` [b, R, L].
        Output: [b, R, n_sc, n_ue, P L] complex64, coefficient ``j = p L + i`` last.
        """
        b, n_pol, n_ue, n_sc, _ = z.shape
        l, m = self.beam_indices(q[..., None], n)
        k = (l * (self.grid.n2 * self.grid.o2) + m).reshape(b, 1, 1, 1, -1)
        zs = np.take_along_axis(z, k, -1).reshape(b, n_pol, n_ue, n_sc, *n.shape[1:])
        return zs.transpose(0, 4, 3, 2, 1, 5).reshape(b, n.shape[1], n_sc, n_ue, -1)

    def combining(self, Z: np.ndarray, subband_size: int | None) -> np.ndarray:
        """Per subband, the unit-norm ``c`` maximising ``sum_{f in s} ||Z(f) c||^2``:
        the dominant eigenvector of ``R_s = sum_{f in s} Z(f)^H Z(f)``, which for
        ``Z`` from :meth:`beamformed` maximises the power of the precoder of
        coefficients ``c`` (its beams are orthogonal, so ``||w|| ~ ||c||``).

        Input: ``Z`` [..., n_sc, n_ue, P L]. Output: [..., n_sb, P L] complex
        (each subband's phase arbitrary).
        """
        *batch, n_sc, n_ue, n_coef = Z.shape
        size = subband_size or n_sc
        n_sb = -(-n_sc // size)
        if n_sb * size > n_sc:      # a shorter last subband: zero rows add nothing to R_s
            Z = np.concatenate([Z, np.zeros((*batch, n_sb * size - n_sc, n_ue, n_coef), Z.dtype)], -3)
        Zs = Z.reshape(*batch, n_sb, size * n_ue, n_coef)
        return np.linalg.eigh(np.conj(Zs).swapaxes(-1, -2) @ Zs)[1][..., -1]

    def received_power(self, Z: np.ndarray, x: np.ndarray, subband_size: int | None) -> np.ndarray:
        """Power the precoders of coefficients ``x`` receive, summed over UE
        antennas and each subband's subcarriers: ``||Z(f) x_s||^2 / (N1 N2 ||x_s||^2)``.

        Input: ``Z`` [b, n_sc, n_ue, P L] from :meth:`beamformed`; ``x`` [b, n_sb, P L].
        Output: [b, n_sb] float64.
        """
        n_sc = Z.shape[1]
        x_f = x[:, subband_index(n_sc, subband_size)]                    # [b, f, P L]
        y = Z @ x_f[..., None]                                           # [b, f, u, 1]
        p_f = np.sum(np.abs(y[..., 0]) ** 2, axis=-1, dtype=np.float64)
        p_f /= self.n_group * np.sum(np.abs(x_f) ** 2, axis=-1, dtype=np.float64)
        return p_f @ subband_matrix(n_sc, subband_size)

    def quantise(self, c: np.ndarray) -> dict[str, np.ndarray]:
        """The coefficient fields ``i13, i14, i21, i22`` of combining vectors ``c``.

        ``j*`` maximises the wideband amplitude ``a_j = sqrt(mean_s |c_{s,j}|^2)``;
        each subband's vector is divided by its entry ``j*`` (phase reference
        and unit amplitude). ``p1 = a_j / a_{j*}`` is rounded to the nearest
        level; ``p2`` is the level making ``p1 p2`` nearest to the subband's
        relative amplitude; the phase is rounded to the nearest PSK point.

        Input: ``c`` [b, n_sb, P L] complex. Output: fields as the class docstring.
        """
        a = np.sqrt(np.mean(np.abs(c) ** 2, axis=1))                    # [b, P L]
        strongest = a.argmax(-1)
        ref = np.take_along_axis(c, strongest[:, None, None], -1)       # [b, s, 1]
        rel = c / np.where(ref == 0, 1, ref)
        levels = wideband_amplitudes(self.amplitude_bits)
        k1 = nearest_level(a / np.take_along_axis(a, strongest[:, None], -1), levels)
        if self.subband_amplitude:
            # p1 p2 nearest to |rel|: the decision threshold is p1 times the
            # midpoint of the two p2 levels (and p1 = 0 makes p2 moot)
            k2 = (np.abs(rel) >= levels[k1][:, None] * SUBBAND_AMPLITUDE.mean()).astype(np.int64)
        else:
            k2 = np.zeros(rel.shape, np.int64)
        n_psk = 1 << self.phase_bits
        phase = np.round(np.angle(rel) * n_psk / (2 * np.pi)).astype(np.int64) % n_psk
        others = self.others(strongest)                                 # [b, K]
        sub = others[:, None].repeat(c.shape[1], 1)
        return {"i13": strongest, "i14": np.take_along_axis(k1, others, -1),
                "i21": np.take_along_axis(phase, sub, -1), "i22": np.take_along_axis(k2, sub, -1)}

    # -- both ends ------------------------------------------------------------
    def others(self, strongest: np.ndarray) -> np.ndarray:
        """The reported coefficients: ``j != j*`` in increasing order, [b, P L - 1] int64."""
        j = np.arange(self.n_coefficients - 1)
        return j + (j >= np.asarray(strongest)[:, None])

    def coefficients(self, fields: dict[str, np.ndarray], n_sb: int) -> np.ndarray:
        """The coefficients ``x_{s,j}`` the fields describe.

        Input: ``i13`` [b] or [b, 1] (wraps modulo ``P L``); ``i14`` [b, K];
        ``i21``, ``i22`` [b, n_sb, K] or flat [b, n_sb K] (from :class:`BitLayout`).
        Output: [b, n_sb, P L] complex64.
        """
        strongest = np.asarray(fields["i13"]).reshape(-1) % self.n_coefficients
        b, k = len(strongest), self.n_coefficients - 1
        others = self.others(strongest)
        sub = others[:, None].repeat(n_sb, 1)
        p1 = np.ones((b, self.n_coefficients))
        np.put_along_axis(p1, others, wideband_amplitudes(self.amplitude_bits)[fields["i14"]], -1)
        amp = np.ones((b, n_sb, self.n_coefficients))
        if self.subband_amplitude:
            k2 = np.reshape(fields["i22"], (b, n_sb, k))
            np.put_along_axis(amp, sub, SUBBAND_AMPLITUDE[k2], -1)
        phase = np.zeros((b, n_sb, self.n_coefficients), np.int64)
        np.put_along_axis(phase, sub, np.reshape(fields["i21"], (b, n_sb, k)), -1)
        psk = np.exp(2j * np.pi * phase / (1 << self.phase_bits))
        return (p1[:, None] * amp * psk).astype(np.complex64)

    def precoder(self, q: np.ndarray, n: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Unit-norm precoders ``w_s`` (module docstring).

        Input: ``q`` [b]; ``n`` [b, L]; ``x`` [b, n_sb, P L] from :meth:`coefficients`.
        Output: [b, n_sb, n_ports] complex64.
        """
        beams = self.grid.beam(*self.beam_indices(np.asarray(q)[:, None], n))  # [b, L, N1 N2]
        b, n_sb = x.shape[:2]
        x = x.reshape(b, n_sb, self.grid.n_pol, self.n_beams)
        w = np.einsum("bspi,bin->bspn", x, beams).reshape(b, n_sb, self.grid.n_ports)
        return (w / np.linalg.norm(w, axis=-1, keepdims=True)).astype(np.complex64)
