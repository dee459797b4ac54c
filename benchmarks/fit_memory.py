"""Fit memory benchmark: peak RSS of a fit against the number of training samples
(prints numbers, asserts nothing).

Train sets of N samples (default 2k, 8k, 32k) of a ``gaussian`` environment,
32 BS ports x 1 UE antenna x ``--n-sc`` subcarriers per band, are generated
into the dataset cache (``$SIMLINK_CACHE``) once; later runs reuse them. One
band holds N x 32 x n_sc x 8 bytes: at n_sc = 64 that is 16 KiB a sample,
500 MiB for N = 32,000, and the cache files (both bands) take 64 + 250 + 1000 MiB.

Every (data path, fit, N) runs in a fresh process that imports what it needs,
resets its peak RSS to the current RSS (the baseline: Linux
``/proc/self/clear_refs``), opens the data, fits, and reports its peak RSS
(``VmHWM``) and the fit's increment, peak - baseline. Data paths:

- ``lazy``: :meth:`Dataset.from_files`, what ``training_dataset`` returns;
- ``memory``: the old path: both bands loaded and concatenated, :meth:`Dataset.from_arrays`.

Fits (``FITS``): ``cov``, the streamed sample covariance LMMSE accumulates over
``chunks()``; ``batches``, ``--steps`` shuffled batches of ``batches()`` (the
training loop); ``lmmse``, ``LMMSE(domain="frequency").fit``, which accumulates its sample
covariance over ``chunks()``; ``lora_fb``, a LORA fit of ``--steps`` steps with its
validation passes (``benchmarks/lora_feedback.py`` runs it at 4,000 and 40,000 samples).

    .venv/bin/python benchmarks/fit_memory.py [--sizes 2000 8000 32000] [--n-sc 64]
        [--steps 200] [--fits cov batches lmmse] [--paths lazy memory]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from simlink.channels import GaussianEnv, ensure_dataset, load_dataset  # noqa: E402
from simlink.channels.dataset import Dataset  # noqa: E402
from simlink.system import SystemCfg  # noqa: E402

ENV = GaussianEnv(name="bench-gauss", kind="gaussian")
BATCH = 256
DEFAULT_FITS = ("cov", "batches", "lmmse")


def system(n_sc: int) -> SystemCfg:
    return SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.6e9, subcarrier_spacing_hz=30e3,
                     n_subcarriers_ul=n_sc, n_subcarriers_dl=n_sc,
                     bs_array={"kind": "ula", "n": 32}, ue_array={"kind": "ula", "n": 1})


def fit_cov(train: Dataset, steps: int) -> np.ndarray:
    """Frequency covariance ``sum h h^H / count`` [n_sc, n_sc] over ``chunks()``, ports pooled."""
    R, count = 0.0, 0
    for chunk in train.chunks("H_dl"):
        h = chunk["H_dl"].reshape(-1, train.system.n_subcarriers_dl).astype(np.complex128)
        R = R + h.T @ h.conj()
        count += len(h)
    return R / count


def fit_batches(train: Dataset, steps: int) -> list[float]:
    """``steps`` shuffled batches, each one used (its mean power)."""
    return [float(np.mean(np.abs(b["H_dl"]) ** 2))
            for b in train.batches(BATCH, np.random.default_rng(0), "H_dl", steps=steps)]


def fit_lmmse(train: Dataset, steps: int) -> object:
    from simlink.estimators.lmmse import LMMSE

    return LMMSE(domain="frequency").fit(train, rng=np.random.default_rng(0))


def fit_lora(train: Dataset, steps: int) -> object:
    """LORA (4 blocks x 256) on every tap for ``steps`` steps of 100, validation included."""
    from simlink.estimators.compressed.lora import Lora

    return Lora(cr=1 / 16, n_blocks=4, width=256, train_steps=steps, batch_size=100,
                eval_every=max(1, steps // 2)).fit(train, rng=np.random.default_rng(0))


def _import_lmmse() -> None:
    import simlink.estimators.lmmse  # noqa: F401


def _import_lora() -> None:
    import simlink.estimators.compressed.lora  # noqa: F401


#: name -> (imports to make before the baseline, the fit)
FITS: dict[str, tuple[Callable[[], None], Callable[[Dataset, int], object]]] = {
    "cov": (lambda: None, fit_cov),
    "batches": (lambda: None, fit_batches),
    "lmmse": (_import_lmmse, fit_lmmse),
    "lora_fb": (_import_lora, fit_lora),
}


def open_train(path: str, data: str, sys_cfg: SystemCfg) -> Dataset:
    """The train set at ``path`` on data path ``data`` (``lazy`` or ``memory``)."""
    if data == "lazy":
        return Dataset.from_files([path], (ENV.name,), sys_cfg)
    d = load_dataset(path)
    return Dataset.from_arrays(d["H_ul"], d["H_dl"], np.zeros(len(d["H_dl"]), np.int32),
                               (ENV.name,), sys_cfg)


def _status_mb(field: str) -> float:
    """``VmRSS`` (current) or ``VmHWM`` (peak) of this process, in MiB."""
    with open("/proc/self/status") as f:
        kib = next(line.split()[1] for line in f if line.startswith(field + ":"))
    return int(kib) / 1024


def child(path: str, data: str, fit: str, n_sc: int, steps: int) -> None:
    """Runs in a fresh process: one fit, its RSS as JSON on the last line of stdout."""
    prepare, run = FITS[fit]
    prepare()
    # the imports' transient peak would hide a small fit: start the peak afresh
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    baseline = _status_mb("VmRSS")
    t = time.perf_counter()
    run(open_train(path, data, system(n_sc)), steps)
    print(json.dumps({"seconds": time.perf_counter() - t, "baseline_mb": baseline,
                      "peak_mb": _status_mb("VmHWM")}))


def measure(path: str, data: str, fit: str, n_sc: int, steps: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", path, data, fit,
                          "--n-sc", str(n_sc), "--steps", str(steps)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000, 32000])
    parser.add_argument("--n-sc", type=int, default=64, help="subcarriers per band")
    parser.add_argument("--steps", type=int, default=200, help=f"batches of {BATCH} for the batches fit")
    parser.add_argument("--fits", nargs="+", default=list(DEFAULT_FITS), choices=sorted(FITS))
    parser.add_argument("--paths", nargs="+", default=["lazy", "memory"], choices=["lazy", "memory"])
    parser.add_argument("--child", nargs=3, metavar=("PATH", "DATA", "FIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.n_sc, args.steps)
        return
    sys_cfg = system(args.n_sc)
    band_mb = {n: n * sys_cfg.n_bs * sys_cfg.n_ue * args.n_sc * 8 / 2**20 for n in args.sizes}
    paths = {}
    for n in args.sizes:
        t = time.perf_counter()
        paths[n] = str(ensure_dataset(ENV, sys_cfg, n, seed=0))
        print(f"train set N = {n:>6}: {band_mb[n]:7.0f} MiB per band, file "
              f"{os.path.getsize(paths[n]) / 2**20:7.0f} MiB ({time.perf_counter() - t:.1f} s to "
              f"generate or find) {paths[n]}")
    print(f"peak RSS of a fresh process per fit, MiB (+ increment over the RSS after imports); "
          f"{sys_cfg.n_bs} ports x {sys_cfg.n_ue} UE x {args.n_sc} subcarriers, batches: "
          f"{args.steps} x {BATCH}")
    print(f"{'fit':>8} {'data':>7} " + " ".join(f"{'N=' + str(n):>17}" for n in args.sizes)
          + f" {'ratio largest/smallest':>24}")
    for fit in args.fits:
        for data in args.paths:
            r = [measure(paths[n], data, fit, args.n_sc, args.steps) for n in args.sizes]
            inc = [x["peak_mb"] - x["baseline_mb"] for x in r]
            cells = " ".join(f"{x['peak_mb']:7.0f} (+{d:6.0f})" for x, d in zip(r, inc))
            print(f"{fit:>8} {data:>7} {cells}   peak {r[-1]['peak_mb'] / r[0]['peak_mb']:5.2f}, "
                  f"increment {inc[-1] / max(inc[0], 1.0):6.2f}")
    print(f"(largest/smallest N = {args.sizes[-1] / args.sizes[0]:.0f}x the samples)")


if __name__ == "__main__":
    main()
