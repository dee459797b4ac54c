"""The campaign grid and the computation of one cell.

A cell is environment x estimator x SNR (x pilot density, when the sweep
has ``pilot_density``) x chunk of ``sweep.chunk`` test samples. Everything
random in a cell is drawn from seeds derived from the scenario seed and the
cell coordinates, so a cell gives the same numbers in any process, in any
order, on any backend.
"""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from simlink import metrics
from simlink.campaign.errors import CampaignError
from simlink.config import Scenario
from simlink.hashing import stable_hash
from simlink.system import SystemCfg, with_density

#: link-level counts a cell keeps from the coded chain (merged by summation)
LINK_COUNT_KEYS = ("bit_errors", "bits", "block_errors", "blocks", "info_bits_ok", "re_total",
                   "slots", "mcs_sum")


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed that depends only on ``parts`` (JSON-serialisable)."""
    return int(stable_hash(list(parts)), 16) & ((1 << 63) - 1)


def effective_scenario(scenario: Scenario, *, smoke: bool = False, seed: int | None = None) -> Scenario:
    """The scenario a run actually executes: shrunk to its smoke sizes
    (``smoke.train_steps`` and ``smoke.estimator_overrides`` replacing those
    keys of every estimator that has them; every link capped to ``smoke.link_batches`` batches of at
    most ``smoke.n_test`` slots, after at most ``smoke.n_test`` warm-up slots) and with ``seed`` overriding ``scenario.seed``."""
    if smoke:
        shrink = {"train_steps": scenario.smoke.train_steps, **scenario.smoke.estimator_overrides}
        estimators = [e.model_copy(update={k: v for k, v in shrink.items() if k in type(e).model_fields})
                      for e in scenario.estimators]
        links = [link.model_copy(update={"max_batches": min(link.max_batches, scenario.smoke.link_batches),
                                         "batch_size": min(link.batch_size, scenario.smoke.n_test),
                                         "olla_warmup_slots": min(link.olla_warmup_slots,
                                                                  scenario.smoke.n_test)})
                 for link in scenario.links]
        scenario = scenario.smoke_version().model_copy(
            update={"estimators": estimators, "link": links or None})
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": int(seed)})
    # Round-trip through validation so the result is a regular, checked model.
    return type(scenario).model_validate(scenario.model_dump())


def slug(name: str) -> str:
    """``name`` made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "x"


@dataclass(frozen=True)
class CellTask:
    """Coordinates of one cell; test samples ``[start, stop)`` of ``environment``.

    ``pilot_density``: the cell's ``alpha = Np / Nt`` replacing
    ``system.pilots.density`` (``sweep.pilot_density``), None without a
    density sweep. A cell without one has the id, seeds and stored record it
    had before the field existed.
    """
    environment: str
    env_index: int
    estimator: str
    snr_db: float
    chunk: int
    start: int
    stop: int
    pilot_density: float | None = None

    @property
    def density_parts(self) -> list[float]:
        """What the density adds to the cell's hash and seeds: nothing without one."""
        return [] if self.pilot_density is None else [self.pilot_density]

    @property
    def cell_id(self) -> str:
        """File-name-safe id: readable prefix + a hash of the exact coordinates."""
        h = stable_hash([self.environment, self.estimator, self.snr_db, self.chunk,
                         self.start, self.stop, *self.density_parts], 10)
        alpha = "" if self.pilot_density is None else f"a{self.pilot_density:g}."
        return (f"{slug(self.environment)}.{slug(self.estimator)}."
                f"{self.snr_db:g}dB.{alpha}c{self.chunk}.{h}")

    @property
    def label(self) -> str:
        alpha = "" if self.pilot_density is None else f" alpha={self.pilot_density:g}"
        return f"{self.environment}/{self.estimator} {self.snr_db:g}dB{alpha}"

    def as_record(self) -> dict[str, Any]:
        """The task as stored in its cell file (no ``pilot_density`` key without one)."""
        rec = asdict(self)
        if self.pilot_density is None:
            del rec["pilot_density"]
        return rec

    def system(self, scenario: Scenario) -> SystemCfg:
        """The system of this cell: the scenario's, with ``pilots.density``
        replaced by the cell's density when it has one."""
        density = None if self.pilot_density is None else float(self.pilot_density)
        return _cell_system(scenario.system, density)


@lru_cache(maxsize=64)
def _cell_system(system: SystemCfg, density: float | None) -> SystemCfg:
    """``system`` with ``pilots.density`` replaced by ``density`` (None: unchanged);
    cached because every cell asks for it twice (observation and metrics)."""
    return with_density(system, density)


def grid_densities(scenario: Scenario) -> list[float | None]:
    """The pilot densities of the grid: ``sweep.pilot_density``, or ``[None]`` without a sweep."""
    return [None] if scenario.sweep.pilot_density is None \
        else [float(a) for a in scenario.sweep.pilot_density]


def make_grid(scenario: Scenario) -> list[CellTask]:
    """Every cell of ``scenario``, chunk-major so that early cells already cover
    every environment, pilot density, estimator and SNR (and consecutive cells
    share data)."""
    n, size = scenario.sweep.n_test, scenario.sweep.chunk
    return [CellTask(env.name, k, est.name, float(snr), c, start, min(start + size, n), alpha)
            for c, start in enumerate(range(0, n, size))
            for k, env in enumerate(scenario.environments)
            for alpha in grid_densities(scenario)
            for snr in scenario.sweep.snr_db
            for est in scenario.estimators]


def observe(task: CellTask, requires: frozenset[str], H_ul: np.ndarray, H_dl: np.ndarray,
            scenario: Scenario):
    """The :class:`~simlink.observation.Observation` of a cell
    (:func:`simlink.observation.observe` on the cell's system).

    The noise seed depends on (seed, environment, SNR, chunk and the pilot
    density when the cell has one) but not on the estimator, so every
    estimator of a cell sees the same noise.
    """
    from simlink.observation import observe as observe_batch

    base = derive_seed("noise", scenario.seed, task.environment, task.snr_db, task.chunk,
                       *task.density_parts)
    feedback_ber = scenario.links[0].feedback_ber if scenario.links else 0.0
    return observe_batch(H_ul, H_dl, task.system(scenario), task.snr_db, requires, base,
                         env_index=task.env_index, feedback_ber=feedback_ber)


def seed_generators(seed: int) -> None:
    """Reseed TF's global seed and Sionna's generators, so an estimator that
    draws randomness from them gets the same stream for a cell in every
    process, whatever ran there before."""
    import tensorflow as tf
    from sionna.phy import config as sionna_config

    seed %= 2 ** 31 - 1
    tf.random.set_seed(seed)
    sionna_config.seed = seed


def compute_cell(task: CellTask, estimator, H_ul: np.ndarray, H_dl: np.ndarray,
                 scenario: Scenario, *, warm_up: bool = False) -> dict[str, float]:
    """Run ``estimator`` on one cell and return its raw sums.

    ``H_ul`` [b, n_bs, n_ue, n_sc_ul], ``H_dl`` [b, n_bs, n_ue, n_sc_dl]: the
    cell's test samples. ``warm_up`` runs ``estimate`` once untimed first (so
    the timing excludes one-time tracing and set-up). Returns the
    :func:`~simlink.metrics.nmse_sums` and :func:`~simlink.metrics.rate_sums`
    keys plus ``latency_s_sum`` (seconds of ``estimate`` for the batch),
    ``feedback_bits``, ``params`` and ``pilot_overhead``. Everything uses the
    cell's system (:meth:`CellTask.system`: its pilot density, when it has one).
    """
    system = task.system(scenario)
    obs = observe(task, frozenset(estimator.requires), H_ul, H_dl, scenario)
    est_seed = derive_seed("estimate", scenario.seed, task.cell_id)
    if warm_up:
        seed_generators(est_seed)
        estimator.estimate(obs)
    seed_generators(est_seed)
    t0 = time.perf_counter()
    result = estimator.estimate(obs)
    latency = time.perf_counter() - t0
    H_hat = np.asarray(result.H)
    if H_hat.shape != H_dl.shape:
        raise CampaignError(f"estimator {task.estimator!r} returned shape {H_hat.shape}, "
                            f"expected {H_dl.shape}")
    rho = float(estimator.pilot_overhead(system))
    out = metrics.nmse_sums(H_hat, H_dl)
    out.update(metrics.rate_sums(H_hat, H_dl, system, task.snr_db, rho,
                                 bs_oversampling=scenario.metrics.bs_oversampling,
                                 ue_oversampling=scenario.metrics.ue_oversampling))
    for name, diag in type(estimator).diagnostics.items():
        value = np.asarray(result.diagnostics[name])
        score = value if diag.score is None else diag.score(value, task.env_index)
        out[diag.total] = float(np.sum(score))
    feedback_bits = float(estimator.feedback_bits(system))
    out.update(latency_s_sum=latency, feedback_bits=feedback_bits,
               params=float(estimator.n_params()), pilot_overhead=rho)
    for i, link in enumerate(scenario.links):
        from simlink.link.chain import simulate_link
        # Seeded by the cell's coordinates but not the estimator: paired comparison.
        seed = derive_seed("link", scenario.seed, task.environment, task.snr_db, task.chunk, i,
                           *task.density_parts)
        counts = simulate_link(H_dl, H_hat, link, system, task.snr_db, seed,
                               overhead=rho, feedback_bits=feedback_bits)
        out.update({link_key(k, i): float(counts[k]) for k in LINK_COUNT_KEYS})
    return out


def link_key(count: str, i: int) -> str:
    """Cell-result key of link-level ``count`` for the ``i``-th link configuration."""
    return f"{count}@{i}"
