"""One small CDL downlink shared by the link tests (its chains compile once).

8 BS antennas and 2 UE antennas (cross-polarised, as in Sionna's CDL tutorial),
48 subcarriers, 16-QAM, rate 1/2, ZF over the two UE antennas.
"""
from dataclasses import dataclass

import numpy as np
import pytest

from simlink.system import SystemCfg
from simlink.link.chain import LinkCfg
from simlink.link.reference import cdl_downlink_channel

N_BS, N_UE, N_SC, SCS = 8, 2, 48, 30e3


@dataclass(frozen=True)
class Cdl:
    system: SystemCfg
    link: LinkCfg            # ZF, genie UE estimate (Sionna's "perfect CSI")
    h_freq: np.ndarray       # [n, 1, N_UE, 1, N_BS, 1, N_SC], Sionna's layout
    H: np.ndarray            # [n, N_BS, N_UE, N_SC], simlink's layout


@pytest.fixture(scope="session")
def cdl() -> Cdl:
    h_freq = cdl_downlink_channel(1024, num_bs_ant=N_BS, num_ut_ant=N_UE, fft_size=N_SC,
                                  subcarrier_spacing=SCS, model="C", seed=3)
    H = np.ascontiguousarray(np.transpose(h_freq[:, 0, :, 0, :, 0, :], [0, 2, 1, 3]))
    system = SystemCfg(fc_ul_hz=2.6e9, fc_dl_hz=2.6e9, subcarrier_spacing_hz=SCS,
                       n_subcarriers_ul=N_SC, n_subcarriers_dl=N_SC,
                       bs_array={"kind": "ula", "n": N_BS // 2, "polarization": "dual"},
                       ue_array={"kind": "ula", "n": N_UE // 2, "polarization": "dual"})
    link = LinkCfg(adaptation="fixed", num_bits_per_symbol=4, code_rate=0.5, precoder="zf",
                   ue_estimator="perfect", batch_size=64, max_batches=10,
                   target_block_errors=10**9)
    return Cdl(system, link, h_freq, H)
