"""Channel data-generation benchmark (prints numbers, asserts nothing).

(a) Throughput: simlink's FDD pairs per second (both bands) against raw
    Sionna ``CDL`` + ``cir_to_ofdm_channel`` under XLA for ONE band, measured
    in the same run, interleaved, on the same array (32-element 4x8 UPA x 1
    UE antenna, 52 subcarriers, blocks of 1000 draws). Target: pairs/s over
    raw draws/s >= 0.8; the per-band ratio (twice that) is printed too.
(b) Memory: peak RSS of a fresh process generating N pairs into the HDF5
    cache, for N/10 and N pairs (target < 2 GB, independent of N).

    .venv/bin/python benchmarks/datagen.py [--n 100000] [--reps 5] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from simlink.channels import CdlEnv  # noqa: E402
from simlink.system import SystemCfg  # noqa: E402

DRAWS = 1000
ENV = CdlEnv(name="cdl-c", kind="cdl", model="C", delay_spread_s=100e-9)
SYSTEM = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.62e9, subcarrier_spacing_hz=30e3,
                   n_subcarriers_ul=52, n_subcarriers_dl=52,
                   bs_array={"kind": "upa", "rows": 4, "cols": 8}, ue_array={"kind": "ula", "n": 1})


def raw_sionna_one_band():
    """Plain Sionna, one band (UL), same arrays and model: ``() -> [DRAWS, ...]`` NumPy."""
    import tensorflow as tf
    from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies
    from sionna.phy.channel.tr38901 import CDL

    from simlink.channels.arrays import panel_array

    cdl = CDL(ENV.model, ENV.delay_spread_s, SYSTEM.fc_ul_hz,
              ut_array=panel_array(SYSTEM.ue_array, SYSTEM, "ul"),
              bs_array=panel_array(SYSTEM.bs_array, SYSTEM, "ul"), direction="uplink")
    frequencies = subcarrier_frequencies(SYSTEM.n_subcarriers_ul, SYSTEM.subcarrier_spacing_hz)

    @tf.function(jit_compile=True)
    def band():
        a, tau = cdl(DRAWS, 1, 1.0)
        return cir_to_ofdm_channel(frequencies, a, tau, normalize=False)

    return lambda: band().numpy()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def throughput(reps: int) -> None:
    """Rates from wall-clock time and from process CPU time: on a shared machine
    the CPU-time ratio is the steadier of the two."""
    from simlink.channels import generate

    raw = raw_sionna_one_band()
    raw()  # compile
    generate(ENV, SYSTEM, DRAWS, seed=0)  # compile + normalisation calibration
    rates = {"raw": {"wall": [], "cpu": []}, "pairs": {"wall": [], "cpu": []}}
    for rep in range(reps):  # interleaved: both see the same machine load
        for name, call in (("raw", raw),
                           ("pairs", lambda: generate(ENV, SYSTEM, DRAWS, seed=rep + 1))):
            wall, cpu = time.perf_counter(), _cpu_seconds()
            call()
            rates[name]["wall"].append(DRAWS / (time.perf_counter() - wall))
            rates[name]["cpu"].append(DRAWS / (_cpu_seconds() - cpu))
    print(f"(a) CDL-{ENV.model}, 4x8 UPA x 1, 52 subcarriers, {DRAWS} draws per call, "
          f"median of {reps} (per wall-clock second | per CPU second):")
    med = {name: {clock: statistics.median(v) for clock, v in r.items()} for name, r in rates.items()}
    print(f"    raw Sionna CDL + cir_to_ofdm_channel (XLA), one band: "
          f"{med['raw']['wall']:8.1f} | {med['raw']['cpu']:8.1f} draws/s")
    print(f"    simlink.channels.generate, UL + DL pairs:           "
          f"{med['pairs']['wall']:8.1f} | {med['pairs']['cpu']:8.1f} pairs/s")
    for clock in ("wall", "cpu"):
        ratio = med["pairs"][clock] / med["raw"][clock]
        print(f"    {clock:>4}: pairs/s / raw draws/s = {ratio:.2f} (target >= 0.8); "
              f"per band = {2 * ratio:.2f}")


def peak_rss_child(n: int, cache_root: str) -> None:
    """Runs in a fresh process: fill the cache with ``n`` pairs, report peak RSS as JSON."""
    from simlink.channels import ensure_dataset

    t = time.perf_counter()
    path = ensure_dataset(ENV, SYSTEM, n, seed=0, cache_root=cache_root)
    print(json.dumps({"n": n, "seconds": time.perf_counter() - t,
                      "file_mb": path.stat().st_size / 2**20,
                      # Linux reports ru_maxrss in KiB
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def peak_rss(n: int) -> None:
    print(f"(b) peak RSS of a fresh process writing N pairs to the HDF5 cache (target < 2048 MB):")
    for count in (max(n // 10, 1), n):
        with tempfile.TemporaryDirectory() as root:
            out = subprocess.run([sys.executable, __file__, "--rss-child", str(count), root],
                                 check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"    N = {r['n']:>7}: peak RSS {r['peak_rss_mb']:7.0f} MB, "
              f"{r['seconds']:6.1f} s, file {r['file_mb']:7.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="pairs for the memory test (b)")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions for (a)")
    parser.add_argument("--quick", action="store_true", help="small sizes: --n 5000 --reps 2")
    parser.add_argument("--rss-child", nargs=2, metavar=("N", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        peak_rss_child(int(args.rss_child[0]), args.rss_child[1])
        return
    if args.quick:
        args.n, args.reps = 5000, 2
    throughput(args.reps)
    peak_rss(args.n)


if __name__ == "__main__":
    main()
