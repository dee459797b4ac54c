"""Type-I PMI search (``TypeICodebook.beam_power``): the whole batch at once
against slices of a few samples, side by side.

For the arrays and chunks of the shipped scenarios that use the codebook
(quickstart: 32 single-polarised ports, 52 subcarriers, 500 samples per cell;
link_cdl: 32 ports, 2 UE antennas, 48 subcarriers, 1,000; lora_feedback: 4 x 4
dual-polarised ports, 1,024 subcarriers in subbands of 128, 250), times
``beam_power`` on random channels with ``SLICE_ELEMENTS`` set to the whole
batch and to each budget of ``--budgets``, alternated over ``--reps`` rounds
(medians), in one process with one BLAS thread (as campaign workers run), and
checks that every slicing gives the same array to the bit. Prints each budget's
time over the whole batch's (below 1: faster).

    .venv/bin/python benchmarks/codebook.py [--reps 5] [--budgets 16,18,19,20,22]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import simlink.feedback.typei as typei
from simlink.system import SystemCfg

CASES = {   # name: (system keys, UE antennas, subband size, samples per cell)
    "quickstart": (dict(n_subcarriers_dl=52, bs_array={"kind": "upa", "rows": 4, "cols": 8}), 1, None, 500),
    "link_cdl": (dict(n_subcarriers_dl=48, bs_array={"kind": "upa", "rows": 4, "cols": 8}), 2, None, 1000),
    "lora_feedback": (dict(n_subcarriers_dl=1024, bs_array={"kind": "upa", "rows": 4, "cols": 4,
                                                           "polarization": "dual"}), 1, 128, 250),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--budgets", default="16,18,19,20,22", help="log2 of SLICE_ELEMENTS to try")
    args = ap.parse_args()
    budgets = [1 << int(k) for k in args.budgets.split(",")]
    threadpool_limits(1, user_api="blas")
    rng = np.random.default_rng(0)
    print(f"beam_power, medians of {args.reps} alternated rounds, time over the whole batch's "
          f"(shipped SLICE_ELEMENTS = 2^{typei.SLICE_ELEMENTS.bit_length() - 1}):")
    for name, (keys, n_ue, subband, b) in CASES.items():
        system = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.6e9, n_subcarriers_ul=keys["n_subcarriers_dl"],
                           ue_array={"kind": "ula", "n": n_ue}, **keys)
        cb = typei.typei_codebook(system)
        shape = (b, cb.n_ports, n_ue, system.n_subcarriers_dl)
        H = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
        settings = [1 << 62] + budgets          # the first: one slice, the whole batch
        out, times = {}, {s: [] for s in settings}
        for _ in range(args.reps):
            for s in settings:
                typei.SLICE_ELEMENTS = s
                t0 = time.perf_counter()
                out[s] = cb.beam_power(H, subband)
                times[s].append(time.perf_counter() - t0)
        whole = float(np.median(times[settings[0]]))
        same = all(np.array_equal(out[s], out[settings[0]]) for s in budgets)
        ratios = ", ".join(f"2^{s.bit_length() - 1}: {np.median(times[s]) / whole:.2f}" for s in budgets)
        print(f"  {name} ({b} samples, {cb.n_ports} ports x {n_ue} x {system.n_subcarriers_dl}): "
              f"whole batch {whole * 1e3:.0f} ms; {ratios}; bit-identical: {same}")


if __name__ == "__main__":
    main()
