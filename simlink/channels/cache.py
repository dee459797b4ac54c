"""HDF5 dataset cache: generate a dataset once, reuse it while it is intact.

A dataset lives at ``<cache>/datasets/<key>.h5``, ``key`` a content hash of
what the draws depend on (environment without its label, the system's bands
and arrays, a file environment's bytes, ``n``, ``seed``, the Sionna version
and this format's version). Layout:

- ``H_ul [n, n_bs, n_ue, n_sc_ul]``, ``H_dl [n, n_bs, n_ue, n_sc_dl]`` complex64,
  ``time_index [n]`` int32;
- attrs: ``env``/``system`` (config JSON), ``env_name``, ``seed``, ``n``,
  ``key``, ``format``, ``block``, ``sionna_version``, ``fc_ul_hz``,
  ``fc_dl_hz``, ``subcarrier_spacing_hz``, ``norm_factor``, ``checksum``
  (sha256 over the three arrays' bytes, computed while writing) and
  ``complete``, written last.

A file is written under a temporary name in the same folder and renamed when
complete, so a crash never leaves a file under the final name; a file that
is partial, truncated, corrupt or fails its checksum is rebuilt, never used.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from simlink.channels import sampling
from simlink.channels.errors import ChannelError
from simlink.channels.source import BLOCK
from simlink.hashing import stable_hash
from simlink.system import SystemCfg
from simlink.paths import PathError, cache_dir, reason, writable_dir

FORMAT = 1
ARRAYS = ("H_ul", "H_dl", "time_index")
_CHUNK_BYTES = 1 << 20
_log = logging.getLogger(__name__)
_verified: set[tuple] = set()  # (path, size, mtime, checksum) whose checksum this process has checked


def dataset_key(env, system: SystemCfg, n: int, seed: int) -> str:
    return stable_hash({"format": FORMAT, "sionna": version("sionna"), "n": int(n),
                        "seed": int(seed), **sampling.channel_identity(env, system)})


def _combine(digests: dict[str, str]) -> str:
    return hashlib.sha256("|".join(f"{k}:{digests[k]}" for k in ARRAYS).encode()).hexdigest()


def _checksum(f: h5py.File) -> str:
    """Checksum of the arrays of an open dataset, read back block by block."""
    digests = {}
    for name in ARRAYS:
        h = hashlib.sha256()
        data = f[name]
        for start in range(0, data.shape[0], BLOCK):
            h.update(np.ascontiguousarray(data[start:start + BLOCK]).data)
        digests[name] = h.hexdigest()
    return _combine(digests)


def _problem(path: Path, key: str) -> str | None:
    """Why the file at ``path`` cannot serve as dataset ``key``; ``None`` if it can."""
    try:
        st = path.stat()
        with h5py.File(path, "r") as f:
            if not f.attrs.get("complete", False):
                return "no complete flag"
            if f.attrs.get("key") != key:
                return f"holds dataset {f.attrs.get('key')!r}"
            memo = (str(path.resolve()), st.st_size, st.st_mtime_ns, f.attrs["checksum"])
            if memo not in _verified:
                if _checksum(f) != f.attrs["checksum"]:
                    return "checksum mismatch"
                _verified.add(memo)
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        return f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    return None


def _write(path: Path, key: str, env, system: SystemCfg, n: int, seed: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    shapes = {"H_ul": (n, system.n_bs, system.n_ue, system.n_subcarriers_ul),
              "H_dl": (n, system.n_bs, system.n_ue, system.n_subcarriers_dl), "time_index": (n,)}
    dtypes = {"H_ul": np.complex64, "H_dl": np.complex64, "time_index": np.int32}
    with h5py.File(path, "w") as f:
        data, hashes = {}, {}
        for name in ARRAYS:
            per_sample = int(np.prod(shapes[name][1:])) * np.dtype(dtypes[name]).itemsize
            rows = max(1, min(n, _CHUNK_BYTES // per_sample))
            data[name] = f.create_dataset(name, shape=shapes[name], dtype=dtypes[name],
                                          chunks=(rows, *shapes[name][1:]))
            hashes[name] = hashlib.sha256()
        start = 0
        with tqdm(total=n, unit="pair", desc=env.name, disable=not progress) as bar:
            for part in sampling.stream(env, system, n, seed):
                count = len(part["time_index"])
                for name in ARRAYS:
                    data[name][start:start + count] = part[name]
                    hashes[name].update(np.ascontiguousarray(part[name]).data)
                start += count
                bar.update(count)
        f.attrs.update({
            "format": FORMAT, "key": key, "block": BLOCK, "n": n, "seed": seed,
            "env": json.dumps(env.model_dump(mode="json"), sort_keys=True),
            "system": json.dumps(system.model_dump(mode="json"), sort_keys=True),
            "env_name": env.name, "sionna_version": version("sionna"),
            "fc_ul_hz": system.fc_ul_hz, "fc_dl_hz": system.fc_dl_hz,
            "subcarrier_spacing_hz": system.subcarrier_spacing_hz,
            "norm_factor": sampling.norm_factor(env, system),
            "checksum": _combine({k: h.hexdigest() for k, h in hashes.items()}),
        })
        f.attrs["complete"] = True


def ensure_dataset(env, system: SystemCfg, n: int, seed: int, *,
                   cache_root: str | Path | None = None, progress: bool = False) -> Path:
    """Path of the HDF5 dataset of ``generate(env, system, n, seed)``, generated
    (block by block, memory bounded by one block) unless an intact copy exists.

    A file under the dataset's name that is partial, corrupt or fails its
    checksum is rebuilt (with a logged warning).
    """
    sampling.check_request(n, seed)
    folder = (Path(cache_root) if cache_root is not None else cache_dir()) / "datasets"
    writable_dir(folder, "dataset cache")
    key = dataset_key(env, system, n, seed)
    path = folder / f"{key}.h5"
    if path.exists():
        problem = _problem(path, key)
        if problem is None:
            return path
        _log.warning("%s: %s; rebuilding it", path, problem)
    tmp = folder / f".{key}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        _write(tmp, key, env, system, int(n), int(seed), progress)
        os.replace(tmp, path)
    except OSError as exc:   # a full disk: h5py raises OSError with its own words
        raise PathError(f"{path}: cannot write the dataset: {reason(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _attrs(f: h5py.File) -> dict[str, Any]:
    out = {}
    for name, value in f.attrs.items():
        if name in ("env", "system"):
            value = json.loads(value)
        elif isinstance(value, np.generic):
            value = value.item()
        out[name] = value
    return out


def _open_complete(path: str | Path) -> h5py.File:
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ChannelError(f"{path}: not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
    if not f.attrs.get("complete", False) or any(name not in f for name in ARRAYS):
        f.close()
        raise ChannelError(f"{path}: not a complete simlink dataset")
    return f


def load_dataset(path: str | Path, start: int = 0, stop: int | None = None, *,
                 verify: bool = False) -> dict[str, Any]:
    """Samples ``[start, stop)`` of a dataset written by :func:`ensure_dataset`.

    Output: ``H_ul [k, n_bs, n_ue, n_sc_ul]``, ``H_dl [k, n_bs, n_ue, n_sc_dl]``
    complex64, ``time_index [k]`` int32, ``norm_factor``, and ``attrs`` (the
    file's attributes, ``env``/``system`` parsed from JSON). ``verify=True``
    also checks the whole file against its checksum first.
    """
    with _open_complete(path) as f:
        try:
            if verify and _checksum(f) != f.attrs["checksum"]:
                raise ChannelError(f"{path}: checksum mismatch")
            out: dict[str, Any] = {name: f[name][start:stop] for name in ARRAYS}
        except (OSError, KeyError) as exc:
            raise ChannelError(f"{path}: corrupt dataset ({str(exc).splitlines()[0]})") from None
        out["attrs"] = _attrs(f)
    out["norm_factor"] = out["attrs"]["norm_factor"]
    return out


def dataset_digest(path: str | Path) -> str:
    """Content hash of a complete dataset (from its stored checksum), usable as a cache key."""
    with _open_complete(path) as f:
        return str(f.attrs["checksum"])[:16]
