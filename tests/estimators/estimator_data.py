"""Small real datasets (the `gaussian` environment) for estimator tests."""
import dataclasses

import numpy as np

from simlink.channels import generate
from simlink.channels import GaussianEnv
from simlink.system import SystemCfg
from simlink.channels.dataset import Dataset
from simlink.observation import Observation, observe

SYSTEM = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.62e9, n_subcarriers_ul=12, n_subcarriers_dl=12,
                   bs_array={"kind": "ula", "n": 4}, ue_array={"kind": "ula", "n": 2},
                   pilots={"comb": 4, "period_symbols": 14})
ENVS = (GaussianEnv(name="g-corr", kind="gaussian", bs_correlation=0.9),
        GaussianEnv(name="g-iid", kind="gaussian", spatial="iid", delays_s=[0.0, 1e-6],
                    powers=[0.5, 0.5]))


def make_dataset(system: SystemCfg, envs, n: int, seed: int) -> Dataset:
    parts = [generate(env, system, n, seed + k) for k, env in enumerate(envs)]
    return Dataset(H_ul=np.concatenate([p["H_ul"] for p in parts]),
                   H_dl=np.concatenate([p["H_dl"] for p in parts]),
                   env_id=np.repeat(np.arange(len(envs)), n).astype(np.int32),
                   env_names=tuple(e.name for e in envs), system=system, target=0,
                   digest=f"test-{seed}-{n}")


def make_observation(system: SystemCfg, H_ul, H_dl, env_id, snr_db: float, seed: int) -> Observation:
    """An observation with every field filled (what the runner does per `requires`)."""
    obs = observe(H_ul, H_dl, system, snr_db, REQUIREMENTS, seed, env_index=0)
    return dataclasses.replace(obs, env_id=np.asarray(env_id, np.int32))


#: every observation kind ``observe`` fills
REQUIREMENTS = ("ul_csi", "dl_pilots", "dl_partial", "feedback", "env_id", "dl_true")


