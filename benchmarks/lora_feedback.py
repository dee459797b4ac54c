"""Compressed-feedback benchmark: latency per report and parameter counts of LORA,
CsiNet+, CRNet, ISTA-Net+ (and the classical ISTA and KLT), side by side in one run, and
the peak RSS of a LORA fit on 40,000 against 4,000 training samples (prints
numbers, asserts nothing).

Latency: the paper's size (32 ports, Nc = 32 taps of 1,024 subcarriers, CR 1/64,
LORA 7 blocks x 1,024, CsiNet+ 5 RefineNet blocks, CRNet 2 CRBlocks, ISTA-Net+ 9 phases x 32
filters, ISTA 300 iterations), untrained weights (the cost does not depend on
them), the compiled UE encoder (transform, encoder, quantiser codes) and BS
decoder (dequantiser, decoder, inverse transform) on batches of ``--batch``
reports, median of ``--repeats`` timed calls after a warm-up call. The LORA
paper's Table V orders the learned decoders LORA < CsiNet+ < TiLISTA at test time.

Memory: :mod:`benchmarks.fit_memory`'s ``lora_fb`` fit in fresh processes, on
lazy (file-backed) gaussian train sets of 32 ports x 32 subcarriers
(N x 32 x 32 x 8 B per band: 31 MiB at 4,000, 313 MiB at 40,000).

    .venv/bin/python benchmarks/lora_feedback.py [--batch 200] [--repeats 5]
        [--sizes 4000 40000] [--steps 100] [--skip-memory]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from simlink.estimators import REGISTRY  # noqa: E402
from simlink.system import SystemCfg  # noqa: E402

SYSTEM = SystemCfg(fc_ul_hz=3.3e9, fc_dl_hz=3.5e9, subcarrier_spacing_hz=30e3,
                   n_subcarriers_ul=16, n_subcarriers_dl=1024,
                   bs_array={"kind": "upa", "rows": 4, "cols": 4, "polarization": "dual"})
METHODS = {
    "lora_fb": {"n_blocks": 7, "width": 1024},
    "csinet_plus": {"n_refine": 5},
    "crnet": {"n_crblocks": 2},
    "ista_net": {"n_phases": 9, "n_filters": 32},
    "ista": {"n_iter": 300},
    "klt": {},
}


def timed(fn, arg, repeats: int) -> float:
    fn(arg)                                       # compiles
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(arg).numpy()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def latency(batch: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    shape = (batch, SYSTEM.n_bs, SYSTEM.n_ue, SYSTEM.n_subcarriers_dl)
    H = tf.constant((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64))
    print(f"latency per report, {SYSTEM.n_bs} ports x Nc = 32 of {SYSTEM.n_subcarriers_dl} "
          f"subcarriers, CR 1/64, batches of {batch} (median of {repeats})")
    print(f"{'method':>12} {'encoder params':>15} {'decoder params':>15} {'UE encode ms':>13} "
          f"{'BS decode ms':>13} {'decode vs lora':>15}")
    rows = {}
    for kind, keys in METHODS.items():
        est = REGISTRY[kind](n_taps=32, cr=1 / 64, bits=4, **keys)
        est._build(SYSTEM, seed=0)
        est.scale_ = 1.0
        codes = est.report_codes_(H)
        enc_ids = {id(v) for v in est.encoder_.weights}
        n_enc = sum(int(np.prod(v.shape)) for v in est.encoder_.weights)
        n_dec = sum(int(np.prod(v.shape)) for v in est.decoder_.weights if id(v) not in enc_ids)
        enc = timed(est.report_codes_, H, repeats) / batch * 1e3
        dec = timed(est.reconstruct_, codes, repeats) / batch * 1e3
        rows[kind] = dec
        print(f"{kind:>12} {n_enc:>15,} {n_dec:>15,} {enc:>13.3f} {dec:>13.3f} "
              f"{dec / rows['lora_fb']:>14.2f}x", flush=True)


def memory(sizes: list[int], steps: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import fit_memory

    sys_cfg = fit_memory.system(32)
    paths = [str(fit_memory.ensure_dataset(fit_memory.ENV, sys_cfg, n, seed=0)) for n in sizes]
    print(f"\npeak RSS of a LORA fit ({steps} steps of 100, lazy data), MiB")
    r = [fit_memory.measure(p, "lazy", "lora_fb", 32, steps) for p in paths]
    for n, x in zip(sizes, r):
        print(f"  N = {n:>6}: peak {x['peak_mb']:7.0f} (+{x['peak_mb'] - x['baseline_mb']:6.0f} over "
              f"the imports), {x['seconds']:.0f} s")
    print(f"  ratio of peaks N = {sizes[-1]} / N = {sizes[0]}: {r[-1]['peak_mb'] / r[0]['peak_mb']:.2f} "
          f"for {sizes[-1] / sizes[0]:.0f}x the samples")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    latency(args.batch, args.repeats)
    if not args.skip_memory:
        memory(args.sizes, args.steps)


if __name__ == "__main__":
    main()
