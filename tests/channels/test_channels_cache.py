"""HDF5 dataset cache: reuse, and rebuilding of partial or corrupt files."""
from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest
from channel_helpers import flip_data_byte, make_system

import simlink.channels as ch
from simlink.channels import sampling
from simlink.channels import CdlEnv, GaussianEnv

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast

SYSTEM = make_system(gap_hz=1e6, n_sc=6, n_sc_dl=4, bs={"kind": "ula", "n": 4})
GAUSS = GaussianEnv(name="gauss", kind="gaussian", spatial="one_ring")
N = 1200  # more than one block


@pytest.fixture
def streams(monkeypatch) -> list:
    """Records every (n, seed) that is actually generated."""
    calls, real = [], sampling.stream

    def counting(env, system, n, seed):
        calls.append((n, seed))
        return real(env, system, n, seed)

    monkeypatch.setattr(sampling, "stream", counting)
    return calls


def test_dataset_holds_generate_and_is_reused(tmp_path, streams):
    path = ch.ensure_dataset(GAUSS, SYSTEM, N, 3, cache_root=tmp_path)
    assert path.parent == tmp_path / "datasets" and path.suffix == ".h5"
    assert ch.ensure_dataset(GAUSS, SYSTEM, N, 3, cache_root=tmp_path) == path
    assert streams == [(N, 3)]
    d, ref = ch.load_dataset(path, verify=True), ch.generate(GAUSS, SYSTEM, N, 3)
    for key in ("H_ul", "H_dl", "time_index"):
        np.testing.assert_array_equal(d[key], ref[key])
    attrs = d["attrs"]
    assert attrs["complete"] and attrs["n"] == N and attrs["seed"] == 3
    assert attrs["env"]["spatial"] == "one_ring" and attrs["system"]["fc_dl_hz"] == 3.5e9 + 1e6
    assert attrs["norm_factor"] == d["norm_factor"] == 1.0 and attrs["sionna_version"] == "1.2.2"
    part = ch.load_dataset(path, 1000, 1010)
    np.testing.assert_array_equal(part["H_dl"], ref["H_dl"][1000:1010])
    assert not list(path.parent.glob("*.tmp"))


def test_digest_is_a_content_hash(tmp_path):
    a = ch.ensure_dataset(GAUSS, SYSTEM, 10, 1, cache_root=tmp_path / "a")
    b = ch.ensure_dataset(GAUSS, SYSTEM, 10, 1, cache_root=tmp_path / "b")
    c = ch.ensure_dataset(GAUSS, SYSTEM, 10, 2, cache_root=tmp_path / "a")
    assert ch.dataset_digest(a) == ch.dataset_digest(b) != ch.dataset_digest(c)
    assert a.name != c.name


def test_default_cache_root_is_the_simlink_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMLINK_CACHE", str(tmp_path / "sc"))
    path = ch.ensure_dataset(GAUSS, SYSTEM, 4, 0)
    assert path.parent == tmp_path / "sc" / "datasets"


def _delete_flag(path):
    with h5py.File(path, "a") as f:
        del f.attrs["complete"]


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_header_bytes(path):
    with open(path, "r+b") as f:
        f.seek(0)
        f.write(b"\x00" * 16)


@pytest.mark.parametrize("damage, reason", [
    (_delete_flag, "no complete flag"), (_truncate, "unreadable"),
    (lambda p: flip_data_byte(p, "H_ul", 1000), "checksum mismatch"), (_flip_header_bytes, "unreadable"),
])
def test_partial_or_corrupt_file_is_rebuilt(tmp_path, streams, caplog, damage, reason):
    path = ch.ensure_dataset(GAUSS, SYSTEM, N, 5, cache_root=tmp_path)
    good = ch.load_dataset(path)
    damage(path)
    with caplog.at_level(logging.WARNING, logger="simlink.channels.cache"):
        assert ch.ensure_dataset(GAUSS, SYSTEM, N, 5, cache_root=tmp_path) == path
    assert streams == [(N, 5), (N, 5)]
    assert reason in caplog.text
    rebuilt = ch.load_dataset(path, verify=True)
    np.testing.assert_array_equal(rebuilt["H_ul"], good["H_ul"])


def test_damaged_files_are_refused_by_load(tmp_path):
    path = ch.ensure_dataset(GAUSS, SYSTEM, N, 6, cache_root=tmp_path)
    flip_data_byte(path, "H_ul", 1000)
    with pytest.raises(ch.ChannelError, match="checksum mismatch"):
        ch.load_dataset(path, verify=True)
    _delete_flag(path)
    with pytest.raises(ch.ChannelError, match="not a complete simlink dataset"):
        ch.load_dataset(path)
    _truncate(path)
    with pytest.raises(ch.ChannelError, match="not a readable HDF5 file"):
        ch.dataset_digest(path)


def test_sionna_environment_round_trip(tmp_path):
    env = CdlEnv(name="cdl-c-cached", kind="cdl", model="C")
    system = make_system(bs={"kind": "upa", "rows": 2, "cols": 2, "polarization": "dual"},
                         ue={"kind": "ula", "n": 2})  # compiled by the physics tests already
    path = ch.ensure_dataset(env, system, 30, 1, cache_root=tmp_path, progress=True)
    d = ch.load_dataset(path, verify=True)
    ref = ch.generate(env, system, 30, 1)
    np.testing.assert_array_equal(d["H_ul"], ref["H_ul"])
    assert d["attrs"]["env_name"] == "cdl-c-cached" and d["norm_factor"] == ref["norm_factor"]
