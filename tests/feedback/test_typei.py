"""Type-I codebook: structure against the 38.214 formulas, port ordering
against Sionna's array geometry, and PMI optimality by brute force."""
import itertools

import numpy as np
import pytest
from sionna.phy import SPEED_OF_LIGHT
from sionna.phy.channel.tr38901 import AntennaArray

from conftest import make_system, rayleigh
from simlink.feedback.typei import COPHASE, TypeICodebook, subband_index, typei_codebook

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast

CONFIGS = [TypeICodebook(4, 2, 4, 4, True), TypeICodebook(4, 2, 4, 4, False),
           TypeICodebook(8, 1, 4, 1, True), TypeICodebook(3, 2, 2, 3, True)]


def ref_codeword(cb: TypeICodebook, l: int, m: int, n: int) -> np.ndarray:
    """38.214 Table 5.2.2.2.1-5 written out: v_{l,m} = [u_m, e^{j2pi l/(O1N1)} u_m, ...]."""
    u = np.exp(2j * np.pi * m * np.arange(cb.n2) / (cb.o2 * cb.n2))
    v = np.concatenate([np.exp(2j * np.pi * l * k / (cb.o1 * cb.n1)) * u
                        for k in range(cb.n1)])
    if not cb.dual:
        return v / np.sqrt(cb.n1 * cb.n2)
    return np.concatenate([v, np.exp(1j * np.pi * n / 2) * v]) / np.sqrt(2 * cb.n1 * cb.n2)


@pytest.mark.parametrize("cb", CONFIGS, ids=str)
def test_codebook_matches_38214_and_has_unit_norm(cb):
    W = cb.codewords()
    assert W.shape == (cb.n_ports, cb.n1 * cb.o1, cb.n2 * cb.o2, 4 if cb.dual else 1)
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), 1.0, atol=1e-6)
    for l, m, n in itertools.product(*(range(k) for k in cb.shape)):
        np.testing.assert_allclose(W[:, l, m, n], ref_codeword(cb, l, m, n), atol=1e-6)


@pytest.mark.parametrize("cb", CONFIGS, ids=str)
def test_beams_of_one_orthogonal_group_are_orthogonal(cb):
    n1, n2 = np.meshgrid(np.arange(cb.n1), np.arange(cb.n2), indexing="ij")
    for q1, q2 in itertools.product(range(cb.o1), range(cb.o2)):
        group = cb.beam(q1 + cb.o1 * n1, q2 + cb.o2 * n2).reshape(cb.n1 * cb.n2, -1)
        gram = group.conj() @ group.T
        np.testing.assert_allclose(gram, cb.n1 * cb.n2 * np.eye(cb.n1 * cb.n2), atol=1e-4)
    if cb.o1 > 1:   # oversampled neighbours are not orthogonal
        assert abs(np.vdot(cb.beam(0, 0), cb.beam(1, 0))) > 1.0


@pytest.mark.parametrize("cb", CONFIGS, ids=str)
def test_kronecker_structure_and_cophasing(cb):
    l, m = 3, 1
    np.testing.assert_allclose(cb.beam(l, m), np.kron(cb.beam(l, 0)[::cb.n2], cb.beam(0, m)[:cb.n2]),
                               atol=1e-6)
    n_half = cb.n1 * cb.n2
    for n in range(cb.shape[2]):
        w = cb.codeword(l, m, n)
        np.testing.assert_allclose(w[:n_half] * np.sqrt(cb.n_ports), cb.beam(l, m), atol=1e-6)
        if cb.dual:
            np.testing.assert_allclose(w[n_half:], COPHASE[n] * w[:n_half], atol=1e-6)
    assert cb.shape[2] == (4 if cb.dual else 1)
    assert cb.index_bits[2] == (2 if cb.dual else 0)


def test_codebook_from_system():
    cb = typei_codebook(make_system(2, 4, "dual"))
    assert (cb.n1, cb.n2, cb.o1, cb.o2, cb.dual, cb.n_ports) == (4, 2, 4, 4, True, 16)
    assert cb.index_bits == (4, 3, 2)
    ula = typei_codebook(make_system(1, 8, "single"))   # N2 = 1 -> O2 = 1
    assert (ula.n1, ula.n2, ula.o2, ula.shape, ula.index_bits) == (8, 1, 1, (32, 1, 1), (5, 0, 0))
    odd = typei_codebook(make_system(1, 3, "dual"), o1=4)  # 12 beams need 4 bits
    assert odd.index_bits == (4, 0, 2)
    with pytest.raises(ValueError, match="does not match"):
        typei_codebook(make_system(2, 4, "dual"), n1=3, n2=2)


def test_subband_index():
    assert subband_index(10, None).tolist() == [0] * 10
    assert subband_index(10, 4).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]


def plane_wave(rows: int, cols: int, dual: bool, l: int, m: int, n: int,
               n1o1: int, n2o2: int) -> np.ndarray:
    """DL channel column of a plane wave leaving Sionna's array so that its
    per-column/per-row phase steps are -2 pi l/(N1 O1), -2 pi m/(N2 O2), the
    second polarisation lagging by phi_n: MRT on it is codeword (l, m, n)."""
    fc = 3.6e9
    array = AntennaArray(num_rows=rows, num_cols=cols, polarization="dual" if dual else "single",
                         polarization_type="cross" if dual else "V", antenna_pattern="omni",
                         carrier_frequency=fc)
    pos = array.ant_pos.numpy() / (SPEED_OF_LIGHT / fc)     # [n_ports, 3] in wavelengths
    wrap = lambda x: (x + 0.5) % 1.0 - 0.5                    # noqa: E731
    # Columns lie along +y, rows along -z, half a wavelength apart.
    dy, dz = -2 * wrap(l / n1o1), 2 * wrap(m / n2o2)
    direction = np.array([np.sqrt(1 - dy**2 - dz**2), dy, dz])
    a = np.exp(2j * np.pi * pos @ direction)
    if dual:
        a[rows * cols:] *= np.conj(COPHASE[n])
    return a


@pytest.mark.parametrize("dual", [True, False])
@pytest.mark.parametrize("l,m,n", [(0, 0, 0), (3, 1, 1), (13, 7, 2), (15, 0, 3), (2, 6, 1)])
def test_plane_wave_selects_its_dft_codeword(dual, l, m, n):
    """Port ordering: the codeword matched to a physical plane wave on
    Sionna's array is the DFT beam of that direction."""
    cb = typei_codebook(make_system(2, 4, "dual" if dual else "single"))
    n = n if dual else 0
    a = plane_wave(2, 4, dual, l, m, n, *cb.shape[:2])
    H = np.broadcast_to(a[None, :, None, None], (1, cb.n_ports, 1, 4))
    pmi = cb.select(cb.beam_power(H, None), wideband_beam=True)
    assert (pmi.i11.item(), pmi.i12.item(), pmi.i2.item()) == (l, m, n)
    np.testing.assert_allclose(pmi.power.item(), 4 * cb.n_ports, rtol=1e-5)  # full array gain
    np.testing.assert_allclose(np.abs(a @ cb.codeword(l, m, n)) ** 2, cb.n_ports, rtol=1e-5)


def brute_force_power(cb: TypeICodebook, H: np.ndarray, subband_size) -> np.ndarray:
    """[b, n_sb, C]: sum over the subband's subcarriers and UE antennas of
    |h^T w|^2 for every codeword, in double precision."""
    W = cb.codewords().reshape(cb.n_ports, -1).astype(np.complex128)
    y = np.einsum("bpuf,pc->bufc", H.astype(np.complex128), W)
    p = (np.abs(y) ** 2).sum(1)                                     # [b, f, C]
    sb = subband_index(H.shape[-1], subband_size)
    return np.stack([p[:, sb == s].sum(1) for s in range(sb[-1] + 1)], 1)


def flat_index(cb, pmi, b, s):
    return np.ravel_multi_index((pmi.i11[b, s], pmi.i12[b, s], pmi.i2[b, s]), cb.shape)


@pytest.mark.parametrize("subband_size", [None, 6])
@pytest.mark.parametrize("polarization", ["dual", "single"])
def test_pmi_maximises_power_over_all_codewords(polarization, subband_size):
    cb = typei_codebook(make_system(2, 4, polarization))
    H = rayleigh((5, cb.n_ports, 2, 12), seed=1)
    P = brute_force_power(cb, H, subband_size)                      # [b, s, C]
    pmi = cb.select(cb.beam_power(H, subband_size), wideband_beam=cb.dual)
    n_sb = P.shape[1]
    assert pmi.i11.shape == (5, n_sb)
    for b in range(5):
        chosen = [P[b, s, flat_index(cb, pmi, b, s)] for s in range(n_sb)]
        np.testing.assert_allclose(pmi.power[b], chosen, rtol=1e-4)
        if cb.dual:   # one (i11, i12) for the report, any i2 per subband
            assert len(set(pmi.i11[b])) == 1 and len(set(pmi.i12[b])) == 1
            Pb = P[b].reshape(n_sb, -1, cb.n_cophase)
            best = max(sum(Pb[s, k, i2[s]] for s in range(n_sb))
                       for k in range(Pb.shape[1])
                       for i2 in itertools.product(range(cb.n_cophase), repeat=n_sb))
        else:         # every subband its own codeword
            best = P[b].max(-1).sum()
        np.testing.assert_allclose(sum(chosen), best, rtol=1e-4)


@pytest.mark.parametrize("subband_size", [None, 6])
@pytest.mark.parametrize("polarization", ["dual", "single"])
def test_power_in_slices_of_samples_is_the_whole_batch_s_to_the_bit(polarization, subband_size,
                                                                     monkeypatch):
    """``beam_power`` works in slices of samples (``SLICE_ELEMENTS``): slices
    of 2 samples and a shorter last one give exactly the one-slice result."""
    import simlink.feedback.typei as typei

    cb = typei_codebook(make_system(2, 4, polarization))
    H = rayleigh((7, cb.n_ports, 2, 12), seed=3)
    whole = cb.beam_power(H, subband_size)
    per_sample = cb.n_pol * 2 * 12 * cb.shape[0] * cb.shape[1]
    monkeypatch.setattr(typei, "SLICE_ELEMENTS", 2 * per_sample)
    np.testing.assert_array_equal(cb.beam_power(H, subband_size), whole)
