"""Where learned weights live: the weight cache and the committed weights store.

Two folders of the same layout (``<fit key>.npz``; ``parts/<part key>.npz`` for
sub-models several fits share; ``*.checkpoint.npz`` beside what is in
training), keyed by the same content keys:

- the cache, ``$SIMLINK_CACHE/weights/``: written by every run, private to a machine;
- the store, ``weights/`` at the top of a simlink checkout (or ``$SIMLINK_STORE``):
  committed with the repository, so a fresh clone re-makes a committed table
  without training. Only ``simlink train --budget`` / ``--store`` writes to it.

Weights are looked up in the cache, then in the store, then trained. A file
served from the store is copied into the cache, where the campaign's workers
load it. Keys hash the training data's content, so a store never serves
weights of other data or other keys.

The store's ``index.json`` says what each file is for (docs/architecture.md,
"The weights store"): the scenarios each final fit belongs to, the training
datasets (config key and content digest) the keys were computed from, whether
every fit of a scenario is in, and which unfinished-training files (parts,
checkpoints) belong to which scenario. ``tests/campaign/test_weights_store.py``
checks it against the scenarios of today.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from simlink.campaign.errors import CampaignError
from simlink.fileio import atomic_write, load_state
from simlink.paths import cache_dir

STORE_ENV = "SIMLINK_STORE"
INDEX = "index.json"
CHECKPOINT = ".checkpoint.npz"


def store_dir() -> Path | None:
    """The weights store: ``$SIMLINK_STORE``, else the ``weights/`` folder of
    the checkout simlink runs from (None when there is none, e.g. an
    installed wheel)."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV])
    checkout = Path(__file__).resolve().parents[2] / "weights"
    return checkout if checkout.is_dir() else None


def fit_file(key: str) -> str:
    return f"{key}.npz"


def part_file(key: str) -> str:
    return f"parts/{key}.npz"


def fit_checkpoint_file(key: str, stage: str) -> str:
    return f"{key}.{stage}{CHECKPOINT}"


def part_checkpoint_file(key: str) -> str:
    return f"parts/{key}{CHECKPOINT}"


class WeightFolders:
    """The cache and the store as one lookup: files are read from the first
    folder that has them and written to ``home`` (the store when
    ``to_store``, else the cache).

    Parameters
    ----------
    to_store : bool
        Write trained weights and checkpoints to the store (``simlink train
        --budget``); raises :class:`CampaignError` when there is no store.
    """

    def __init__(self, *, to_store: bool = False):
        self.cache = cache_dir() / "weights"
        self.store = store_dir()
        if to_store and self.store is None:
            raise CampaignError(f"no weights store: this simlink is not run from a checkout "
                                f"with a weights/ folder; set {STORE_ENV} to a folder")
        self.home = self.store if to_store else self.cache
        self.folders = [self.cache] + ([self.store] if self.store not in (None, self.cache) else [])

    def find(self, name: str) -> Path | None:
        """The first copy of ``name`` (a path relative to the folders), or None."""
        return next((f / name for f in self.folders if (f / name).is_file()), None)

    def load(self, name: str) -> tuple[dict[str, np.ndarray] | None, str | None]:
        """``(arrays, "cache" | "store")`` of ``name`` from the first folder whose
        copy is readable, ``(None, None)`` when none is; a store copy is copied
        into the cache (where workers load weights)."""
        for folder in self.folders:
            state = load_state(folder / name)
            if state is not None:
                if folder == self.store and self.home != self.store:
                    copy(folder / name, self.cache / name)
                return state, "cache" if folder == self.cache else "store"
        return None, None

    def save(self, name: str, state: dict[str, np.ndarray]) -> Path:
        """Write ``name`` into ``home`` (compressed in the store: it is committed)."""
        path = self.home / name
        arrays = {k: np.asarray(v) for k, v in state.items()}
        writer = np.savez_compressed if self.home == self.store else np.savez
        atomic_write(path, lambda f: writer(f, **arrays), binary=True)
        return path

    def checkpoint(self, name: str) -> Path:
        """Where ``name`` (a checkpoint) is written: in ``home``, after copying
        the copy another folder has, so that training resumes from it (a
        checkpoint committed to the store continues on a fresh machine)."""
        path = self.home / name
        if not path.is_file() and (found := self.find(name)) is not None:
            copy(found, path)
        return path

    def discard_checkpoints(self, key: str) -> None:
        """Remove the checkpoints of fit ``key`` from ``home`` (its weights are kept)."""
        for path in self.home.glob(f"{key}.*{CHECKPOINT}"):
            path.unlink(missing_ok=True)


def copy(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` atomically."""
    def write(f):
        with open(src, "rb") as s:
            shutil.copyfileobj(s, f)
    atomic_write(dst, write, binary=True)


class StoreIndex:
    """The store's ``index.json``: what every file in the store is for.

    ``scenarios``: ``{name: {"complete": bool, "datasets": {env: {"dataset":
    config key, "digest": content digest}}}}``; ``fits``: ``{key: {scenario:
    "estimator @ environment"}}``; ``pending``: ``{file: [scenario, ...]}`` for
    the parts and checkpoints of training still under way.
    """

    def __init__(self, store: Path):
        self.path = store / INDEX
        data = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.scenarios: dict[str, dict] = data.get("scenarios", {})
        self.fits: dict[str, dict[str, str]] = data.get("fits", {})
        self.pending: dict[str, list[str]] = data.get("pending", {})

    def files(self) -> set[str]:
        """Every file the index accounts for (relative to the store)."""
        return {fit_file(k) for k in self.fits} | set(self.pending)

    def write(self) -> None:
        data = {"scenarios": self.scenarios, "fits": self.fits, "pending": self.pending}
        text = json.dumps(data, indent=1, sort_keys=True) + "\n"
        atomic_write(self.path, lambda f: f.write(text))


def listing(folder: Path) -> set[str]:
    """The ``.npz`` files under ``folder``, relative to it."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.npz")} if folder.is_dir() else set()
