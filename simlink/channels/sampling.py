"""From an environment config to normalised FDD pairs, block by block."""
from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from simlink.channels.errors import ChannelError
from simlink.channels import builtin  # noqa: F401  (registers the built-in kinds)
from simlink.channels.source import BLOCK, ENVIRONMENTS, Source
from simlink.hashing import stable_hash
from simlink.system import SystemCfg

_SYSTEM_CHANNEL_FIELDS = ("fc_ul_hz", "fc_dl_hz", "subcarrier_spacing_hz", "n_subcarriers_ul",
                          "n_subcarriers_dl", "bs_array", "ue_array")

_sources: dict[str, Source] = {}
_norm_factors: dict[str, float] = {}
_file_digests: dict[tuple, str] = {}


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes (memoised per size and modification time)."""
    path = Path(path).expanduser()
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _file_digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for piece in iter(lambda: f.read(1 << 20), b""):
                h.update(piece)
        _file_digests[memo] = h.hexdigest()
    return _file_digests[memo]


def channel_identity(env, system: SystemCfg) -> dict[str, Any]:
    """Everything the channel draws depend on: the environment without its
    label, the system's bands and arrays (not its pilots), and for a file
    environment the file's content."""
    ident = {"env": env.model_dump(mode="json", exclude={"name"}),
             "system": system.model_dump(mode="json", include=set(_SYSTEM_CHANNEL_FIELDS))}
    ident.update(source_class(env).identity(env))
    return ident


def source_class(env) -> type[Source]:
    """The registered :class:`Source` of ``env``'s kind."""
    kind = getattr(env, "kind", None)
    if kind not in ENVIRONMENTS:
        raise ChannelError(f"environment kind {kind!r} is not one of {sorted(ENVIRONMENTS)}")
    return ENVIRONMENTS[kind][1]


def source(env, system: SystemCfg) -> Source:
    """The (per-process cached) source of ``env`` for ``system``."""
    key = stable_hash(channel_identity(env, system))
    if key not in _sources:
        _sources[key] = source_class(env)(env, system)
    return _sources[key]


def norm_factor(env, system: SystemCfg) -> float:
    """Amplitude factor giving ``E|h|^2 = 1`` per entry, one for both bands."""
    key = stable_hash(channel_identity(env, system))
    if key not in _norm_factors:
        power = source(env, system).mean_power()
        if not power > 0.0:
            raise ChannelError(f"environment {env.name!r}: channel power is {power}, cannot normalise")
        _norm_factors[key] = float(np.float32(1.0 / math.sqrt(power)))  # as applied to complex64
    return _norm_factors[key]


def check_request(n: int, seed: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ChannelError(f"n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ChannelError(f"seed must be a non-negative integer, got {seed!r}")


def stream(env, system: SystemCfg, n: int, seed: int) -> Iterator[dict[str, np.ndarray]]:
    """The ``n`` normalised pairs of ``(env, system, seed)``, one block at a time.

    Output per step: ``H_ul [k, n_bs, n_ue, n_sc_ul]``, ``H_dl [k, n_bs, n_ue,
    n_sc_dl]`` complex64 and ``time_index [k]`` int32 with ``k <= BLOCK``.
    """
    check_request(n, seed)
    src, factor = source(env, system), np.float32(norm_factor(env, system))
    for index in range(-(-n // BLOCK)):
        h_ul, h_dl, t = src.block(int(seed), index, min(BLOCK, n - index * BLOCK))
        yield {"H_ul": h_ul * factor, "H_dl": h_dl * factor, "time_index": t}


def generate(env, system: SystemCfg, n: int, seed: int) -> dict[str, Any]:
    """``n`` FDD channel pairs of ``env`` for ``system``, in memory.

    Output: ``H_ul [n, n_bs, n_ue, n_sc_ul]`` and ``H_dl [n, n_bs, n_ue, n_sc_dl]``
    complex64 ([BS port, UE port] in both directions, ``E|h|^2 = 1`` per
    entry), ``time_index [n]`` int32 (draw number; frame index for files),
    ``norm_factor`` (the amplitude factor applied), ``env_name``, ``seed``,
    ``fc_ul_hz``, ``fc_dl_hz``, ``subcarrier_spacing_hz``.
    Same arguments give bit-identical arrays; the first ``k`` pairs equal
    ``generate(env, system, k, seed)``.
    """
    parts = list(stream(env, system, n, seed))
    out: dict[str, Any] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out.update(norm_factor=norm_factor(env, system), env_name=env.name, seed=int(seed),
               fc_ul_hz=system.fc_ul_hz, fc_dl_hz=system.fc_dl_hz,
               subcarrier_spacing_hz=system.subcarrier_spacing_hz)
    return out


def power_delay_profile(env, system: SystemCfg) -> tuple[np.ndarray, np.ndarray]:
    """``(delays_s [P], powers [P])`` of an environment with a fixed power-delay
    profile (cdl, tdl, gaussian), powers summing to 1."""
    if not hasattr(source_class(env), "power_delay_profile"):
        with_pdp = sorted(k for k, (_, src) in ENVIRONMENTS.items() if hasattr(src, "power_delay_profile"))
        raise ChannelError(f"environment {env.name!r}: kind {env.kind!r} has no fixed "
                           f"power-delay profile (only {', '.join(with_pdp)} have one)")
    delays, powers = source(env, system).power_delay_profile()
    return delays, powers / powers.sum()
