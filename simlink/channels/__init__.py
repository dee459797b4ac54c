"""Environment sources -> FDD CSI pairs, and the HDF5 dataset cache.

Every environment kind (``cdl``, ``tdl``, ``umi``/``uma``/``rma``,
``gaussian``, ``file``) yields pairs ``H_ul [n, n_bs, n_ue, n_sc_ul]``,
``H_dl [n, n_bs, n_ue, n_sc_dl]`` (complex64, [BS port, UE port] in both
directions) that share one set of propagation paths, each band evaluated at
its own frequencies and wavelength, normalised to ``E|h|^2 = 1`` per entry by
one factor for both bands (docs/methods.md, "Conventions").
"""
from __future__ import annotations

import numpy as np

from simlink.channels.cache import dataset_digest, ensure_dataset, load_dataset
from simlink.channels.errors import ChannelError
from simlink.channels.cdl import CdlEnv
from simlink.channels.dataset import Dataset
from simlink.channels.file import FileEnv
from simlink.channels.gaussian import GaussianEnv
from simlink.channels.system_level import RmaEnv, UmaEnv, UmiEnv
from simlink.channels.tdl import TdlEnv
from simlink.channels.sampling import generate, power_delay_profile, source_class
from simlink.channels.source import ENVIRONMENTS, EnvBase, environment
from simlink.system import SystemCfg


def gaussian_covariances(env_cfg: GaussianEnv, system_cfg: SystemCfg, *,
                         full: bool = True) -> dict[str, np.ndarray]:
    """Exact covariances of a ``gaussian`` environment's ``vec(H)`` (C order over
    ``[n_bs, n_ue, n_sc]``): ``R_ul``, ``R_dl`` and ``R_cross = E[h_ul h_dl^H]``,
    plus their Kronecker factors (see :func:`simlink.channels.gaussian.covariances`).
    """
    if getattr(env_cfg, "kind", None) != "gaussian":
        raise ChannelError(f"gaussian_covariances: environment kind "
                           f"{getattr(env_cfg, 'kind', None)!r} is not 'gaussian'")
    from simlink.channels.gaussian import covariances

    return covariances(env_cfg, system_cfg, full=full)


def check_environment(env_cfg, system_cfg: SystemCfg) -> list[str]:
    """Problems of an environment that only its data can show (e.g. a ``file``
    environment's unreadable file, missing dataset or wrong shape), one line
    each; ``[]`` if it is usable."""
    return source_class(env_cfg).check(env_cfg, system_cfg)


__all__ = ["ChannelError", "generate", "ensure_dataset", "load_dataset", "dataset_digest",
           "gaussian_covariances", "power_delay_profile", "check_environment", "ENVIRONMENTS", "EnvBase", "environment", "Dataset",
           "CdlEnv", "TdlEnv", "UmiEnv", "UmaEnv", "RmaEnv", "GaussianEnv", "FileEnv"]
