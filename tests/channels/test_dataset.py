"""Lazy (file-backed) and in-memory datasets: same numbers, bounded memory."""
from __future__ import annotations

import dataclasses
import hashlib
import pickle
import tracemalloc

import h5py
import numpy as np
import pytest
from channel_helpers import flip_data_byte, make_system

import simlink.channels as ch
from simlink.channels import GaussianEnv
from simlink.channels import dataset as dataset_module
from simlink.channels.dataset import Dataset

pytestmark = pytest.mark.fast

SYSTEM = make_system(gap_hz=1e6, n_sc=6, n_sc_dl=8, bs={"kind": "ula", "n": 4})
ENVS = (GaussianEnv(name="ring", kind="gaussian", spatial="one_ring"),
        GaussianEnv(name="iid", kind="gaussian", spatial="iid"))
SIZES = (300, 517)          # neither a multiple of the block sizes below
NAMES = tuple(e.name for e in ENVS)


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> list:
    root = tmp_path_factory.mktemp("datasets")
    return [ch.ensure_dataset(env, SYSTEM, n, seed, cache_root=root)
            for seed, (env, n) in enumerate(zip(ENVS, SIZES))]


@pytest.fixture(scope="module")
def memory(paths) -> Dataset:
    """The pooled data as the campaign used to build it: everything loaded and concatenated."""
    parts = [ch.load_dataset(p) for p in paths]
    return Dataset.from_arrays(np.concatenate([d["H_ul"] for d in parts]),
                               np.concatenate([d["H_dl"] for d in parts]),
                               np.repeat(np.arange(len(parts)), [len(d["H_dl"]) for d in parts]),
                               NAMES, SYSTEM, digest="pool")


@pytest.fixture(scope="module")
def lazy(paths) -> Dataset:
    return Dataset.from_files(paths, NAMES, SYSTEM, digest="pool")


def views(d: Dataset) -> dict[str, Dataset]:
    """The pooled dataset and views of it that select rows in different ways."""
    train, val = d.validation_split(0.2, seed=4)
    return {"pooled": d, "env0": d.for_env(0), "env1": d.for_env(1), "train": train, "val": val}


def test_lazy_and_memory_datasets_agree(lazy, memory):
    assert len(lazy) == len(memory) == sum(SIZES)
    for name, (a, b) in zip(views(lazy), zip(views(lazy).values(), views(memory).values())):
        assert len(a) == len(b) and a.shape("H_dl") == b.shape("H_dl") == b.H_dl.shape, name
        assert (a.target, a.digest, a.env_names) == (b.target, b.digest, b.env_names), name
        np.testing.assert_array_equal(a.env_id, b.env_id)
        np.testing.assert_array_equal(a.H_dl, b.H_dl)
        np.testing.assert_array_equal(a.H_ul, b.H_ul)
        assert a.H_dl.dtype == np.complex64
    np.testing.assert_array_equal(lazy.env_id, np.repeat([0, 1], SIZES))
    assert (lazy.for_env(1).target, lazy.for_env(1).digest) == (1, "pool/1")
    np.testing.assert_array_equal(lazy.for_env(1).H_dl, memory.H_dl[memory.env_id == 1])


@pytest.mark.parametrize("view", ["pooled", "env1", "val"])
def test_rows_are_numpy_indexing(lazy, memory, view):
    a, b = views(lazy)[view], views(memory)[view]
    H = b.H_dl
    rng = np.random.default_rng(0)
    dense = rng.permutation(np.repeat(np.arange(100, 140), 2))      # repeated, unsorted, contiguous
    runs = [len(a) - 2, 5, 6, 7, 150, 151, 6, len(a) - 1]          # scattered runs of rows
    for idx in [rng.integers(len(a), size=64), dense, runs, [len(a) - 1, 0, 0], []]:
        for d in (a, b):
            got = d.rows(idx, ("H_dl", "env_id"))
            np.testing.assert_array_equal(got["H_dl"], H[np.asarray(idx, int)])
            np.testing.assert_array_equal(got["env_id"], b.env_id[np.asarray(idx, int)])
    with pytest.raises(IndexError):
        a.rows([len(a)])


def test_rows_keep_the_draws_of_an_image_sampler(lazy, memory):
    """DM-VB draws rows and subcarriers from its rng and takes ``H[rows, :, :, sc]``."""
    H = memory.H_dl
    for d in (lazy, memory):
        rng = np.random.default_rng(7)
        rows, sc = rng.integers(len(d), size=32), rng.integers(H.shape[3], size=32)
        np.testing.assert_array_equal(d.rows(rows)["H_dl"][np.arange(32), :, :, sc], H[rows, :, :, sc])


@pytest.mark.parametrize("size", [1, 7, 300, None])
def test_chunks_concatenate_to_the_whole(lazy, memory, size):
    for name, d in views(lazy).items():
        parts = list(d.chunks(("H_ul", "H_dl", "env_id"), size=size))
        assert all(len(p["H_dl"]) <= (size or len(d)) for p in parts)
        ref = views(memory)[name]
        for field in ("H_ul", "H_dl", "env_id"):
            np.testing.assert_array_equal(np.concatenate([p[field] for p in parts]), getattr(ref, field))


def _row_ids(d: Dataset, batches) -> np.ndarray:
    """Position in ``d`` of every row of ``batches``, in stream order (rows are continuous draws: unique)."""
    where = {row.tobytes(): i for i, row in enumerate(d.H_dl)}
    return np.array([where[row.tobytes()] for b in batches for row in b["H_dl"]])


@pytest.mark.parametrize("batch_size, block_rows, buffer_rows", [(32, 50, 120), (100, 7, 20), (1000, 64, 64)])
def test_one_epoch_of_batches_visits_every_row_once(lazy, batch_size, block_rows, buffer_rows):
    for d in views(lazy).values():
        batches = list(d.batches(batch_size, np.random.default_rng(1), ("H_dl", "env_id"), epochs=1,
                                 block_rows=block_rows, buffer_rows=buffer_rows))
        assert all(len(b["H_dl"]) == batch_size for b in batches[:-1])
        ids = _row_ids(d, batches)
        np.testing.assert_array_equal(np.sort(ids), np.arange(len(d)))
        np.testing.assert_array_equal(np.concatenate([b["env_id"] for b in batches]), d.env_id[ids])
        assert not np.array_equal(ids, np.arange(len(d)))


def test_a_stream_of_steps_is_epoch_after_epoch_a_permutation(lazy):
    n, batch = len(lazy), 96
    batches = list(lazy.batches(batch, np.random.default_rng(2), steps=2 * n // batch + 3,
                                block_rows=40, buffer_rows=200))
    assert all(len(b["H_dl"]) == batch for b in batches)
    ids = _row_ids(lazy, batches)
    for e in range(2):
        np.testing.assert_array_equal(np.sort(ids[e * n:(e + 1) * n]), np.arange(n))
    assert not np.array_equal(ids[:n], ids[n:2 * n])


def test_batches_depend_only_on_the_seed(lazy, memory):
    def stream(d, seed):
        return list(d.batches(64, np.random.default_rng(seed), ("H_ul", "H_dl"), steps=20,
                              block_rows=30, buffer_rows=150))

    a, b, c = stream(lazy, 5), stream(memory, 5), stream(lazy, 6)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["H_dl"], y["H_dl"])
        np.testing.assert_array_equal(x["H_ul"], y["H_ul"])
    assert not np.array_equal(a[0]["H_dl"], c[0]["H_dl"])


def test_sha256_is_the_hash_of_the_materialised_array(lazy, memory, monkeypatch):
    monkeypatch.setattr(dataset_module, "CHUNK_BYTES", 10_000)    # many chunks
    for name, d in views(lazy).items():
        for field in ("H_dl", "H_ul"):
            want = hashlib.sha256(np.ascontiguousarray(getattr(d, field)).tobytes()).hexdigest()
            assert d.sha256(field) == views(memory)[name].sha256(field) == want


def test_validation_split_is_disjoint_stratified_and_seeded(lazy, memory):
    train, val = lazy.validation_split(0.25, seed=3)
    assert len(train) + len(val) == len(lazy)
    assert [int(np.sum(val.env_id == k)) for k in range(2)] == [round(0.25 * n) for n in SIZES]
    ids_train, ids_val = _row_ids(lazy, [{"H_dl": train.H_dl}]), _row_ids(lazy, [{"H_dl": val.H_dl}])
    np.testing.assert_array_equal(np.sort(np.concatenate([ids_train, ids_val])), np.arange(len(lazy)))
    again = lazy.validation_split(0.25, seed=3)[1]
    np.testing.assert_array_equal(again.H_dl, val.H_dl)
    np.testing.assert_array_equal(memory.validation_split(0.25, seed=3)[1].H_dl, val.H_dl)
    assert not np.array_equal(lazy.validation_split(0.25, seed=4)[1].H_dl, val.H_dl)
    assert val.digest != train.digest != lazy.digest
    with pytest.raises(ValueError):
        lazy.validation_split(1.0, seed=0)


def test_replace_keeps_a_lazy_view_or_swaps_in_arrays(lazy, memory):
    targeted = dataclasses.replace(lazy, target=1)
    assert targeted.target == 1 and targeted._store is lazy._store and "files" in repr(targeted)
    H = np.zeros_like(memory.H_dl)
    swapped = dataclasses.replace(lazy, H_dl=H)
    assert swapped.H_dl is H or np.shares_memory(swapped.H_dl, H)
    np.testing.assert_array_equal(swapped.H_ul, memory.H_ul)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(lazy.for_env(0))).H_dl, memory.for_env(0).H_dl)


def test_arrays_are_checked():
    H = np.zeros((3, 4, 1, 8), np.complex64)
    with pytest.raises(ValueError, match="differ in length"):
        Dataset.from_arrays(H, H[:2], np.zeros(3), NAMES, SYSTEM)
    with pytest.raises(TypeError, match="H_ul"):
        Dataset(H_dl=H, env_id=np.zeros(3), env_names=NAMES, system=SYSTEM)


def _copy(path, tmp_path):
    out = tmp_path / path.name
    out.write_bytes(path.read_bytes())
    return out


def _delete_flag(path):
    with h5py.File(path, "a") as f:
        del f.attrs["complete"]


def _flip_header_bytes(path):
    with open(path, "r+b") as f:
        f.write(b"\x00" * 16)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.unlink(), "no such dataset file"), (_delete_flag, "not a complete simlink dataset"),
    (_flip_header_bytes, "not a readable HDF5 file"), (lambda p: flip_data_byte(p, "H_dl", 100), "checksum mismatch"),
])
def test_a_missing_or_damaged_file_is_named(paths, tmp_path, damage, message):
    bad = _copy(paths[1], tmp_path)
    damage(bad)
    with pytest.raises(ch.ChannelError, match=message) as err:
        Dataset.from_files([paths[0], bad], NAMES, SYSTEM, verify=True)
    assert str(bad) in str(err.value)


def test_a_file_damaged_after_opening_is_named_when_read(paths, tmp_path):
    bad = _copy(paths[1], tmp_path)
    d = Dataset.from_files([paths[0], bad], NAMES, SYSTEM)
    bad.write_bytes(bad.read_bytes()[:4096])
    with pytest.raises(ch.ChannelError, match="corrupt|not a readable") as err:
        d.for_env(1).H_dl
    assert str(bad) in str(err.value)


def test_files_must_fit_the_system(paths):
    other = make_system(gap_hz=1e6, n_sc=6, n_sc_dl=12, bs={"kind": "ula", "n": 4})
    with pytest.raises(ch.ChannelError, match="H_dl rows are"):
        Dataset.from_files(paths, NAMES, other)
    with pytest.raises(ValueError, match="2 files for 1 environments"):
        Dataset.from_files(paths, NAMES[:1], SYSTEM)


def test_batches_hold_a_buffer_not_the_file(tmp_path):
    system = make_system(n_sc=64, bs={"kind": "ula", "n": 4})
    path = ch.ensure_dataset(ENVS[1], system, 2000, 0, cache_root=tmp_path)
    d = Dataset.from_files([path], NAMES[1:], system)
    row = 4 * 64 * 8                                  # bytes of one H_dl row
    block, buffer, batch = 50, 200, 32
    tracemalloc.start()
    try:
        for step, b in enumerate(d.batches(batch, np.random.default_rng(0), steps=200,
                                           block_rows=block, buffer_rows=buffer)):
            assert b["H_dl"].shape == (batch, 4, 1, 64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert step + 1 == 200 and 200 * batch > 3 * len(d)    # a few epochs were streamed
    bound = (buffer + block + 3 * batch) * row + (64 << 10)  # buffer, carry, a block, batches, small arrays
    assert peak < bound < len(d) * row / 3
