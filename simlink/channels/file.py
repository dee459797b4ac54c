"""Measured CSI from a file (``kind: file``).

The array ``env.dataset`` holds complex CSI as ``frames x antennas x
subcarriers`` (Argos style: the antennas are the ``n_bs * n_ue`` ports in
C order) or ``frames x bs_antennas x ue_antennas x subcarriers``, in HDF5
(``.h5``/``.hdf5``), NumPy (``.npz``) or MATLAB (``.mat``; v7.3 files are
HDF5, read with h5py and transposed back to MATLAB's axis order). Complex
values may also be stored as a compound of ``real``/``imag`` fields.

UL band: subcarriers ``[ul_offset, ul_offset + n_sc_ul)``; DL band: ``[dl_offset, dl_offset +
n_sc_dl)``, ``dl_offset`` defaulting to the end of the UL band.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from simlink.channels.errors import ChannelError
from simlink.channels.source import BLOCK, RawBlock, Source
from typing import Literal

from pydantic import Field, field_validator

from simlink.channels.source import EnvBase, environment
from simlink.system import NonNegInt, SystemCfg


class FileEnv(EnvBase):
    """Measured CSI read from an HDF5, NPZ or MAT file.

    The array is ``frames x antennas x subcarriers`` (or ``frames x antennas x
    ue_antennas x subcarriers``); subcarriers ``[ul_offset, ul_offset + n_ul)``
    form the UL band and ``[dl_offset, dl_offset + n_dl)`` the DL band."""
    kind: Literal["file"]
    path: str = Field(description="the file: .h5/.hdf5, .npz or .mat")
    dataset: str = Field("H", description="the array's name in the file")
    ul_offset: NonNegInt = Field(0, description="first subcarrier of the UL band")
    dl_offset: NonNegInt | None = Field(
        None, description="first subcarrier of the DL band (default: right after the UL band)")

    @field_validator("path")
    @classmethod
    def _exists(cls, v: str) -> str:
        if not Path(v).expanduser().is_file():
            raise ValueError(f"file not found: {v}")
        if Path(v).suffix.lower() not in {".h5", ".hdf5", ".npz", ".mat"}:
            raise ValueError(f"unsupported file type {Path(v).suffix!r} (use .h5, .npz or .mat)")
        return v



def _to_complex(a: np.ndarray) -> np.ndarray:
    if a.dtype.names and {"real", "imag"} <= set(a.dtype.names):
        return a["real"] + 1j * a["imag"]
    return a


class CsiFile:
    """Read access to the CSI array of a file: its shape, and frames on demand."""

    def __init__(self, path: str | Path, key: str):
        self.path = Path(path).expanduser()
        self.key = key
        suffix = self.path.suffix.lower()
        if not self.path.is_file():
            raise FileNotFoundError(f"no such file: {self.path}")
        # .mat: v7.3 files are HDF5 (behind a 512-byte header, which h5py.is_hdf5 looks past)
        is_hdf5 = suffix in (".h5", ".hdf5") or (suffix == ".mat" and h5py.is_hdf5(self.path))
        # MATLAB v7.3 writes column-major: reversing the axes restores MATLAB's order.
        self._reverse_axes = suffix == ".mat" and is_hdf5
        self._array = None
        if is_hdf5:
            with h5py.File(self.path, "r") as f:
                if key not in f or not isinstance(f[key], h5py.Dataset):
                    raise KeyError(key)
                shape = f[key].shape
            self.shape = shape[::-1] if self._reverse_axes else shape
        else:
            if suffix == ".npz":
                with np.load(self.path, allow_pickle=False) as z:
                    array = z[key]
            else:
                from scipy.io import loadmat
                array = loadmat(self.path, variable_names=[key])[key]
            self._array = _to_complex(array)
            self.shape = self._array.shape

    def frames(self, index: np.ndarray) -> np.ndarray:
        """Frames ``index`` (``[k]`` int, any order, repeats allowed) as ``[k, ...]`` complex64."""
        if self._array is not None:
            return np.asarray(self._array[index], dtype=np.complex64)
        unique, inverse = np.unique(index, return_inverse=True)  # h5py wants increasing indices
        with h5py.File(self.path, "r") as f:
            data = f[self.key]
            chunk = np.transpose(data[..., unique]) if self._reverse_axes else data[unique]
        return np.asarray(_to_complex(chunk), dtype=np.complex64)[inverse]


def _open(env: FileEnv) -> CsiFile:
    """The file of ``env``; :class:`ChannelError` (naming the file) if it cannot be read."""
    try:
        return CsiFile(env.path, env.dataset)
    except KeyError:
        raise ChannelError(f"{env.path}: no dataset {env.dataset!r} in the file") from None
    except Exception as exc:  # noqa: BLE001 - each reader fails its own way on a corrupt file
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise ChannelError(f"{env.path}: cannot read the file ({type(exc).__name__}: {detail})") from None


def band_slices(env: FileEnv, system: SystemCfg) -> tuple[slice, slice]:
    """Subcarrier slices of the UL and DL bands in the file."""
    ul_end = env.ul_offset + system.n_subcarriers_ul
    dl_offset = ul_end if env.dl_offset is None else env.dl_offset
    return slice(env.ul_offset, ul_end), slice(dl_offset, dl_offset + system.n_subcarriers_dl)


def shape_problems(env: FileEnv, system: SystemCfg, shape: tuple[int, ...]) -> list[str]:
    """Problems of an array of ``shape`` as the CSI of ``env`` for ``system``."""
    where = f"{env.path}: dataset {env.dataset!r} of shape {tuple(shape)}"
    if len(shape) not in (3, 4):
        return [f"{where}: expected frames x antennas x subcarriers "
                "or frames x bs_antennas x ue_antennas x subcarriers"]
    problems = []
    if shape[0] == 0:
        problems.append(f"{where}: has no frames")
    ports = (shape[1],) if len(shape) == 3 else shape[1:3]
    if len(shape) == 3 and shape[1] != system.n_bs * system.n_ue:
        problems.append(f"{where}: {shape[1]} antennas but the system has n_bs * n_ue = "
                        f"{system.n_bs} * {system.n_ue} = {system.n_bs * system.n_ue}")
    if len(shape) == 4 and tuple(ports) != (system.n_bs, system.n_ue):
        problems.append(f"{where}: {ports[0]} x {ports[1]} antennas but the system has "
                        f"n_bs x n_ue = {system.n_bs} x {system.n_ue}")
    ul, dl = band_slices(env, system)
    if max(ul.stop, dl.stop) > shape[-1]:
        problems.append(f"{where}: {shape[-1]} subcarriers, too few for the UL band [{ul.start}, {ul.stop}) "
                        f"and the DL band [{dl.start}, {dl.stop})")
    return problems


def check(env: FileEnv, system: SystemCfg) -> list[str]:
    """Problems of the file of ``env`` (one line each, naming the file); ``[]`` if usable."""
    try:
        csi = _open(env)
    except ChannelError as exc:
        return [str(exc)]
    return shape_problems(env, system, csi.shape)


@environment(FileEnv)
class FileSource(Source):
    """Frames drawn without replacement while possible: the stream of ``seed``
    is a concatenation of random permutations of all frames (epoch ``e``
    seeded from ``(seed, e)``); the time index is the frame index."""

    def __init__(self, env: FileEnv, system: SystemCfg):
        super().__init__(env, system)
        self._csi = _open(env)
        problems = shape_problems(env, system, self._csi.shape)
        if problems:
            raise ChannelError("; ".join(problems))
        self._n_frames = self._csi.shape[0]
        self._bands = band_slices(env, system)

    @classmethod
    def identity(cls, env: FileEnv) -> dict:
        """The file's content: a changed file gives new draws (and a new cache entry)."""
        from simlink.channels.sampling import file_digest
        try:
            return {"file_sha256": file_digest(env.path)}
        except OSError as exc:
            raise ChannelError(f"{env.path}: cannot read the file ({exc.strerror})") from None

    @classmethod
    def check(cls, env: FileEnv, system: SystemCfg) -> list[str]:
        return check(env, system)

    def _pairs(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``frames [k]`` -> ``(H_ul [k, n_bs, n_ue, n_sc_ul], H_dl [...])`` complex64."""
        h = self._csi.frames(frames)
        h = h.reshape(len(frames), self.system.n_bs, self.system.n_ue, h.shape[-1])
        return tuple(h[..., s].astype(np.complex64) for s in self._bands)

    def block(self, seed: int, index: int, count: int = BLOCK) -> RawBlock:
        positions = np.arange(index * BLOCK, index * BLOCK + count)
        epochs = positions // self._n_frames
        frames = np.empty(count, dtype=np.int64)
        for epoch in np.unique(epochs):
            order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(epoch),))
                                          ).permutation(self._n_frames)
            mask = epochs == epoch
            frames[mask] = order[positions[mask] % self._n_frames]
        h_ul, h_dl = self._pairs(frames)
        return h_ul, h_dl, frames.astype(np.int32)

    def mean_power(self) -> float:
        """Exact per-entry power over every frame of the file."""
        total = 0.0
        for start in range(0, self._n_frames, BLOCK):
            h_ul, h_dl = self._pairs(np.arange(start, min(start + BLOCK, self._n_frames)))
            total += 0.5 * (np.sum(np.abs(h_ul) ** 2) / h_ul[0].size
                            + np.sum(np.abs(h_dl) ** 2) / h_dl[0].size)
        return total / self._n_frames
