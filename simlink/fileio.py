"""Crash-safe files: atomic writes and ``.npz`` state files (learned weights)."""
from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

from simlink.paths import PathError, reason


def atomic_write(path: Path, write: Callable[[IO], Any], *, binary: bool = False) -> None:
    """Write ``path`` through ``write(file)`` into a temporary sibling, then
    rename it over ``path``. A write the system refuses (full disk, read-only
    folder) raises :class:`~simlink.paths.PathError` naming ``path``; the old
    file, if any, is left as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise PathError(f"{path}: cannot write: {reason(exc)}") from None
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
