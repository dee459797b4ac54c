"""Training data for ``Estimator.fit``: in memory, or streamed from the dataset cache.

A :class:`Dataset` is a view (an ascending set of rows) of a backing store:
arrays in memory (:meth:`Dataset.from_arrays`: small data, tests) or one
complete HDF5 cache file per environment (:meth:`Dataset.from_files`, the
files of :func:`~simlink.channels.ensure_dataset`), of which nothing but the
metadata is read until a field is asked for. Both backings give the same
numbers for every call:

- ``len``, ``env_id``, ``shape``, ``for_env``, ``validation_split``: metadata only;
- :meth:`~Dataset.chunks`: contiguous blocks in order (streamed statistics);
- :meth:`~Dataset.batches`: shuffled mini-batches, memory bounded by a read-ahead buffer;
- :meth:`~Dataset.rows`: random access, exactly ``H[idx]``;
- :meth:`~Dataset.sha256`: streamed, equal to the hash of the materialised array;
- ``H_ul`` / ``H_dl``: the whole field in memory (small data and older code).

Fields: ``H_ul [n, n_bs, n_ue, n_sc_ul]``, ``H_dl [n, n_bs, n_ue, n_sc_dl]``
complex64 and ``env_id [n]`` int32, an index into ``env_names``.
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import h5py
import numpy as np

from simlink.channels.cache import load_dataset
from simlink.channels.errors import ChannelError
from simlink.system import SystemCfg

FIELDS = ("H_ul", "H_dl", "env_id")
#: default size of a :meth:`Dataset.chunks` block
CHUNK_BYTES = 8 << 20
#: default contiguous read of :meth:`Dataset.batches`: the HDF5 chunk size of the cache files
BLOCK_BYTES = 1 << 20
#: default shuffle buffer of :meth:`Dataset.batches`
BUFFER_BYTES = 32 << 20

Fields = Sequence[str] | str


def _take_array(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``a[rows]`` for ascending unique ``rows``; a view (no copy) when they are contiguous."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return a[rows[0]:rows[-1] + 1]
    return a[rows]


def _read_runs(data: h5py.Dataset, rows: np.ndarray) -> np.ndarray:
    """``data[rows]`` for ascending unique ``rows``, one hyperslab read per run of
    consecutive rows: for scattered rows several times faster than h5py's
    fancy indexing (128 random rows of 16 KiB: 11 ms against 70 ms)."""
    out = np.empty((len(rows), *data.shape[1:]), data.dtype)
    starts = np.flatnonzero(np.diff(rows, prepend=-2) != 1)    # where each run begins
    file_space, rest = data.id.get_space(), data.shape[1:]
    for a, b in zip(starts, [*starts[1:], len(rows)]):
        count = (int(b - a), *rest)
        file_space.select_hyperslab((int(rows[a]), *(0,) * len(rest)), count)
        data.id.read(h5py.h5s.create_simple(count), file_space, out[a:b])
    return out


class _ArrayStore:
    """Backing of an in-memory dataset: the arrays themselves."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.env_id = arrays["env_id"]

    def row_shape(self, field: str) -> tuple[int, ...]:
        return self.arrays[field].shape[1:]

    def dtype(self, field: str) -> np.dtype:
        return self.arrays[field].dtype

    def take(self, field: str, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (ascending, unique) of ``field``."""
        return _take_array(self.arrays[field], rows)


class _FileStore:
    """Backing of a file dataset: ``paths[k]`` holds environment ``k``'s rows,
    read on demand through handles opened on first use."""

    def __init__(self, paths: Sequence[str | Path], system: SystemCfg, verify: bool):
        self.paths = tuple(Path(p) for p in paths)
        self.shapes = {"H_ul": (system.n_bs, system.n_ue, system.n_subcarriers_ul),
                       "H_dl": (system.n_bs, system.n_ue, system.n_subcarriers_dl), "env_id": ()}
        lengths = [self._inspect(path, verify) for path in self.paths]
        self.offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        self.env_id = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
        self._handles: dict[int, h5py.File] = {}

    def _inspect(self, path: Path, verify: bool) -> int:
        """Number of rows of ``path``, after checking that it is a complete
        dataset (and its checksum when ``verify``) whose rows fit the system."""
        if not path.is_file():
            raise ChannelError(f"{path}: no such dataset file")
        empty = load_dataset(path, 0, 0, verify=verify)     # metadata and zero rows
        for field in ("H_ul", "H_dl"):
            if empty[field].shape[1:] != self.shapes[field]:
                raise ChannelError(f"{path}: {field} rows are {list(empty[field].shape[1:])} but "
                                   f"the system expects {list(self.shapes[field])}")
        return int(empty["attrs"]["n"])

    def __getstate__(self) -> dict:
        # open HDF5 handles do not pickle; a copy opens its own
        return {**self.__dict__, "_handles": {}}

    def row_shape(self, field: str) -> tuple[int, ...]:
        return self.shapes[field]

    def dtype(self, field: str) -> np.dtype:
        return np.dtype(np.int32 if field == "env_id" else np.complex64)

    def take(self, field: str, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (ascending, unique, global) of ``field``, read file by file."""
        if field == "env_id":
            return _take_array(self.env_id, rows)
        cuts = np.searchsorted(rows, self.offsets)            # file k: rows[cuts[k]:cuts[k + 1]]
        parts = [k for k in range(len(self.paths)) if cuts[k + 1] > cuts[k]]
        if len(parts) == 1:
            k = parts[0]
            return self._read(k, field, rows - self.offsets[k])
        out = np.empty((len(rows), *self.shapes[field]), np.complex64)
        for k in parts:
            out[cuts[k]:cuts[k + 1]] = self._read(k, field, rows[cuts[k]:cuts[k + 1]] - self.offsets[k])
        return out

    def _read(self, k: int, field: str, local: np.ndarray) -> np.ndarray:
        """Rows ``local`` (ascending, unique) of file ``k``."""
        lo, hi = int(local[0]), int(local[-1]) + 1
        try:
            data = self._file(k)[field]
            if hi - lo == len(local):
                return data[lo:hi]
            if hi - lo <= 2 * len(local):
                # dense rows: one contiguous read is faster than a scattered
                # selection and costs at most twice the memory
                return data[lo:hi][local - lo]
            return _read_runs(data, local)
        except (OSError, KeyError) as exc:
            raise ChannelError(f"{self.paths[k]}: corrupt dataset ({str(exc).splitlines()[0]})") from None

    def _file(self, k: int) -> h5py.File:
        if k not in self._handles:
            try:
                # no chunk cache: the data is uncompressed and read once per
                # pass, so a cache only adds a copy, and would read a whole
                # chunk (1 MiB) for one row
                self._handles[k] = h5py.File(self.paths[k], "r", rdcc_nbytes=0)
            except OSError as exc:
                raise ChannelError(f"{self.paths[k]}: not a readable HDF5 file "
                                   f"({str(exc).splitlines()[0]})") from None
        return self._handles[k]


def _fields(fields: Fields) -> tuple[str, ...]:
    fields = (fields,) if isinstance(fields, str) else tuple(fields)
    unknown = [f for f in fields if f not in FIELDS]
    if unknown or not fields:
        raise ValueError(f"fields must be a non-empty selection of {FIELDS}, got {fields}")
    return fields


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Dataset:
    """Training data handed to ``Estimator.fit``, in memory or backed by cache files.

    Parameters
    ----------
    H_ul, H_dl, env_id : np.ndarray, optional
        In-memory data (see :meth:`from_arrays`).
    env_names : sequence of str
        Environment names; ``env_id`` indexes them.
    system : SystemCfg
        The system the channels belong to.
    target : int, optional
        Index of the environment under test (``None`` for a pooled fit).
    digest : str
        Content hash of the data, part of the weight-cache key.

    Shapes
    ------
    ``H_ul [n, n_bs, n_ue, n_sc_ul]``, ``H_dl [n, n_bs, n_ue, n_sc_dl]``
    complex64, ``env_id [n]`` int32.

    Notes
    -----
    A dataclass so that ``dataclasses.replace(d, target=k)`` stays a cheap
    view (the campaign uses it); ``replace(d, H_dl=x)`` gives an in-memory
    dataset whose other arrays are read from ``d``.
    """
    env_names: tuple[str, ...]
    system: SystemCfg
    target: int | None
    digest: str
    _store: _ArrayStore | _FileStore
    _index: np.ndarray          # the view's rows of the store, ascending

    def __init__(self, H_ul: np.ndarray | None = None, H_dl: np.ndarray | None = None,
                 env_id: np.ndarray | None = None, env_names: Sequence[str] = (),
                 system: SystemCfg | None = None, target: int | None = None, digest: str = "", *,
                 _store: _ArrayStore | _FileStore | None = None, _index: np.ndarray | None = None):
        if system is None:
            raise TypeError("Dataset needs the system")
        given = {"H_ul": H_ul, "H_dl": H_dl, "env_id": env_id}
        if _store is None or any(a is not None for a in given.values()):
            _store, _index = self._array_store(given, _store, _index)
        for name, value in [("env_names", tuple(env_names)), ("system", system), ("target", target),
                            ("digest", digest), ("_store", _store), ("_index", _index)]:
            object.__setattr__(self, name, value)

    @staticmethod
    def _array_store(given: dict[str, np.ndarray | None], store: _ArrayStore | _FileStore | None,
                     index: np.ndarray | None) -> tuple[_ArrayStore, np.ndarray]:
        """In-memory store of the ``given`` arrays, the missing ones read from
        the view ``(store, index)`` that ``dataclasses.replace`` passes on."""
        arrays = {}
        for field, a in given.items():
            if a is None and store is None:
                raise TypeError(f"an in-memory Dataset needs {field}")
            arrays[field] = np.asarray(store.take(field, index) if a is None else a)
        arrays["env_id"] = arrays["env_id"].astype(np.int32, copy=False)
        lengths = {field: len(a) for field, a in arrays.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"Dataset arrays differ in length: {lengths}")
        return _ArrayStore(arrays), np.arange(lengths["env_id"], dtype=np.int64)

    # -- construction ---------------------------------------------------
    @classmethod
    def from_arrays(cls, H_ul: np.ndarray, H_dl: np.ndarray, env_id: np.ndarray,
                    env_names: Sequence[str], system: SystemCfg, target: int | None = None,
                    digest: str = "") -> "Dataset":
        """A dataset of in-memory arrays (held as given, not copied).

        Input: ``H_ul [n, n_bs, n_ue, n_sc_ul]``, ``H_dl [n, n_bs, n_ue, n_sc_dl]``,
        ``env_id [n]`` (cast to int32).
        """
        return cls(H_ul, H_dl, env_id, env_names, system, target, digest)

    @classmethod
    def from_files(cls, paths: Sequence[str | Path], env_names: Sequence[str], system: SystemCfg,
                   *, target: int | None = None, digest: str = "", verify: bool = False) -> "Dataset":
        """A dataset backed by cache files, ``paths[k]`` holding environment ``k``.

        Only the files' metadata is read here: each must be a complete
        dataset whose rows fit ``system`` (``verify=True`` also checks its
        checksum, reading it once), else :class:`ChannelError` names it.
        Rows are pooled in file order, so ``env_id`` is ``k`` on file ``k``'s rows.
        """
        if len(paths) != len(env_names):
            raise ValueError(f"{len(paths)} files for {len(env_names)} environments")
        store = _FileStore(paths, system, verify)
        return cls(env_names=env_names, system=system, target=target, digest=digest,
                   _store=store, _index=np.arange(len(store.env_id), dtype=np.int64))

    def _view(self, index: np.ndarray, target: int | None, digest: str) -> "Dataset":
        return Dataset(env_names=self.env_names, system=self.system, target=target, digest=digest,
                       _store=self._store, _index=index)

    # -- metadata -------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        backing = "files" if isinstance(self._store, _FileStore) else "memory"
        return (f"Dataset(n={len(self)}, env_names={self.env_names}, target={self.target}, "
                f"digest={self.digest!r}, backing={backing})")

    @property
    def env_id(self) -> np.ndarray:
        """``[n]`` int32 environment index of every row (no data is read)."""
        return _take_array(self._store.env_id, self._index)

    def shape(self, field: str = "H_dl") -> tuple[int, ...]:
        """Shape of ``field`` over the view, without reading it."""
        return (len(self), *self._store.row_shape(_fields(field)[0]))

    @property
    def H_ul(self) -> np.ndarray:
        """``[n, n_bs, n_ue, n_sc_ul]``: loads the whole field into memory."""
        return self._store.take("H_ul", self._index)

    @property
    def H_dl(self) -> np.ndarray:
        """``[n, n_bs, n_ue, n_sc_dl]``: loads the whole field into memory."""
        return self._store.take("H_dl", self._index)

    def for_env(self, k: int) -> "Dataset":
        """The rows of environment ``k`` (a view; ``target=k``, digest ``f"{digest}/{k}"``)."""
        return self._view(self._index[self.env_id == k], k, f"{self.digest}/{k}")

    def validation_split(self, fraction: float, seed: int) -> tuple["Dataset", "Dataset"]:
        """``(train, val)``: disjoint views covering the dataset, ``val`` holding
        ``round(fraction * n_k)`` rows of every environment ``k`` (stratified, so
        a pooled validation set has the pooled mix), chosen by ``seed`` alone."""
        if not 0 < fraction < 1:
            raise ValueError(f"validation fraction must lie in (0, 1), got {fraction}")
        rng = np.random.default_rng(seed)
        env_id = self.env_id
        val = np.zeros(len(self), bool)
        for k in np.unique(env_id):
            pos = np.flatnonzero(env_id == k)
            val[rng.choice(pos, size=int(round(fraction * len(pos))), replace=False)] = True
        tag = f"{fraction}:{seed}"
        return (self._view(self._index[~val], self.target, f"{self.digest}/train:{tag}"),
                self._view(self._index[val], self.target, f"{self.digest}/val:{tag}"))

    # -- reading --------------------------------------------------------
    def _row_bytes(self, fields: tuple[str, ...]) -> int:
        return sum(int(np.prod(self._store.row_shape(f))) * self._store.dtype(f).itemsize
                   for f in fields)

    def _rows_in(self, nbytes: int, fields: tuple[str, ...]) -> int:
        return max(1, nbytes // self._row_bytes(fields))

    def chunks(self, fields: Fields = ("H_dl",), size: int | None = None) -> Iterator[dict[str, np.ndarray]]:
        """Contiguous blocks of the view, in order: their concatenation is the whole.

        Parameters
        ----------
        fields : str or sequence of str
            Any of ``"H_ul"``, ``"H_dl"``, ``"env_id"``.
        size : int, optional
            Rows per block (default: :data:`CHUNK_BYTES` worth of ``fields``).

        Output: ``{field: [m, ...]}`` with ``m <= size`` (in-memory blocks may be views).
        """
        fields = _fields(fields)
        size = size or self._rows_in(CHUNK_BYTES, fields)
        for start in range(0, len(self), size):
            rows = self._index[start:start + size]
            yield {f: self._store.take(f, rows) for f in fields}

    def rows(self, idx: np.ndarray | Sequence[int], fields: Fields = ("H_dl",)) -> dict[str, np.ndarray]:
        """Random access: ``{field: H[idx]}``, in the order of ``idx`` (repeats allowed).

        Input: ``idx [m]`` ints in ``[0, len)``. Output: ``{field: [m, ...]}``, a copy.
        Each distinct row is read once (HDF5 selections must be ascending and
        unique), then the rows are put in the order of ``idx``.
        """
        fields = _fields(fields)
        idx = np.asarray(idx)
        if idx.size == 0:
            idx = idx.astype(np.int64)          # ``[]`` is float to NumPy
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise IndexError(f"rows needs a 1-D integer index, got {idx.dtype} {idx.shape}")
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"row index out of range [0, {len(self)})")
        unique, order = np.unique(idx, return_inverse=True)
        return {f: self._store.take(f, self._index[unique])[order.reshape(-1)] for f in fields}

    def sha256(self, field: str = "H_dl") -> str:
        """Hex sha256 of the field's bytes, streamed: equal to
        ``hashlib.sha256(np.ascontiguousarray(self.<field>).tobytes()).hexdigest()``."""
        h = hashlib.sha256()
        for chunk in self.chunks(field):
            h.update(np.ascontiguousarray(chunk[field]).data)
        return h.hexdigest()

    def batches(self, batch_size: int, rng: np.random.Generator, fields: Fields = ("H_dl",), *,
                steps: int | None = None, epochs: int | None = None, block_rows: int | None = None,
                buffer_rows: int | None = None) -> Iterator[dict[str, np.ndarray]]:
        """Shuffled mini-batches streamed in bounded memory.

        Every epoch visits the blocks of ``block_rows`` contiguous rows in a
        random order and loads them ``buffer_rows`` at a time into a shuffle
        buffer, whose rows come out in random order. The batches of the
        stream, concatenated, are epoch after epoch a permutation of the
        rows: a batch straddling two buffers or epochs is completed from the
        next one, so every batch has ``batch_size`` rows except, with
        ``epochs``, the last one.

        Parameters
        ----------
        batch_size : int
            Rows per batch.
        rng : np.random.Generator
            The only source of randomness: the same seed gives the same batches
            on either backing.
        fields : str or sequence of str
            Any of ``"H_ul"``, ``"H_dl"``, ``"env_id"``.
        steps, epochs : int, optional
            Stop after ``steps`` batches, or after ``epochs`` passes (at most
            one of them; neither: one epoch).
        block_rows, buffer_rows : int, optional
            Read unit and buffer size in rows (defaults: :data:`BLOCK_BYTES`
            and :data:`BUFFER_BYTES` worth of ``fields``). Memory holds one
            buffer, one block and the batch, whatever the dataset's size.

        Output: ``{field: [batch_size, ...]}`` NumPy arrays (copies).
        """
        fields = _fields(fields)
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if steps is not None and epochs is not None:
            raise ValueError("give steps or epochs, not both")
        if len(self) == 0:
            raise ValueError("batches of an empty dataset")
        block = block_rows or self._rows_in(BLOCK_BYTES, fields)
        per_load = max(1, (buffer_rows or self._rows_in(BUFFER_BYTES, fields)) // block)
        stream = self._shuffled(fields, batch_size, rng, None if steps is not None else epochs or 1,
                                block, per_load)
        return stream if steps is None else itertools.islice(stream, steps)

    def _shuffled(self, fields: tuple[str, ...], batch_size: int, rng: np.random.Generator,
                  epochs: int | None, block: int, per_load: int) -> Iterator[dict[str, np.ndarray]]:
        """The batches of :meth:`batches` (``epochs=None``: endless)."""
        starts = np.arange(0, len(self), block)
        carry = {f: self._store.take(f, self._index[:0]) for f in fields}
        for _ in itertools.count() if epochs is None else range(epochs):
            order = starts[rng.permutation(len(starts))]
            for g in range(0, len(order), per_load):
                buffer = self._load(fields, order[g:g + per_load], block, carry)
                # carried rows are already shuffled: they go first, so that no
                # row of this load comes out before the previous load's last rows
                kept = len(carry[fields[0]])
                perm = np.concatenate([np.arange(kept), kept + rng.permutation(len(buffer[fields[0]]) - kept)])
                full = len(perm) - len(perm) % batch_size
                for i in range(0, full, batch_size):
                    yield {f: buffer[f][perm[i:i + batch_size]] for f in fields}
                carry = {f: buffer[f][perm[full:]] for f in fields}
                del buffer      # free it before the next one is filled: one buffer at a time
        if len(carry[fields[0]]):
            yield carry

    def _load(self, fields: tuple[str, ...], starts: np.ndarray, block: int,
              carry: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A shuffle buffer: ``carry`` followed by the blocks at view positions ``starts``."""
        spans = [(int(s), min(int(s) + block, len(self))) for s in starts]
        size = len(carry[fields[0]]) + sum(b - a for a, b in spans)
        out = {}
        for f in fields:
            buffer = np.empty((size, *self._store.row_shape(f)), self._store.dtype(f))
            pos = len(carry[f])
            buffer[:pos] = carry[f]
            for a, b in spans:
                buffer[pos:pos + b - a] = self._store.take(f, self._index[a:b])
                pos += b - a
            out[f] = buffer
        return out
