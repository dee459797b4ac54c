"""simlink's coded chain against the BLER tables that Sionna's link adaptation reads.

Sionna's ``PHYAbstraction`` predicts the transport BLER of an MCS at an
effective SINR from pre-computed tables; ILLA picks the MCS from them. This
script sends each MCS of 38.214 PDSCH table 1 given by ``--mcs`` through
simlink's chain (``simlink.link.chain``, genie UE estimate) on a flat
single-antenna channel, where the SINR is the SNR and no EESM is involved,
and prints, per MCS, the SNR at which each reaches BLER 0.1 (linear
interpolation in dB between the 0.5 dB grid points) and the gap chain - table.
A positive gap is what the outer loop (OLLA) has to absorb on top of the CSI
error: ILLA alone then overshoots its BLER target.

    .venv/bin/python benchmarks/link_adaptation.py [--mcs 5 15 24] [--slots 256]
"""
from __future__ import annotations

import argparse

import numpy as np
import tensorflow as tf

from simlink.link.adaptation import PDSCH, _phy_abstraction
from simlink.link.chain import link_metrics, mcs_modulation, simulate_link
from simlink.link.config import LinkCfg
from simlink.system import SystemCfg

N_SC, N_DATA_SYMBOLS = 48, 12


def crossing(snrs: np.ndarray, bler: np.ndarray, target: float = 0.1) -> float:
    """SNR [dB] where a falling BLER curve crosses ``target`` (NaN if it does not)."""
    below = np.nonzero(bler <= target)[0]
    if len(below) == 0 or below[0] == 0:
        return float("nan")
    i = below[0]
    lo, hi = np.log10(max(bler[i - 1], 1e-6)), np.log10(max(bler[i], 1e-6))
    return float(snrs[i - 1] + (snrs[i] - snrs[i - 1]) * (np.log10(target) - lo) / (hi - lo))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mcs", type=int, nargs="+", default=[5, 15, 24])
    p.add_argument("--slots", type=int, default=256, help="slots per SNR point of the chain")
    args = p.parse_args()
    system = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.5e9, n_subcarriers_ul=N_SC, n_subcarriers_dl=N_SC,
                       bs_array={"kind": "ula", "n": 1}, ue_array={"kind": "ula", "n": 1})
    H = np.ones((64, 1, 1, N_SC), np.complex64)
    phy = _phy_abstraction()
    print(f"{'MCS':>4} {'QAM':>5} {'rate':>6} {'table 0.1 [dB]':>15} {'chain 0.1 [dB]':>15} {'gap [dB]':>9}")
    for mcs in args.mcs:
        m, r = mcs_modulation(1, mcs)
        snrs = np.arange(-8.0, 26.0, 0.5)
        table = np.array([float(phy(tf.constant([mcs]), sinr_eff=tf.constant([10 ** (s / 10)], tf.float32),
                                    num_allocated_re=tf.constant([N_DATA_SYMBOLS * N_SC]),
                                    mcs_table_index=1, mcs_category=PDSCH)[3][0]) for s in snrs])
        window = snrs[(table < 0.999) & (table > 1e-3)]
        grid = np.arange(window.min() - 0.5, window.max() + 2.5, 0.5)
        link = LinkCfg(adaptation="fixed", num_bits_per_symbol=m, code_rate=r, ue_estimator="perfect",
                       batch_size=64, max_batches=max(1, args.slots // 64), target_block_errors=10**9)
        chain = np.array([link_metrics(simulate_link(H, H, link, system, float(s), 1))["bler"] for s in grid])
        t, c = crossing(snrs, table), crossing(grid, chain)
        print(f"{mcs:>4} {2 ** m:>5} {r:>6.3f} {t:>15.2f} {c:>15.2f} {c - t:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
