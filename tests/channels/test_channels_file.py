"""``kind: file``: measured CSI from HDF5 / NPZ / MAT files."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
from channel_helpers import make_system

import simlink.channels as ch
from simlink.channels import FileEnv

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast

FRAMES, ANT, SC = 30, 4, 20
SYSTEM = make_system(n_sc=8, n_sc_dl=6, bs={"kind": "ula", "n": 4})


def _csi(seed: int = 0, shape=(FRAMES, ANT, SC)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _write(path, data: np.ndarray, key: str = "H"):
    """Write ``data`` as the CSI file ``path`` (format from the suffix)."""
    if path.suffix == ".npz":
        np.savez(path, **{key: data})
    elif path.suffix in (".h5", ".hdf5"):
        with h5py.File(path, "w") as f:
            f[key] = data
    elif path.name.endswith("-v73.mat"):
        # MATLAB v7.3: HDF5 behind a 512-byte header, column-major (axes reversed),
        # complex numbers as a compound of real/imag
        compound = np.dtype([("real", "<f8"), ("imag", "<f8")])
        stored = np.empty(data.shape[::-1], compound)
        stored["real"], stored["imag"] = data.real.T, data.imag.T
        with h5py.File(path, "w", userblock_size=512) as f:
            f[key] = stored
        with open(path, "r+b") as f:
            f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(128))
    else:
        scipy.io.savemat(path, {key: data})
    return path


def _env(path, **kw) -> FileEnv:
    return FileEnv(name="measured", kind="file", path=str(path), **kw)


@pytest.mark.parametrize("name", ["csi.h5", "csi.hdf5", "csi.npz", "csi.mat", "csi-v73.mat"])
def test_round_trip(tmp_path, name):
    data = _csi()
    env = _env(_write(tmp_path / name, data))
    assert ch.check_environment(env, SYSTEM) == []
    d = ch.generate(env, SYSTEM, FRAMES, seed=4)
    # without replacement: every frame exactly once, time index = frame index
    assert sorted(d["time_index"]) == list(range(FRAMES))
    ul, dl = data[:, :, :8], data[:, :, 8:14]
    power = 0.5 * (np.mean(np.abs(ul) ** 2) + np.mean(np.abs(dl) ** 2))
    assert np.isclose(d["norm_factor"], 1 / np.sqrt(power), rtol=1e-5)
    np.testing.assert_allclose(d["H_ul"][:, :, 0], ul[d["time_index"]] * d["norm_factor"], rtol=1e-5)
    np.testing.assert_allclose(d["H_dl"][:, :, 0], dl[d["time_index"]] * d["norm_factor"], rtol=1e-5)


def test_four_axis_layout_and_dl_offset(tmp_path):
    system = make_system(n_sc=8, n_sc_dl=6, bs={"kind": "ula", "n": 2}, ue={"kind": "ula", "n": 2})
    data = _csi(shape=(FRAMES, 2, 2, SC))
    env = _env(_write(tmp_path / "csi4.h5", data), dl_offset=12)
    d = ch.generate(env, system, 10, seed=0)
    np.testing.assert_allclose(d["H_dl"] / d["norm_factor"], data[d["time_index"]][..., 12:18], rtol=1e-5)


def test_matlab_v73_with_four_axes(tmp_path):
    """Column-major HDF5 behind MATLAB's header: the reader reverses all four
    axes, so BS and UE antennas come back in MATLAB's order."""
    system = make_system(n_sc=8, n_sc_dl=6, bs={"kind": "ula", "n": 3}, ue={"kind": "ula", "n": 2})
    data = _csi(shape=(FRAMES, 3, 2, SC))
    env = _env(_write(tmp_path / "csi4-v73.mat", data), dl_offset=10)
    assert ch.check_environment(env, system) == []
    d = ch.generate(env, system, 12, seed=5)
    np.testing.assert_allclose(d["H_ul"] / d["norm_factor"], data[d["time_index"]][..., :8], rtol=1e-5)
    np.testing.assert_allclose(d["H_dl"] / d["norm_factor"], data[d["time_index"]][..., 10:16], rtol=1e-5)


def test_more_frames_than_one_block(tmp_path):
    """A file longer than one generation block (BLOCK frames): draws cross the
    block boundary without repeating a frame, and the power normalisation
    sums every block."""
    from simlink.channels.source import BLOCK
    n = BLOCK + 37
    data = _csi(shape=(n, ANT, 14))
    data[BLOCK:] *= 3.0                         # the second block is louder: it must be counted
    env = _env(_write(tmp_path / "long.h5", data))
    d = ch.generate(env, SYSTEM, n, seed=6)
    assert sorted(d["time_index"]) == list(range(n))
    power = 0.5 * (np.mean(np.abs(data[..., :8]) ** 2) + np.mean(np.abs(data[..., 8:14]) ** 2))
    assert np.isclose(d["norm_factor"], 1 / np.sqrt(power), rtol=1e-5)
    np.testing.assert_allclose(d["H_dl"][:, :, 0], data[d["time_index"]][..., 8:14] * d["norm_factor"],
                               rtol=1e-5)


def test_zero_gap_gives_identical_bands(tmp_path):
    env = _env(_write(tmp_path / "csi.npz", _csi()), dl_offset=0)
    d = ch.generate(env, make_system(n_sc=8, bs={"kind": "ula", "n": 4}), 12, seed=1)
    np.testing.assert_array_equal(d["H_ul"], d["H_dl"])


def test_more_draws_than_frames_repeat_whole_permutations(tmp_path):
    env = _env(_write(tmp_path / "csi.npz", _csi()))
    t = ch.generate(env, SYSTEM, 2 * FRAMES + 5, seed=2)["time_index"]
    assert sorted(t[:FRAMES]) == sorted(t[FRAMES:2 * FRAMES]) == list(range(FRAMES))
    assert not np.array_equal(t[:FRAMES], t[FRAMES:2 * FRAMES])
    np.testing.assert_array_equal(ch.generate(env, SYSTEM, 7, seed=2)["time_index"], t[:7])


@pytest.mark.parametrize("shape, message", [
    ((FRAMES, ANT * SC), "expected frames x antennas x subcarriers"),
    ((FRAMES, ANT + 1, SC), "5 antennas but the system has n_bs \\* n_ue = 4 \\* 1 = 4"),
    ((FRAMES, 2, 2, SC), "2 x 2 antennas but the system has n_bs x n_ue = 4 x 1"),
    ((FRAMES, ANT, 10), "10 subcarriers, too few for the UL band \\[0, 8\\) and the DL band \\[8, 14\\)"),
    ((0, ANT, SC), "has no frames"),
])
def test_wrong_shapes_are_reported_in_one_line_naming_the_file(tmp_path, shape, message):
    path = _write(tmp_path / "bad.npz", _csi(shape=shape))
    problems = ch.check_environment(_env(path), SYSTEM)
    assert len(problems) == 1 and "\n" not in problems[0]
    assert str(path) in problems[0]
    assert __import__("re").search(message, problems[0]), problems[0]
    with pytest.raises(ch.ChannelError, match="bad.npz"):
        ch.generate(_env(path), SYSTEM, 3, seed=0)


def test_missing_key_and_corrupt_files(tmp_path):
    path = _write(tmp_path / "csi.h5", _csi(), key="other")
    assert ch.check_environment(_env(path), SYSTEM) == [f"{path}: no dataset 'H' in the file"]
    for name in ("junk.h5", "junk.npz", "junk.mat"):
        junk = tmp_path / name
        junk.write_bytes(b"\x00not a csi file" * 10)
        (problem,) = ch.check_environment(_env(junk), SYSTEM)
        assert problem.startswith(f"{junk}: cannot read the file") and "\n" not in problem


def test_bands_must_fit_in_the_file(tmp_path):
    data = _csi()
    env = _env(_write(tmp_path / "csi.npz", data), ul_offset=data.shape[-1] - 2)
    (problem,) = ch.check_environment(env, SYSTEM)
    assert "too few for the UL band" in problem and "csi.npz" in problem
