"""Small flat-model problems for the DM-VB tests (8 BS x 4 UE antennas, one subcarrier)."""
import dataclasses

import numpy as np

from simlink.channels import gaussian_covariances, generate
from simlink.channels import GaussianEnv
from simlink.system import SystemCfg
from simlink.channels.dataset import Dataset
from simlink.observation import Observation, observe
from simlink.observation.grid import dense_pilot_grid

N_BS, N_UE = 8, 4
SYSTEM = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.5e9, n_subcarriers_ul=1, n_subcarriers_dl=1,
                   bs_array={"kind": "ula", "n": N_BS}, ue_array={"kind": "ula", "n": N_UE},
                   pilots={"comb": 1, "period_symbols": 14})
# one tap: the single subcarrier's image is CN(0, R_bs (x) R_ue) exactly
CORRELATED = GaussianEnv(name="g-corr", kind="gaussian", bs_correlation=0.9, ue_correlation=0.5,
                         delays_s=[0.0], powers=[1.0])
#: narrow angular spread around 60 degrees: a clearly different angular profile
RING60 = GaussianEnv(name="g-ring60", kind="gaussian", spatial="one_ring", angle_spread_deg=8.0,
                          mean_angle_deg=60.0, delays_s=[0.0], powers=[1.0])


def image_covariance(env: GaussianEnv) -> np.ndarray:
    """Covariance [Nr*Nt, Nr*Nt] of ``vec(H_img)`` (column-major ``[Nr, Nt]`` = C-order ``[n_bs, n_ue]``)."""
    f = gaussian_covariances(env, SYSTEM, full=False)
    return np.kron(f["R_bs"], f["R_ue"])


def dataset(envs, n: int, seed: int) -> Dataset:
    H = [generate(env, SYSTEM, n, seed + k)["H_dl"] for k, env in enumerate(envs)]
    H = np.concatenate(H)
    return Dataset(H_ul=H, H_dl=H, env_id=np.repeat(np.arange(len(envs)), n).astype(np.int32),
                   env_names=tuple(e.name for e in envs), system=SYSTEM, digest=f"dmvb-{seed}")


def flat_observation(H: np.ndarray, n_pilots: int, snr_db: float, seed: int,
                     env_id: np.ndarray | None = None) -> Observation:
    """Flat-model observation ``Y = H X + N`` with a dense QPSK grid of ``n_pilots`` symbols."""
    grid = dense_pilot_grid(N_BS, n_pilots, H.shape[3])
    obs = observe(H, H, SYSTEM, snr_db, ("dl_pilots",), seed, pilot_grid=grid)
    return obs if env_id is None else dataclasses.replace(obs, env_id=np.asarray(env_id, np.int32))


def flat_lmmse(R: np.ndarray, X: np.ndarray, noise_var: float) -> tuple[np.ndarray, float]:
    """Closed-form LMMSE for ``y = A h + n``, ``A = X^T (x) I_Nr``: ``(W, nmse)``."""
    A = np.kron(X.T, np.eye(N_UE))
    W = R @ A.conj().T @ np.linalg.inv(A @ R @ A.conj().T + noise_var * np.eye(len(A)))
    return W, float(np.real(np.trace(R - W @ A @ R) / np.trace(R)))


def nmse(H_hat: np.ndarray, H: np.ndarray) -> float:
    return float(np.sum(np.abs(H_hat - H) ** 2) / np.sum(np.abs(H) ** 2))


def db(x: float) -> float:
    return float(10 * np.log10(x))
