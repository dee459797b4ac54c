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

Then the wall time of whole ``simlink run`` commands (new processes, as a
user runs them) on 1 and on 2 workers, alternated, medians of ``--reps``:
the full quickstart (local and Ray), the quickstart with 4x its test
samples, and ``scenarios/link_cdl.yaml --smoke``, with the ratios (datasets
and weights are cached before any is timed; ``--skip-campaign`` leaves them
out). The worker count's speed-up is bounded by what every run does once:
importing TensorFlow, checking the caches, the plots, the exit.

    .venv/bin/python benchmarks/link.py [--quick] [--skip-chain] [--skip-campaign] [--skip-ray]
        [--skip-blas] [--campaigns quickstart,x4,link] [--reps 3]
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
    ap.add_argument("--skip-chain", action="store_true", help="no chain throughput")
    ap.add_argument("--skip-ray", action="store_true", help="no Ray campaign timing")
    ap.add_argument("--reps", type=int, default=3, help="runs per campaign and worker count")
    ap.add_argument("--campaigns", default="quickstart,x4,link",
                    help="comma-separated: quickstart, x4 (4x its test samples), link (link_cdl --smoke)")
    ap.add_argument("--skip-blas", action="store_true", help="no BLAS-thread comparison")
    args = ap.parse_args()
    if not args.skip_chain:
        chain_throughput(args)
    if not args.skip_campaign:
        if not args.skip_blas:
            blas_threads(args)
        campaign_workers(args)


def _simlink(*args: str, env: dict) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, every process it started) of one
    ``simlink`` command, as a user runs it (a new process)."""
    import resource
    import subprocess
    import sys

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    done = subprocess.run([sys.executable, "-m", "simlink.cli", *args], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"simlink {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0, cpu() - c0


def campaign_workers(args: argparse.Namespace) -> None:
    """Wall time of whole ``simlink run`` commands on 1 and 2 workers, alternated
    (medians of ``--reps``): the full quickstart, the quickstart with 4x the
    test samples (a campaign large enough for the fixed costs to fade), and
    the link_cdl smoke campaign; on the local backend and on a local Ray."""
    import os
    import tempfile
    from pathlib import Path

    import yaml

    root = Path(__file__).parents[1] / "scenarios"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "SIMLINK_CACHE": str(tmp / "cache")}
        big = yaml.safe_load((root / "quickstart.yaml").read_text())
        big["name"], big["sweep"]["n_test"] = "quickstart-x4", 4 * big["sweep"]["n_test"]
        (tmp / "quickstart-x4.yaml").write_text(yaml.safe_dump(big))
        cases = [("quickstart", str(root / "quickstart.yaml"), [], ["local", "ray"]),
                 ("quickstart, 4x test samples", str(tmp / "quickstart-x4.yaml"), [], ["local"]),
                 ("link_cdl --smoke", str(root / "link_cdl.yaml"), ["--smoke"], ["local"])]
        cases = [c for c, key in zip(cases, ("quickstart", "x4", "link")) if key in args.campaigns]
        print(f"campaigns on {len(os.sched_getaffinity(0))} cores, medians of {args.reps} "
              "alternated runs of `simlink run` (datasets and weights cached first):")
        for name, path, extra, backends in cases:
            _simlink("train", path, *extra, "--quiet", env=env)     # fill the caches
            for backend in backends if not args.skip_ray else ["local"]:
                wall: dict[int, list[float]] = {1: [], 2: []}
                cpu: dict[int, list[float]] = {1: [], 2: []}
                for rep in range(args.reps):
                    for workers in (1, 2):
                        out = str(tmp / f"{Path(path).stem}-{backend}-{rep}-{workers}")
                        w, c = _simlink("run", path, *extra, "--quiet", "--backend", backend,
                                        "--workers", str(workers), "--out", out, env=env)
                        wall[workers].append(w)
                        cpu[workers].append(c)
                w1, w2 = (float(np.median(wall[w])) for w in (1, 2))
                c1, c2 = (float(np.median(cpu[w])) for w in (1, 2))
                # Each pair ran back to back: the spread of its ratios is the machine's noise.
                pairs = np.array(wall[1]) / np.array(wall[2])
                print(f"  {name} [{backend}]: 1 worker {w1:.1f} s, 2 workers {w2:.1f} s, "
                      f"speed-up {w1 / w2:.2f}x (target >= 1.6; pairs {pairs.min():.2f}-"
                      f"{pairs.max():.2f}x)"
                      # Ray's daemons are not this command's children: their CPU is not counted
                      + (f"; CPU {c1:.1f} s vs {c2:.1f} s" if backend == "local" else ""))


def blas_threads(args: argparse.Namespace) -> None:
    """The full quickstart on one worker, in this process, with OpenBLAS at its
    default thread count and at ``BLAS_THREADS`` (what every campaign process
    uses), alternated: the evidence for that constant."""
    import os
    import tempfile
    from pathlib import Path

    import simlink
    from simlink.campaign import executors, train
    from simlink.campaign.worker import BLAS_THREADS

    scenario = simlink.load_scenario(Path(__file__).parents[1] / "scenarios" / "quickstart.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SIMLINK_CACHE"] = str(Path(tmp) / "cache")
        train(scenario, quiet=True)
        wall: dict[str, list[float]] = {"default": [], str(BLAS_THREADS): []}
        for rep in range(args.reps):
            for label, limit in (("default", None), (str(BLAS_THREADS), BLAS_THREADS)):
                executors.BLAS_THREADS = limit       # None: no limit
                t0 = time.perf_counter()
                simlink.run(scenario, out=Path(tmp) / f"{label}-{rep}", quiet=True, workers=1)
                wall[label].append(time.perf_counter() - t0)
        executors.BLAS_THREADS = BLAS_THREADS
    d, one = (float(np.median(v)) for v in wall.values())
    print(f"quickstart in-process, 1 worker: OpenBLAS default threads {d:.1f} s, "
          f"{BLAS_THREADS} thread {one:.1f} s (ratio {d / one:.2f})")


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
