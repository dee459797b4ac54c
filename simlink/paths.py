"""Where simlink writes: the cache root, and the check that a folder can be
written before any work starts."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


class PathError(Exception):
    """A folder or file simlink must write cannot be created or written: a
    one-line message naming the path and the reason (the CLI prints it and
    exits with status 2)."""


def reason(exc: OSError) -> str:
    """The operating system's words for ``exc`` ("No space left on device")."""
    return exc.strerror or (str(exc).splitlines() or [type(exc).__name__])[0]


def writable_dir(path: str | Path, what: str) -> Path:
    """Create ``path`` (with its parents) and write and remove a probe file
    in it, so that a folder that cannot hold results fails now, not after
    the work. Raises :class:`PathError` naming ``what`` and ``path``."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".simlink-probe-"):
            pass
    except OSError as exc:
        blocker = next((p for p in (path, *path.parents) if p.is_file()), None)
        if blocker is not None:
            raise PathError(f"{what} {path}: cannot create the folder: "
                            f"a file is in the way ({blocker})") from None
        raise PathError(f"{what} {path}: cannot write there: {reason(exc)}") from None
    return path


_checked: set[Path] = set()


def cache_dir() -> Path:
    """Root of the dataset and weight caches: ``$SIMLINK_CACHE`` or
    ``~/.cache/simlink``, created and checked writable on first use."""
    root = Path(os.environ.get("SIMLINK_CACHE", Path.home() / ".cache" / "simlink"))
    if root not in _checked:
        what = "SIMLINK_CACHE" if "SIMLINK_CACHE" in os.environ else "cache folder"
        writable_dir(root, what)
        _checked.add(root)
    return root
