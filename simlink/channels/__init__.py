"""Environment sources -> FDD CSI pairs, and the HDF5 dataset cache.

Every environment kind (``cdl``, ``tdl``, ``umi``/``uma``/``rma``,
``gaussian``, ``file``) yields pairs ``H_ul [n, n_bs, n_ue, n_sc_ul]``,
``H_dl [n, n_bs, n_ue, n_sc_dl]`` (complex64, [BS port, UE port] in both
directions) that share one set of propagation paths, each band evaluated at
its own frequencies and wavelength, normalised to ``E|h|^2 = 1`` per entry by
one factor for both bands (DESIGN.md, "Data conventions").
"""
from __future__ import annotations

import numpy as np

from simlink.channels.cache import dataset_digest, ensure_dataset, load_dataset
from simlink.channels.errors import ChannelError
from simlink.channels.sampling import generate, power_delay_profile
from simlink.config import FileEnv, GaussianEnv, SystemCfg


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


def check_file_env(env_cfg: FileEnv, system_cfg: SystemCfg) -> list[str]:
    """Problems of a ``file`` environment (unreadable or corrupt file, missing
    dataset, wrong rank or shape, too few subcarriers), one line each naming
    the file; ``[]`` if the file is usable."""
    if getattr(env_cfg, "kind", None) != "file":
        raise ChannelError(f"check_file_env: environment kind "
                           f"{getattr(env_cfg, 'kind', None)!r} is not 'file'")
    from simlink.channels.file import check

    return check(env_cfg, system_cfg)


__all__ = ["ChannelError", "generate", "ensure_dataset", "load_dataset", "dataset_digest",
           "gaussian_covariances", "power_delay_profile", "check_file_env"]
