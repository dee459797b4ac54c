"""Crash-safe files: atomic writes and ``.npz`` state files (learned weights)."""
from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np


def atomic_write(path: Path, write: Callable[[IO], Any], *, binary: bool = False) -> None:
    """Write ``path`` through ``write(file)`` into a temporary sibling, then
    rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_state(path: Path, state: dict[str, np.ndarray]) -> None:
    """Write named arrays to ``path`` (``.npz``) atomically."""
    def write(f):
        np.savez(f, **{k: np.asarray(v) for k, v in state.items()})
    atomic_write(path, write, binary=True)


def load_state(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays saved in ``path``, or None when the file is missing or
    unreadable (with a warning: the caller recomputes them)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"{path}: unreadable weight cache ({exc}); refitting", stacklevel=2)
        return None
