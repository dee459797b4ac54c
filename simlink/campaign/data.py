"""Per-environment train/test datasets of a campaign.

Dataset seeds derive from (scenario seed, environment name, split), so a
split is the same whatever else the scenario holds; the channel cache makes
a second request for the same split free.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simlink.campaign.cells import derive_seed
from simlink.config import Scenario
from simlink.hashing import stable_hash

if TYPE_CHECKING:
    from simlink.channels.dataset import Dataset


@dataclass(frozen=True)
class Split:
    """One cached dataset file: its path, content digest, seed and size."""
    path: str
    digest: str
    seed: int
    n: int


def split_seed(scenario: Scenario, env_name: str, split: str) -> int:
    # Sionna and TensorFlow seeds must fit in 32 bits.
    return derive_seed("dataset", scenario.seed, env_name, split) % (2 ** 31 - 1)


def ensure_splits(scenario: Scenario, *, train: bool, quiet: bool = True) -> dict[str, dict[str, Split]]:
    """Make sure every environment's test split (and train split when
    ``train``) is in the dataset cache. Returns ``{env: {"test": Split,
    "train": Split}}`` (no ``"train"`` key when not requested)."""
    from simlink.channels import dataset_digest, ensure_dataset

    sizes = {"test": scenario.sweep.n_test}
    if train:
        sizes["train"] = scenario.sweep.n_train
    out: dict[str, dict[str, Split]] = {}
    for env in scenario.environments:
        out[env.name] = {}
        for split, n in sizes.items():
            if split == "train" and env.n_train is not None:
                n = env.n_train
            seed = split_seed(scenario, env.name, split)
            if not quiet:
                print(f"dataset {env.name}/{split}: {n} samples", file=sys.stderr)
            path = ensure_dataset(env, scenario.system, n, seed, progress=not quiet)
            out[env.name][split] = Split(str(path), dataset_digest(path), seed, n)
    return out


def pooled_digest(scenario: Scenario, splits: dict[str, dict[str, Split]]) -> str:
    """Digest of all environments' train splits together."""
    return stable_hash([splits[e.name]["train"].digest for e in scenario.environments])


def training_dataset(scenario: Scenario, splits: dict[str, dict[str, Split]]) -> "Dataset":
    """All environments' train splits pooled into one file-backed
    :class:`~simlink.channels.dataset.Dataset` (``target=None``, digest
    :func:`pooled_digest`); ``env_id`` indexes ``scenario.environments``.
    Nothing is read until the estimator asks for data."""
    from simlink.channels.dataset import Dataset

    return Dataset.from_files([splits[e.name]["train"].path for e in scenario.environments],
                              tuple(e.name for e in scenario.environments), scenario.system,
                              digest=pooled_digest(scenario, splits))
