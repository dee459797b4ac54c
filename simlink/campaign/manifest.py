"""``OUT/manifest.json``: what produced a campaign folder.

Written when a run starts (``status: running``) and again when it ends
(``status: complete`` with the wall time), always atomically.
"""
from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from simlink.campaign.store import atomic_write_json

MANIFEST = "manifest.json"
_PACKAGES = ("simlink", "sionna", "tensorflow", "numpy", "scipy", "pandas", "pyarrow", "h5py")


def git_commit() -> dict[str, Any]:
    """``git_commit`` of the checkout holding the simlink package (None
    outside a checkout) and ``git_dirty``: whether it has uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain"], capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit, "git_dirty": dirty}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_manifest(out: Path, **fields: Any) -> dict[str, Any]:
    """Write ``OUT/manifest.json`` from ``fields`` plus the git commit,
    package versions and platform; returns what was written."""
    manifest = {**git_commit(), "versions": package_versions(),
                "platform": platform.platform(), **fields}
    atomic_write_json(Path(out) / MANIFEST, manifest)
    return manifest


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of a campaign folder, or None when absent or unreadable."""
    try:
        data = json.loads((Path(out) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
