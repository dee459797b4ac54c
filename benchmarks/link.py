"""Throughput of simlink's coded downlink chain against the bare Sionna chain.

Both chains run in this process on the same static CDL channels with the
same sizes: ``simlink.link.chain.simulate_link`` (MRT from the true channel,
LS estimate of the precoded DMRS at the UE, LMMSE equaliser, LDPC) and
Sionna's documented downlink (``simlink.link.reference.SionnaDownlink``:
ZF, which is MRT for one UE antenna, and the same LS estimator). Each chain
is compiled and warmed up first; then the two alternate batch by batch, so
that load from other jobs on shared cores hits both alike. Printed: coded
bits per second of each chain over all timed batches and their ratio
simlink / Sionna (target >= 0.9), by the wall clock and by this process's
CPU time (the steadier figure when other jobs share the cores).

Then the wall time of one small link-level campaign (``scenarios/link_cdl.yaml``
at its --smoke size) on 1 and on 2 local worker processes, and their ratio
(datasets and weights are cached before either is timed; ``--skip-campaign``
leaves it out).

    .venv/bin/python benchmarks/link.py [--quick] [--skip-campaign]
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
import tensorflow as tf

from simlink.system import SystemCfg
from simlink.link.chain import LinkCfg, link_chain, simulate_link
from simlink.link.reference import SionnaDownlink, cdl_downlink_channel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few batches (smoke run)")
    ap.add_argument("--n-bs", type=int, default=32, help="BS antennas (even: dual-polarised)")
    ap.add_argument("--n-sc", type=int, default=52, help="DL subcarriers")
    ap.add_argument("--batch-size", type=int, default=64, help="slots per compiled call")
    ap.add_argument("--batches", type=int, default=None, help="timed batches per chain")
    ap.add_argument("--snr-db", type=float, default=0.0)
    ap.add_argument("--skip-campaign", action="store_true", help="no 1-vs-2-worker campaign timing")
    args = ap.parse_args()
    chain_throughput(args)
    if not args.skip_campaign:
        campaign_workers()


def campaign_workers() -> None:
    """Wall time of the link_cdl smoke campaign on 1 versus 2 local workers."""
    import tempfile
    from pathlib import Path

    import simlink
    from simlink.campaign import train
    scenario = simlink.load_scenario(Path(__file__).parents[1] / "scenarios" / "link_cdl.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        train(scenario, smoke=True, quiet=True)   # fill the caches first
        wall = {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            simlink.run(scenario, out=Path(tmp) / f"w{workers}", smoke=True, quiet=True,
                        workers=workers)
            wall[workers] = time.perf_counter() - t0
    print(f"campaign link_cdl --smoke: 1 worker {wall[1]:.1f} s, 2 workers {wall[2]:.1f} s, "
          f"speed-up {wall[1] / wall[2]:.2f}x on {len(__import__('os').sched_getaffinity(0))} cores")


def chain_throughput(args: argparse.Namespace) -> None:
    """Coded bits/s of simlink's chain and of the bare Sionna chain, alternating batches."""
    batches = args.batches or (6 if args.quick else 50)
    bs = args.batch_size

    scs, bits_per_symbol, code_rate = 30e3, 4, 0.5
    system = SystemCfg(fc_ul_hz=2.6e9, fc_dl_hz=2.6e9, subcarrier_spacing_hz=scs,
                       n_subcarriers_ul=args.n_sc, n_subcarriers_dl=args.n_sc,
                       bs_array={"kind": "ula", "n": args.n_bs // 2, "polarization": "dual"})
    # One batch per simulate_link call, so the two chains can alternate.
    link = LinkCfg(adaptation="fixed", num_bits_per_symbol=bits_per_symbol, code_rate=code_rate, precoder="mrt",
                   ue_estimator="ls", batch_size=bs, max_batches=1)
    reference = SionnaDownlink(num_streams=1, fft_size=args.n_sc, subcarrier_spacing=scs,
                               num_ofdm_symbols=link.num_ofdm_symbols,
                               pilot_ofdm_symbol_indices=list(link.dmrs_symbols),
                               num_bits_per_symbol=bits_per_symbol, coderate=code_rate,
                               perfect_csi=False, ls_interpolation="lin_time_avg")
    chain = link_chain(link, system)
    assert chain.coded_bits_per_slot == reference.n, "chains must carry the same code blocks"

    n_channels = bs * min(batches, 10)     # distinct channel batches, reused cyclically
    h_freq = cdl_downlink_channel(n_channels, num_bs_ant=args.n_bs, num_ut_ant=1,
                                  fft_size=args.n_sc, subcarrier_spacing=scs, seed=1)
    H = np.ascontiguousarray(np.transpose(h_freq[:, 0, :, 0, :, 0, :], [0, 2, 1, 3]))
    no = tf.constant(10.0 ** (-args.snr_db / 10.0), tf.float32)

    def run_simlink(i: int) -> None:
        j = (i * bs) % n_channels
        simulate_link(H[j:j + bs], H[j:j + bs], link, system, args.snr_db, seed=i)

    def run_sionna(i: int) -> None:
        j = (i * bs) % n_channels
        b, b_hat = reference(tf.constant(h_freq[j:j + bs]), no)
        int(tf.reduce_sum(tf.cast(tf.reduce_any(b != b_hat, -1), tf.int32)))  # block errors

    def timed(run: Callable[[int], None], i: int) -> np.ndarray:
        """[wall, CPU] seconds of one batch."""
        wall, cpu = time.perf_counter(), time.process_time()
        run(i)
        return np.array([time.perf_counter() - wall, time.process_time() - cpu])

    first = [timed(run_simlink, 0)[0], timed(run_sionna, 0)[0]]
    print(f"setup: n_bs={args.n_bs} n_ue=1 n_sc={args.n_sc} 16-QAM r={code_rate}, "
          f"{batches} alternating batches of {bs} slots per chain, "
          f"simlink XLA={chain.jit_compile}")
    print(f"first call (trace + compile + run): simlink {first[0]:.1f} s, "
          f"sionna {first[1]:.1f} s")

    t_sim, t_ref = np.zeros(2), np.zeros(2)
    for i in range(1, batches + 1):
        t_sim += timed(run_simlink, i)
        t_ref += timed(run_sionna, i)
    coded_bits = batches * bs * chain.coded_bits_per_slot
    for c, clock in enumerate(("wall", "CPU")):
        print(f"[{clock:4s}] simlink {coded_bits / t_sim[c] / 1e6:7.3f} Mbit/s, "
              f"sionna {coded_bits / t_ref[c] / 1e6:7.3f} Mbit/s coded; "
              f"ratio simlink/sionna {t_ref[c] / t_sim[c]:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
