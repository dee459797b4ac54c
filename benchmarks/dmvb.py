"""DM-VB benchmark: latency per VB iteration against the standard DM, iterations to
convergence, training time per expert, and accuracy on Gaussian environments.

K ``gaussian`` environments with clearly different spatial correlation (so the
closed-form LMMSE of each is known) on the flat pilot model ``Y = H X + N``
(ULA ``n_bs`` x ``n_ue``, one subcarrier, pilot density ``alpha = Np / n_bs``).
Reports, per environment, the NMSE of RLS, LASSO, the standard DM, DM-VB and the
genie DM next to the closed-form LMMSE, how often DM-VB's ``phi`` picks the
right expert, and the latency of one DM-VB outer iteration divided by that of
one standard-DM estimate, timed side by side (interleaved, medians). Then the
Gaussian calibration (law 7): the genie DM's gap to the closed-form LMMSE from
both sampler starts, split into the method's part (the same sampler with the
exact Gaussian prior score, :func:`simlink.nn.gaussian_eps`) and training's.

    .venv/bin/python benchmarks/dmvb.py --quick      # 16 x 4 antennas, ~10 minutes on 2 cores
    .venv/bin/python benchmarks/dmvb.py              # paper size 64 x 16 (slow on CPU)
    .venv/bin/python benchmarks/dmvb.py --latency    # latency only, untrained networks (a minute)
    .venv/bin/python benchmarks/dmvb.py --quick --patience 6 --train-steps 20000 --n-test 512
                                                     # trained to a plateau: the Gaussian calibration

``--latency`` times, without training (latency does not depend on the weights),
the h-step (one posterior-sampling call) of DM-VB's K experts in both forms
of :func:`simlink.nn.denoiser.denoise` (one grouped convolution per layer,
or each expert's network on its own in the same compiled call) against the
standard DM's, and a whole DM-VB outer iteration (h-step + z-step, the
default form) against one standard-DM estimate.

Experts train into a fresh temporary cache (``SIMLINK_CACHE``), so the
training times are measured in this run, never read from an earlier one.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from simlink.channels import gaussian_covariances, generate
from simlink.channels import GaussianEnv
from simlink.system import SystemCfg
from simlink.channels.dataset import Dataset
from simlink.observation import observe
from simlink.observation.grid import dense_pilot_grid
from simlink.estimators.dmvb.dmvb import Dmvb
from simlink.estimators.dmvb.genie_dm import GenieDm
from simlink.estimators.dmvb.standard_dm import StandardDm
from simlink.estimators.lasso import Lasso
from simlink.estimators.rls import RLS

ENVS = (
    GaussianEnv(name="exp0.9", kind="gaussian", bs_correlation=0.9, ue_correlation=0.5,
                delays_s=[0.0], powers=[1.0]),
    GaussianEnv(name="ring+60", kind="gaussian", spatial="one_ring", mean_angle_deg=60.0,
                angle_spread_deg=8.0, delays_s=[0.0], powers=[1.0]),
    GaussianEnv(name="ring-30", kind="gaussian", spatial="one_ring", mean_angle_deg=-30.0,
                angle_spread_deg=15.0, delays_s=[0.0], powers=[1.0]),
    GaussianEnv(name="iid", kind="gaussian", spatial="iid", delays_s=[0.0], powers=[1.0]),
)


def closed_form_nmse(env: GaussianEnv, system: SystemCfg, X: np.ndarray, noise_var: float) -> float:
    """LMMSE NMSE ``tr(R - W A R) / tr(R)`` for ``y = (X^T kron I) vec(H_img) + n``."""
    f = gaussian_covariances(env, system, full=False)
    R = np.kron(f["R_bs"], f["R_ue"])
    A = np.kron(X.T, np.eye(system.n_ue))
    W = R @ A.conj().T @ np.linalg.inv(A @ R @ A.conj().T + noise_var * np.eye(len(A)))
    return float(np.real(np.trace(R - W @ A @ R) / np.trace(R)))


def db(x: float) -> float:
    return float(10 * np.log10(x))


def ideal_estimate(genie: GenieDm, env: GaussianEnv, system: SystemCfg, obs) -> np.ndarray:
    """What ``genie`` returns with the exact prior score of ``env``
    (:func:`simlink.nn.gaussian_eps`) in place of its trained expert: the same
    start, likelihood approximation, ``zeta`` and schedule, so that its gap to
    the closed-form LMMSE is the method's own and the rest is training's.
    Output: ``H`` like ``obs``'s channel, complex64."""
    import tensorflow as tf

    from simlink.nn import gaussian_eps, posterior_sample
    from simlink.observation.flat import images_to_csi, likelihood_score

    f = gaussian_covariances(env, system, full=False)
    eps = gaussian_eps(np.kron(f["R_bs"], f["R_ue"]), genie.sched_)
    inp = genie._inputs(obs)

    def eps_images(x, t, cond=None):
        # images [..., Nr, Nt] <-> column-major vectors, the layout of kron(R_bs, R_ue)
        v = tf.linalg.matrix_transpose(x)
        return tf.linalg.matrix_transpose(tf.reshape(eps(tf.reshape(v, [-1, v.shape[-2] * v.shape[-1]]), t),
                                                     tf.shape(v)))

    def lik(x, t):
        return likelihood_score(x, inp["sched"]["abar"][t], inp["Yv"], inp["U"], inp["s"],
                                inp["noise_var"])

    run = tf.function(lambda: posterior_sample(eps_images, lik, inp["x_T"], inp["sched"],
                                               inp["zeta"], inp["t_start"]))
    return images_to_csi(run().numpy())


def latency(a: argparse.Namespace, system: SystemCfg) -> None:
    """Latency of DM-VB per outer iteration against the standard DM, both forms."""
    import tensorflow as tf

    from simlink.estimators.dmvb.core import mixture_posterior
    from simlink.nn import ExpertCNN

    rng = np.random.default_rng(0)
    K = a.n_envs
    dmvb = Dmvb(start=a.start).set_state(ExpertCNN.init(K, 32, 32, rng).get_state(), system)
    std = StandardDm(start=a.start)
    std.set_state(ExpertCNN.init(1, std._expert_width(K), 32, rng).get_state(), system)
    H = generate(ENVS[0], system, a.n_test, seed=5)["H_dl"]
    grid = dense_pilot_grid(a.n_bs, max(1, int(round(a.alpha * a.n_bs))), 1)
    obs = observe(H, H, system, a.snr_db, ("dl_pilots",), 7, pilot_grid=grid)
    inputs, phi = dmvb._inputs(obs), tf.fill([a.n_test, K], 1.0 / K)
    runs = {"h-step grouped": lambda: mixture_posterior(**inputs, phi=phi, grouped=True).numpy(),
            "h-step separate": lambda: mixture_posterior(**inputs, phi=phi).numpy(),
            "h-step standard DM": lambda: std.estimate(obs),
            "DM-VB iteration": lambda: dmvb.infer(obs)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for name, run in runs.items():      # compile
        run()
    for _ in range(a.reps):
        for name, run in runs.items():
            t = time.perf_counter()
            out = run()
            times[name].append((time.perf_counter() - t) / (out[1] if name == "DM-VB iteration" else 1))
    ms = {name: 1e3 * float(np.median(v)) for name, v in times.items()}
    print(f"latency, {a.n_bs} x {a.n_ue}, K = {K} experts of width 32 vs standard DM of width "
          f"{std._expert_width(K)}, batch {a.n_test}, medians of {a.reps}: "
          + ", ".join(f"{n} {v:.0f} ms" for n, v in ms.items()))
    print(f"  grouped / separate (h-step): {ms['h-step grouped'] / ms['h-step separate']:.2f}x; "
          f"h-step K experts / standard DM: separate {ms['h-step separate'] / ms['h-step standard DM']:.2f}, "
          f"grouped {ms['h-step grouped'] / ms['h-step standard DM']:.2f}; "
          f"DM-VB outer iteration / standard DM: {ms['DM-VB iteration'] / ms['h-step standard DM']:.2f} "
          "(target <= 1.5)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="16 x 4 antennas, fewer steps and samples")
    p.add_argument("--n-bs", type=int, default=64)
    p.add_argument("--n-ue", type=int, default=16)
    p.add_argument("--alpha", type=float, default=0.5, help="pilot density Np / n_bs")
    p.add_argument("--snr-db", type=float, default=10.0)
    p.add_argument("--n-envs", type=int, default=len(ENVS), help="experts K (<= %d)" % len(ENVS))
    p.add_argument("--n-train", type=int, default=2000, help="training samples per environment")
    p.add_argument("--n-test", type=int, default=32, help="test samples per environment")
    p.add_argument("--train-steps", type=int, default=None,
                   help="per expert (default 4000, --quick 3000; the cap with --patience)")
    p.add_argument("--patience", type=int, default=None,
                   help="train each expert to a plateau of its held-out loss (evaluations without gain)")
    p.add_argument("--reps", type=int, default=3, help="timing repetitions (medians)")
    p.add_argument("--start", choices=("rls", "noise"), default="rls", help="sampler start of the DMs")
    p.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    p.add_argument("--latency", action="store_true", help="latency only (untrained networks)")
    a = p.parse_args()
    if a.quick:
        a.n_bs, a.n_ue, a.n_train = 16, 4, 2000
    a.train_steps = a.train_steps or (3000 if a.quick else 4000)

    os.environ["SIMLINK_CACHE"] = tempfile.mkdtemp(prefix="simlink-bench-")
    envs = ENVS[:a.n_envs]
    system = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.5e9, n_subcarriers_ul=1, n_subcarriers_dl=1,
                       bs_array={"kind": "ula", "n": a.n_bs}, ue_array={"kind": "ula", "n": a.n_ue},
                       pilots={"comb": 1, "period_symbols": max(14, a.n_bs)})
    if a.latency:
        return latency(a, system)
    data = [generate(env, system, a.n_train + a.n_test, seed=100 + k)["H_dl"] for k, env in enumerate(envs)]
    train = Dataset(H_ul=np.concatenate([d[:a.n_train] for d in data]),
                    H_dl=np.concatenate([d[:a.n_train] for d in data]),
                    env_id=np.repeat(np.arange(len(envs)), a.n_train).astype(np.int32),
                    env_names=tuple(e.name for e in envs), system=system)
    hyper = dict(train_steps=a.train_steps, batch_size=64, learning_rate=3e-3, start=a.start,
                 patience=a.patience)

    t0 = time.perf_counter()
    dmvb = Dmvb(**hyper).fit(train, rng=np.random.default_rng(0))
    std = StandardDm(**hyper).fit(train, rng=np.random.default_rng(1))
    genie = GenieDm(**hyper).set_state(dmvb.get_state(), system)
    print(f"trained {len(envs)} experts + standard DM in {time.perf_counter() - t0:.0f} s; "
          f"params: expert {dmvb.n_params() // len(envs)}, standard DM {std.n_params()} "
          f"({std.n_params() / (dmvb.n_params() / len(envs)):.1f}x)")
    per_step = "" if a.patience else (
        f"; per step {np.median(dmvb.train_seconds_[1:] if len(envs) > 1 else dmvb.train_seconds_) / a.train_steps * 1e3:.1f} ms")
    print("training time per expert [s] (the first includes XLA compilation): "
          + ", ".join(f"{s:.1f}" for s in dmvb.train_seconds_) + per_step)
    if a.patience:
        kept = lambda est: ", ".join(f"{b} / {s[-1]}" for b, s in zip(  # noqa: E731
            est.training_history()["best_step"], est.training_history()["val_steps"]))
        print(f"steps kept (best held-out loss) / steps run: experts {kept(dmvb)}; standard DM {kept(std)}")

    n_pilots = max(1, int(round(a.alpha * a.n_bs)))
    grid = dense_pilot_grid(a.n_bs, n_pilots, 1)
    nv = 10 ** (-a.snr_db / 10)
    rows, ratios, iters = [], [], []
    print(f"\nNMSE [dB] at {a.snr_db:g} dB SNR, alpha = {n_pilots}/{a.n_bs}, {a.n_test} samples per environment")
    print(f"{'environment':>10} {'LMMSE*':>7} {'RLS':>7} {'LASSO':>7} {'stdDM':>7} {'DM-VB':>7} "
          f"{'genie':>7} {'gap':>6} {'phi ok':>6} {'iters':>5} {'ratio':>5}")
    starts = {a.start: genie, **{s: GenieDm(**dict(hyper, start=s)).set_state(genie.get_state(), system)
                                 for s in ("rls", "noise") if s != a.start}}
    for k, env in enumerate(envs):
        H = data[k][a.n_train:]
        obs = observe(H, H, system, a.snr_db, ("dl_pilots", "env_id"), 7 + k, env_index=k,
                      pilot_grid=grid)

        def err(H_hat: np.ndarray) -> float:
            return db(np.sum(np.abs(H_hat - H) ** 2) / np.sum(np.abs(H) ** 2))

        def nmse(est) -> float:
            return err(est.estimate(obs).H)

        row = {"environment": env.name, "lmmse": db(closed_form_nmse(env, system, grid[:, :, 0], nv)),
               "rls": nmse(RLS()), "lasso": nmse(Lasso()), "standard_dm": nmse(std),
               "dmvb": nmse(dmvb), "genie_dm": nmse(genie)}
        # the calibration below: the genie from both starts, and its ideal at each
        for name, est in starts.items():
            row[f"genie_{name}"] = row["genie_dm"] if est is genie else nmse(est)
            row[f"ideal_{name}"] = err(ideal_estimate(est, env, system, obs))
        result, n_outer = dmvb.infer(obs)
        row["phi_correct"] = float(np.mean(np.argmax(result.diagnostics["phi"], axis=1) == k))
        row["n_outer"] = n_outer
        # side-by-side timing, interleaved so load changes hit both alike
        t_vb, t_std = [], []
        for _ in range(a.reps):
            t = time.perf_counter()
            dmvb.estimate(obs)
            t_vb.append((time.perf_counter() - t) / n_outer)
            t = time.perf_counter()
            std.estimate(obs)
            t_std.append(time.perf_counter() - t)
        row["latency_ratio"] = float(np.median(t_vb) / np.median(t_std))
        row["dmvb_iter_ms"], row["standard_ms"] = 1e3 * np.median(t_vb), 1e3 * np.median(t_std)
        rows.append(row)
        iters.append(row["n_outer"])
        ratios.append(row["latency_ratio"])
        print(f"{env.name:>10} {row['lmmse']:7.2f} {row['rls']:7.2f} {row['lasso']:7.2f} "
              f"{row['standard_dm']:7.2f} {row['dmvb']:7.2f} {row['genie_dm']:7.2f} "
              f"{row['genie_dm'] - row['lmmse']:6.2f} {row['phi_correct']:6.2f} {row['n_outer']:5d} "
              f"{row['latency_ratio']:5.2f}")
    print("* closed form. gap = genie DM - LMMSE [dB]. ratio = DM-VB latency per outer "
          "iteration / standard-DM latency (target <= 1.5)")

    # The genie's gap to the LMMSE, split into the method's (its sampler with the
    # exact Gaussian prior score) and training's, from both starts.
    print(f"\nGaussian calibration [dB]: genie DM (trained expert) and ideal (exact prior score, "
          f"the method's likelihood approximation, zeta = {genie.zeta:g}), gaps to LMMSE*")
    print(f"{'environment':>10} {'start':>6} {'LMMSE*':>7} {'ideal':>7} {'genie':>7} "
          f"{'method':>7} {'train':>7} {'total':>7}")
    for row in rows:
        for name in sorted(starts):
            lmmse, ideal, trained = row["lmmse"], row[f"ideal_{name}"], row[f"genie_{name}"]
            print(f"{row['environment']:>10} {name:>6} {lmmse:7.2f} {ideal:7.2f} {trained:7.2f} "
                  f"{ideal - lmmse:7.2f} {trained - ideal:7.2f} {trained - lmmse:7.2f}")
    print(f"\nlatency ratio median {np.median(ratios):.2f} (DM-VB iteration "
          f"{np.median([r['dmvb_iter_ms'] for r in rows]):.0f} ms, standard DM "
          f"{np.median([r['standard_ms'] for r in rows]):.0f} ms, batch {a.n_test}); "
          f"outer iterations to convergence: mean {np.mean(iters):.1f}, max {max(iters)}")
    if a.json:
        print(json.dumps({"args": vars(a), "rows": rows}))


if __name__ == "__main__":
    main()
