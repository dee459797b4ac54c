"""3GPP TS 38.214 Type-I single-panel codebook, rank 1 (sec. 5.2.2.2.1,
codebookMode 1), and the UE's PMI search.

Beams. With ``N1 x N2`` ports per polarisation and oversampling ``O1, O2``::

    v_l[n1] = exp(j 2 pi l n1 / (O1 N1)),   l = i11 in [0, N1 O1)
    u_m[n2] = exp(j 2 pi m n2 / (O2 N2)),   m = i12 in [0, N2 O2)
    b_{l,m} = kron(v_l, u_m)                        (length N1 N2)
    w = [b; phi_n b] / sqrt(2 N1 N2),  phi_n = exp(j pi n / 2),  n = i2 in [0, 4)
    w = b / sqrt(N1 N2)                             (single polarisation)

Port ordering. Sionna's ``tr38901.PanelArray``/``AntennaArray`` number the
elements of one polarisation ``row + rows * col`` (rows fastest) and place
the second polarisation's ``rows * cols`` ports after the first. Taking
``N1 = columns`` and ``N2 = rows`` this is exactly 38.214's order, port
``n2 + N2 n1`` of polarisation ``p`` at index ``p N1 N2 + n1 N2 + n2``, and
38.214's ``v_{l,m} = [u_m, e^{j2pi l/(O1N1)} u_m, ...]`` is ``kron(v_l, u_m)``
(the second dimension varies fastest).

Channel convention. ``H`` is ``[b, n_bs, n_ue, n_sc]`` and the UE receives
``H(f)^T w``, so the codeword matched to a channel column ``h`` is
``w ~ conj(h)`` (MRT): a plane wave whose phase advances by
``-2 pi l / (O1 N1)`` per column and ``-2 pi m / (O2 N2)`` per row selects
``(i11, i12) = (l, m)``.

Oversampling a dimension with one port only repeats the same beam, so
:func:`typei_codebook` sets ``O1 = 1`` when ``N1 = 1`` and ``O2 = 1`` when
``N2 = 1`` (38.214 does the same for ``N2 = 1``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlink.system import SystemCfg
from simlink.feedback.bits import bits_for

COPHASE = np.exp(0.5j * np.pi * np.arange(4))   # phi_n, n = 0..3

#: projections [q, u, f, K] per slice of :meth:`TypeICodebook.beam_power`
#: (complex64: 4 MB; 2^18 to 2^20 measured alike, 2^22 slower: benchmarks/codebook.py)
SLICE_ELEMENTS = 1 << 19


def subband_index(n_sc: int, subband_size: int | None) -> np.ndarray:
    """Subband of every subcarrier: [n_sc] int64. Subbands are ``subband_size``
    consecutive subcarriers (the last one may be shorter); ``None`` is one
    wideband subband."""
    return np.arange(n_sc) // (subband_size or n_sc)


def subband_matrix(n_sc: int, subband_size: int | None) -> np.ndarray:
    """One-hot subband membership ``M[f, s] = 1`` if subcarrier ``f`` lies in
    subband ``s`` (``X @ M`` sums ``X [..., n_sc]`` per subband): [n_sc, n_sb] float32."""
    sb = subband_index(n_sc, subband_size)
    return (sb[:, None] == np.arange(sb[-1] + 1)).astype(np.float32)


@dataclass(frozen=True)
class Pmi:
    """A precoding-matrix indicator per subband, each field [b, n_sb] int64;
    ``power`` [b, n_sb] is the chosen codeword's ``sum_{f in s} ||H(f)^T w||^2``."""
    i11: np.ndarray
    i12: np.ndarray
    i2: np.ndarray
    power: np.ndarray


@dataclass(frozen=True)
class TypeICodebook:
    """Rank-1 Type-I single-panel codebook of ``n_pol * n1 * n2`` ports."""
    n1: int
    n2: int
    o1: int
    o2: int
    dual: bool

    @property
    def n_pol(self) -> int:
        return 2 if self.dual else 1

    @property
    def n_ports(self) -> int:
        return self.n_pol * self.n1 * self.n2

    @property
    def n_cophase(self) -> int:
        return len(COPHASE) if self.dual else 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """Index ranges ``(N1 O1, N2 O2, n_cophase)`` of ``(i11, i12, i2)``."""
        return self.n1 * self.o1, self.n2 * self.o2, self.n_cophase

    @property
    def index_bits(self) -> tuple[int, int, int]:
        """Field widths of ``(i11, i12, i2)``: ceil(log2) of :attr:`shape`."""
        return tuple(bits_for(n) for n in self.shape)

    def beam(self, l: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Unnormalised DFT beam ``kron(v_l, u_m)``.

        Input: ``l``, ``m`` integer arrays of one broadcast shape [...]; any
        integer is valid (the DFT phases wrap modulo ``N O``), which keeps
        bit errors in the index harmless.
        Output: [..., n1 * n2] complex64, unit-modulus entries.
        """
        l, m = np.broadcast_arrays(np.asarray(l), np.asarray(m))
        v = np.exp(2j * np.pi * l[..., None] * np.arange(self.n1) / (self.n1 * self.o1))
        u = np.exp(2j * np.pi * m[..., None] * np.arange(self.n2) / (self.n2 * self.o2))
        return (v[..., :, None] * u[..., None, :]).reshape(l.shape + (-1,)).astype(np.complex64)

    def pol_weights(self, n: np.ndarray) -> np.ndarray:
        """Per-polarisation weights ``[1, phi_n]`` (dual) or ``[1]`` (single).

        Input: ``n`` [...] integers. Output: [..., n_pol] complex64.
        """
        n = np.asarray(n)
        ones = np.ones(n.shape, np.complex64)
        if not self.dual:
            return ones[..., None]
        return np.stack([ones, COPHASE[n % len(COPHASE)].astype(np.complex64)], -1)

    def codeword(self, l: np.ndarray, m: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Unit-norm precoder ``w`` of PMI ``(i11, i12, i2) = (l, m, n)``.

        Input: integer arrays of one broadcast shape [...].
        Output: [..., n_ports] complex64.
        """
        l, m, n = np.broadcast_arrays(np.asarray(l), np.asarray(m), np.asarray(n))
        b = self.beam(l, m)
        c = self.pol_weights(n)
        w = (c[..., :, None] * b[..., None, :]).reshape(b.shape[:-1] + (self.n_ports,))
        return w / np.float32(np.sqrt(self.n_ports))

    def codewords(self) -> np.ndarray:
        """The whole codebook: [n_ports, N1 O1, N2 O2, n_cophase] complex64."""
        l, m, n = np.meshgrid(*(np.arange(k) for k in self.shape), indexing="ij")
        return np.moveaxis(self.codeword(l, m, n), -1, 0)

    def project(self, H: np.ndarray) -> np.ndarray:
        """Each polarisation of ``H`` beamformed by every (unnormalised) grid beam.

        Input: ``H`` [b, n_ports, n_ue, n_sc] complex.
        Output: ``z[b, p, u, f, l N2 O2 + m] = sum_n H[b, p N1 N2 + n, u, f] b_{l,m}[n]``,
        [b, n_pol, n_ue, n_sc, N1 O1 N2 O2] complex64.
        """
        b, _, n_ue, n_sc = H.shape
        l, m = np.meshgrid(np.arange(self.shape[0]), np.arange(self.shape[1]), indexing="ij")
        beams = self.beam(l, m).reshape(l.size, -1)                    # [K, n1 n2]
        Hp = np.asarray(H, np.complex64).reshape(b, self.n_pol, -1, n_ue, n_sc)
        return np.tensordot(Hp, beams, axes=([2], [1]))

    def beam_power(self, H: np.ndarray, subband_size: int | None) -> np.ndarray:
        """Received power of every codeword, summed over UE antennas and over
        the subcarriers of each subband.

        Input: ``H`` [b, n_ports, n_ue, n_sc] complex.
        Output: ``P[b, s, l, m, n] = sum_{f in s} ||H(f)^T w_{l,m,n}||^2``,
        [b, n_sb, N1 O1, N2 O2, n_cophase] float32.
        """
        b, n_sc = len(H), H.shape[-1]
        n_b1, n_b2, n_c = self.shape
        onehot = subband_matrix(n_sc, subband_size)                    # [f, s]
        weights = self.pol_weights(np.arange(n_c))                     # [n, q]
        # In slices of a few samples: every sample is computed alone, so the
        # result is the same to the bit, and the whole batch's projections
        # (106 MB for the quickstart's 500 samples) are never written out at
        # once (2x faster, benchmarks/codebook.py).
        per_sample = self.n_pol * np.prod(H.shape[2:]) * n_b1 * n_b2
        step = max(1, SLICE_ELEMENTS // per_sample)
        P = np.concatenate([self._power(H[s:s + step], onehot, weights)
                            for s in range(0, b, step)])
        return P.reshape(b, -1, n_b1, n_b2, n_c)

    def _power(self, H: np.ndarray, onehot: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """:meth:`beam_power` of a slice, [b, n_sb, N1 O1 N2 O2, n_cophase]."""
        # Beamform each polarisation once and combine the co-phasings after:
        # 4x fewer multiplications than projecting on every codeword.
        z = self.project(H)                                            # [b, q, u, f, K]
        power = []
        for c in weights:
            y = sum(c_q * z[:, q] for q, c_q in enumerate(c))         # [b, u, f, K]
            p_f = np.sum(y.real ** 2 + y.imag ** 2, axis=1)            # [b, f, K]
            power.append(np.matmul(onehot.T, p_f))                     # [b, s, K]
        return np.stack(power, -1) / np.float32(self.n_ports)

    def select(self, power: np.ndarray, wideband_beam: bool) -> Pmi:
        """PMI maximising the total received power of the report.

        Input: ``power`` [b, n_sb, N1 O1, N2 O2, n_cophase] from :meth:`beam_power`.
        ``wideband_beam``: one ``(i11, i12)`` for all subbands with ``i2`` per
        subband (38.214 codebookMode 1); the jointly optimal choice is
        ``argmax_{i1} sum_s max_{i2} P``. Otherwise every subband picks its
        own ``(i11, i12, i2)``.
        Output: :class:`Pmi` with fields [b, n_sb].
        """
        b, n_sb = power.shape[:2]
        P = power.reshape(b, n_sb, -1, self.n_cophase)                  # [b, s, K, n]
        if wideband_beam:
            k = np.broadcast_to(P.max(-1).sum(1).argmax(-1)[:, None], (b, n_sb))
            n = np.take_along_axis(P, k[..., None, None], 2)[:, :, 0].argmax(-1)
        else:
            k, n = np.divmod(P.reshape(b, n_sb, -1).argmax(-1), self.n_cophase)
        l, m = np.divmod(k, self.shape[1])
        chosen = np.take_along_axis(P, k[..., None, None], 2)[:, :, 0]
        return Pmi(l, m, n, np.take_along_axis(chosen, n[..., None], -1)[..., 0])


def typei_codebook(system: SystemCfg, n1: int | None = None, n2: int | None = None,
                   o1: int = 4, o2: int = 4) -> TypeICodebook:
    """The Type-I codebook of ``system``'s BS array.

    ``n1``/``n2`` default to the array's columns/rows (the only choice whose
    beams match the geometry, see the module docstring); their product must
    equal the elements per polarisation.
    """
    array = system.bs_array
    n1 = array.cols if n1 is None else n1
    n2 = array.rows if n2 is None else n2
    if n1 * n2 != array.rows * array.cols:
        raise ValueError(f"codebook n1 x n2 = {n1} x {n2} does not match the BS array's "
                         f"{array.rows} x {array.cols} elements per polarisation")
    return TypeICodebook(n1, n2, o1 if n1 > 1 else 1, o2 if n2 > 1 else 1,
                         array.polarization == "dual")
