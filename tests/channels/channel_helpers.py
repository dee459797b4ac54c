"""Helpers shared by the channel tests."""
from __future__ import annotations

import h5py
import numpy as np

from simlink.system import SystemCfg


def make_system(*, gap_hz: float = 0.0, n_sc: int = 8, n_sc_dl: int | None = None,
                scs_hz: float = 30e3, bs: dict | None = None, ue: dict | None = None,
                fc_ul_hz: float = 3.5e9) -> SystemCfg:
    """A small FDD system; pilot comb 1 so that any subcarrier count is valid."""
    return SystemCfg(fc_ul_hz=fc_ul_hz, fc_dl_hz=fc_ul_hz + gap_hz, subcarrier_spacing_hz=scs_hz,
                     n_subcarriers_ul=n_sc, n_subcarriers_dl=n_sc if n_sc_dl is None else n_sc_dl,
                     bs_array=bs or {"kind": "ula", "n": 1}, ue_array=ue or {"kind": "ula", "n": 1},
                     pilots={"comb": 1, "period_symbols": 64})


def mean_with_error(x: np.ndarray) -> tuple[complex, float]:
    """Sample mean of independent draws ``x [N]`` and its standard error."""
    return x.mean(), float(np.sqrt(np.mean(np.abs(x - x.mean()) ** 2) / len(x)))


def flip_data_byte(path, field: str, offset: int) -> None:
    """Corrupt one byte of ``field``'s first HDF5 chunk in the file at ``path``, ``offset`` bytes in."""
    with h5py.File(path, "r") as f:
        where = f[field].id.get_chunk_info(0).byte_offset + offset
    with open(path, "r+b") as f:
        f.seek(where)
        byte = f.read(1)
        f.seek(where)
        f.write(bytes([byte[0] ^ 0xFF]))
