"""Scenario schema: the single source of truth for scenario YAML files.

Every model is frozen and forbids unknown keys. Environments and estimators
are ``kind``-tagged unions; an estimator's keys (other than ``name`` and
``kind``) are exactly the keyword arguments of its registered class.
``scenarios/schema.json`` is exported from :class:`Scenario`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
#: a pilot density ``alpha = Np / Nt`` of a sweep: in (0, 1]
Density = Annotated[float, Field(gt=0, le=1)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- arrays
class UlaArray(Model):
    """Uniform linear array of ``n`` elements (x2 ports when dual-polarised)."""
    kind: Literal["ula"]
    n: PosInt
    polarization: Literal["single", "dual"] = "single"
    spacing_wavelengths: PosFloat = 0.5  # at the UL carrier: physical spacing is fixed

    @property
    def rows(self) -> int:
        return 1

    @property
    def cols(self) -> int:
        return self.n


class UpaArray(Model):
    """Uniform planar array ``rows x cols`` (x2 ports when dual-polarised)."""
    kind: Literal["upa"]
    rows: PosInt
    cols: PosInt
    polarization: Literal["single", "dual"] = "single"
    spacing_wavelengths: PosFloat = 0.5


ArrayCfg = Annotated[Union[UlaArray, UpaArray], Field(discriminator="kind")]


def n_ports(array: UlaArray | UpaArray) -> int:
    """Number of antenna ports of an array (elements x polarisations)."""
    return array.rows * array.cols * (2 if array.polarization == "dual" else 1)


# ---------------------------------------------------------------- system
class PilotCfg(Model):
    """Downlink CSI-RS-like pilots.

    ``mode: comb``: ports are frequency-multiplexed ``comb`` at a time on one
    OFDM symbol (port ``p`` on subcarriers ``k = p mod comb``), so
    ``ceil(n_bs / comb)`` OFDM symbols carry pilots. ``mode: dense``: the flat
    MIMO pilot model ``Y = H X + N`` on every subcarrier, ``X`` a QPSK matrix
    of ``Np = max(1, round(density * n_bs))`` pilot symbols (pilot density
    ``alpha = Np / n_bs``; non-orthogonal when ``Np < n_bs``). Pilots recur
    once per CSI period of ``period_symbols`` OFDM symbols, which sets the
    overhead ``rho``.
    """
    mode: Literal["comb", "dense"] = "comb"
    comb: PosInt = 4
    density: PosFloat = 1.0
    period_symbols: PosInt = 56


class SystemCfg(Model):
    fc_ul_hz: PosFloat
    fc_dl_hz: PosFloat
    subcarrier_spacing_hz: PosFloat = 30e3
    n_subcarriers_ul: PosInt
    n_subcarriers_dl: PosInt
    bs_array: ArrayCfg
    ue_array: ArrayCfg = Field(default_factory=lambda: UlaArray(kind="ula", n=1))
    pilots: PilotCfg = PilotCfg()

    @property
    def n_bs(self) -> int:
        return n_ports(self.bs_array)

    @property
    def n_ue(self) -> int:
        return n_ports(self.ue_array)

    @property
    def duplex_gap_hz(self) -> float:
        return self.fc_dl_hz - self.fc_ul_hz

    @property
    def n_pilot_symbols(self) -> int:
        if self.pilots.mode == "dense":
            return max(1, round(self.pilots.density * self.n_bs))
        return -(-self.n_bs // self.pilots.comb)

    @property
    def pilot_overhead(self) -> float:
        """Fraction ``rho`` of DL resource elements spent on pilots."""
        if self.pilots.mode == "dense":
            return self.n_pilot_symbols / self.pilots.period_symbols
        pilot_res = self.n_bs * (self.n_subcarriers_dl // self.pilots.comb)
        return pilot_res / (self.pilots.period_symbols * self.n_subcarriers_dl)

    @model_validator(mode="after")
    def _pilots_fit(self) -> "SystemCfg":
        comb = self.pilots.comb
        if self.pilots.mode == "comb" and self.n_subcarriers_dl % comb:
            raise ValueError(f"pilots.comb={comb} must divide n_subcarriers_dl="
                             f"{self.n_subcarriers_dl}: pilots do not fit the grid")
        if self.n_pilot_symbols > self.pilots.period_symbols:
            raise ValueError(f"pilots need {self.n_pilot_symbols} OFDM symbols for "
                             f"{self.n_bs} ports but period_symbols="
                             f"{self.pilots.period_symbols}: pilots do not fit the grid")
        return self


# ---------------------------------------------------------------- environments
class EnvBase(Model):
    name: str = Field(min_length=1)
    #: training samples of this environment (default: sweep.n_train), e.g. a data-scarce one
    n_train: NonNegInt | None = None


class CdlEnv(EnvBase):
    kind: Literal["cdl"]
    model: Literal["A", "B", "C", "D", "E"]
    delay_spread_s: PosFloat = 100e-9
    speed_mps: NonNegFloat = 0.0


class TdlEnv(EnvBase):
    kind: Literal["tdl"]
    model: Literal["A", "B", "C", "D", "E", "A30", "B100", "C300"]
    delay_spread_s: PosFloat = 100e-9
    speed_mps: NonNegFloat = 0.0
    correlation: Literal["low", "medium", "high"] = "low"


class _SystemLevelEnv(EnvBase):
    los: bool = False
    speed_mps: NonNegFloat = 0.833  # 3 km/h
    indoor_probability: Annotated[float, Field(ge=0, le=1)] = 0.0
    min_bs_ut_dist_m: PosFloat | None = None
    isd_m: PosFloat | None = None


class UmiEnv(_SystemLevelEnv):
    kind: Literal["umi"]


class UmaEnv(_SystemLevelEnv):
    kind: Literal["uma"]


class RmaEnv(_SystemLevelEnv):
    kind: Literal["rma"]


class GaussianEnv(EnvBase):
    """Correlated Rayleigh with a known covariance (DESIGN.md law 7).

    Taps ``l`` with delays ``delays_s`` and powers ``powers`` (normalised to
    sum 1); each tap carries an independent spatially correlated vector with
    ``R_bs (x) R_ue``. The DL tap equals ``c * exp(-j 2 pi df tau_l)`` times
    the UL tap plus an independent part of power ``1 - c^2``, where
    ``c = ul_dl_correlation``.
    """
    kind: Literal["gaussian"]
    spatial: Literal["exponential", "one_ring", "iid"] = "exponential"
    bs_correlation: Annotated[float, Field(ge=0, lt=1)] = 0.7   # exponential coefficient
    ue_correlation: Annotated[float, Field(ge=0, lt=1)] = 0.0
    angle_spread_deg: Annotated[float, Field(gt=0, le=180)] = 10.0  # one-ring
    mean_angle_deg: Annotated[float, Field(ge=-90, le=90)] = 0.0
    delays_s: list[NonNegFloat] = Field(default_factory=lambda: [0.0, 50e-9, 150e-9, 400e-9])
    powers: list[PosFloat] = Field(default_factory=lambda: [0.5, 0.25, 0.15, 0.1])
    ul_dl_correlation: Annotated[float, Field(ge=0, le=1)] = 1.0

    @model_validator(mode="after")
    def _pdp(self) -> "GaussianEnv":
        if len(self.delays_s) != len(self.powers):
            raise ValueError(f"delays_s has {len(self.delays_s)} taps but powers has "
                             f"{len(self.powers)}")
        return self


class FileEnv(EnvBase):
    """Measured CSI from HDF5/NPZ/MAT: an array ``frames x antennas x subcarriers``
    (or ``frames x antennas x ue_antennas x subcarriers``); subcarriers
    ``[ul_offset, ul_offset + n_ul)`` form the UL band and
    ``[dl_offset, dl_offset + n_dl)`` the DL band (default: right after the UL band)."""
    kind: Literal["file"]
    path: str
    dataset: str = "H"
    ul_offset: NonNegInt = 0
    dl_offset: NonNegInt | None = None     # default: right after the UL band

    @field_validator("path")
    @classmethod
    def _exists(cls, v: str) -> str:
        if not Path(v).expanduser().is_file():
            raise ValueError(f"file not found: {v}")
        if Path(v).suffix.lower() not in {".h5", ".hdf5", ".npz", ".mat"}:
            raise ValueError(f"unsupported file type {Path(v).suffix!r} (use .h5, .npz or .mat)")
        return v


EnvCfg = Annotated[Union[CdlEnv, TdlEnv, UmiEnv, UmaEnv, RmaEnv, GaussianEnv, FileEnv],
                   Field(discriminator="kind")]


# ---------------------------------------------------------------- estimators
class EstBase(Model):
    name: str = Field(min_length=1)

    def params(self) -> dict[str, Any]:
        """The class keyword arguments (every key but ``name`` and ``kind``)."""
        return self.model_dump(exclude={"name", "kind"})


class PerfectEst(EstBase):
    kind: Literal["perfect"]


class NoEstimationEst(EstBase):
    kind: Literal["no_estimation"]


class LsEst(EstBase):
    kind: Literal["ls"]
    interpolation: Literal["nearest", "linear"] = "linear"


class LmmseEst(EstBase):
    kind: Literal["lmmse"]
    covariance: Literal["environment", "global"] = "environment"
    domain: Literal["frequency", "full"] = "frequency"


class CodebookEst(EstBase):
    kind: Literal["codebook"]
    n1: PosInt | None = None     # default: the BS array's columns
    n2: PosInt | None = None     # default: the BS array's rows
    o1: PosInt = 4
    o2: PosInt = 4
    subband_size: PosInt | None = None   # in subcarriers; None: wideband PMI
    gain_bits: NonNegInt = 4
    interpolation: Literal["nearest", "linear"] = "linear"


class _DiffusionEst(EstBase):
    """Keys shared by the diffusion estimators (``simlink.estimators.dmvb``)."""
    emb_dim: Annotated[int, Field(gt=0, multiple_of=2)] = 32   # sinusoidal time embedding
    n_steps: Annotated[int, Field(ge=25)] = 100   # diffusion steps T (linear schedule)
    train_steps: PosInt = 4000     # Adam steps per expert
    batch_size: PosInt = 128
    learning_rate: PosFloat = 1e-3
    zeta: PosFloat = 4.0           # likelihood-score weight (> 1 favours the measurement)
    #: sampler start: "rls" = scaled regularised-LS estimate at the step whose noise
    #: level matches its error (fewer steps, robust); "noise" = pure noise at T
    start: Literal["rls", "noise"] = "rls"
    seed: NonNegInt = 0            # sampler start noise and VB noise draws


class DmvbEst(_DiffusionEst):
    kind: Literal["dmvb"]
    width: PosInt = 32             # expert CNN width C
    gamma0: PosFloat = 1.0         # Dirichlet prior concentration
    max_outer: PosInt = 5          # VB outer iterations at most
    tol: PosFloat = 1e-3           # stop when max |phi - phi_prev| < tol
    n_elbo_steps: PosInt = 5       # sub-sampled steps of the ELBO term
    dc_level: Annotated[float, Field(ge=0, le=1)] = 0.2   # re-noise step tau / (T - 1)
    lambda_dc: NonNegFloat = 1.0   # weight of the data-consistency term


class StandardDmEst(_DiffusionEst):
    kind: Literal["standard_dm"]
    width: PosInt | None = None    # None: sqrt(K) x 32, about K x the parameters of an expert


class GenieDmEst(_DiffusionEst):
    kind: Literal["genie_dm"]
    width: PosInt = 32


class RlsEst(EstBase):
    kind: Literal["rls"]
    lam: NonNegFloat | None = None   # None: the noise variance


class LassoEst(EstBase):
    kind: Literal["lasso"]
    lam: NonNegFloat = 1.0           # threshold in noise standard deviations
    n_iter: PosInt = 200


#: estimators built on per-port orthogonal (comb) pilots and Sionna's LS estimator
COMB_PILOT_KINDS = frozenset({"ls", "codebook"})

EstCfg = Annotated[Union[PerfectEst, NoEstimationEst, LsEst, LmmseEst, CodebookEst,
                         DmvbEst, StandardDmEst, GenieDmEst, RlsEst, LassoEst],
                   Field(discriminator="kind")]


# ---------------------------------------------------------------- link level
class LinkCfg(Model):
    """Coded downlink transmission (the scenario's optional ``link:`` section)."""
    name: str | None = None                               # results label; default e.g. "16qam-r0.5"
    num_bits_per_symbol: Literal[2, 4, 6, 8] = 4          # QPSK, 16-, 64-, 256-QAM
    code_rate: Annotated[float, Field(gt=0, lt=1)] = 0.5
    num_ofdm_symbols: PosInt = 14                         # one slot
    dmrs_symbols: tuple[NonNegInt, ...] = (2, 11)         # OFDM symbols carrying DMRS
    precoder: Literal["mrt", "zf", "rzf"] = "mrt"
    #: UE-side estimate of the precoded channel: genie, LS on the DMRS
    #: (linear in frequency, averaged over the DMRS symbols because the
    #: channel is constant over the slot) or LMMSE interpolation.
    ue_estimator: Literal["perfect", "ls", "lmmse"] = "ls"
    #: RMS delay spread of the exponential power-delay profile the UE's LMMSE
    #: interpolator is designed for (the UE does not know the true statistics).
    lmmse_delay_spread_s: PosFloat = 100e-9
    num_bp_iter: PosInt = 20                              # LDPC decoder iterations
    batch_size: PosInt = 64                               # slots per compiled call
    max_batches: PosInt = 100
    target_block_errors: PosInt = 100
    #: Bit error probability of the binary symmetric feedback channel
    #: (:func:`simlink.link.bsc.bsc`), applied by the campaign runner between a
    #: feedback method's encoder and decoder; 0 is an error-free feedback link.
    feedback_ber: Annotated[float, Field(ge=0, le=0.5)] = 0.0

    @property
    def label(self) -> str:
        return self.name or f"{2 ** self.num_bits_per_symbol}qam-r{self.code_rate:.3g}"

    @model_validator(mode="after")
    def _dmrs_fit(self) -> "LinkCfg":
        d = self.dmrs_symbols
        if not d or len(set(d)) != len(d) or max(d) >= self.num_ofdm_symbols:
            raise ValueError(f"dmrs_symbols={list(d)} must be distinct OFDM symbol indices "
                             f"below num_ofdm_symbols={self.num_ofdm_symbols}")
        if len(d) == self.num_ofdm_symbols:
            raise ValueError("dmrs_symbols leave no OFDM symbol for data")
        return self


# ---------------------------------------------------------------- sweep / scenario
def _distinct(values: list[float]) -> list[float]:
    if len(set(values)) != len(values):
        raise ValueError(f"duplicate values in {values}")
    return values


#: pilot densities of a sweep: distinct, each in (0, 1]
DensityList = Annotated[list[Density], AfterValidator(_distinct)]


class SweepCfg(Model):
    snr_db: list[float] = Field(min_length=1)
    n_test: PosInt = 2000
    n_train: NonNegInt = 10000
    chunk: PosInt = 500   # Monte Carlo samples per cell
    #: pilot densities ``alpha = Np / Nt`` to sweep (``system.pilots.mode: dense``
    #: only); each replaces ``system.pilots.density`` in its cells. None: no sweep.
    pilot_density: DensityList | None = Field(default=None, min_length=1)


class SmokeCfg(Model):
    n_test: PosInt = 64
    n_train: NonNegInt = 256
    train_steps: PosInt = 20
    link_batches: PosInt = 1      # max_batches of every link configuration
    snr_db: list[float] | None = Field(default=None, min_length=1)   # None: the sweep's
    pilot_density: DensityList | None = Field(default=None, min_length=1)   # None: the sweep's
    #: other estimator keys to shrink, applied to every estimator that has them
    estimator_overrides: dict[str, int | float | str] = Field(default_factory=dict)


class MetricsCfg(Model):
    """Effective-rate beam codebooks (LAD-CKM eqs. 10-11)."""
    bs_oversampling: PosInt = 1
    ue_oversampling: PosInt = 1


class Scenario(Model):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    seed: NonNegInt = 0
    system: SystemCfg
    environments: list[EnvCfg] = Field(min_length=1)
    estimators: list[EstCfg] = Field(min_length=1)
    sweep: SweepCfg
    smoke: SmokeCfg = SmokeCfg()
    metrics: MetricsCfg = MetricsCfg()
    #: coded DL transmission(s), e.g. one per MCS: fill ber, bler, goodput
    link: LinkCfg | list[LinkCfg] | None = None

    @property
    def links(self) -> list[LinkCfg]:
        """The link configurations as a list (empty without a ``link`` section)."""
        return [] if self.link is None else [self.link] if isinstance(self.link, LinkCfg) \
            else list(self.link)

    @model_validator(mode="after")
    def _links(self) -> "Scenario":
        labels = [link.label for link in self.links]
        if len(set(labels)) != len(labels):
            raise ValueError(f"link: duplicate link label(s) in {labels}; give each a name")
        if len({link.feedback_ber for link in self.links}) > 1:
            raise ValueError("link: every entry must have the same feedback_ber "
                             "(the feedback is decoded once per cell)")
        return self

    @model_validator(mode="after")
    def _pilot_density_sweep(self) -> "Scenario":
        """``sweep.pilot_density`` needs dense pilots, and every density must fit the grid."""
        for field, densities in (("sweep", self.sweep.pilot_density), ("smoke", self.smoke.pilot_density)):
            if densities is None:
                continue
            if self.system.pilots.mode != "dense":
                raise ValueError(f"{field}.pilot_density: a pilot-density sweep needs "
                                 f"system.pilots.mode: dense, not {self.system.pilots.mode}")
            for i, alpha in enumerate(densities):
                try:
                    with_density(self.system, alpha)
                except ValidationError as exc:
                    msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
                    raise ValueError(f"{field}.pilot_density[{i}]: density {alpha:g}: {msg}") from None
        if self.smoke.pilot_density is not None and self.sweep.pilot_density is None:
            raise ValueError("smoke.pilot_density: set sweep.pilot_density too (the smoke list "
                             "replaces the sweep's)")
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> "Scenario":
        for field in ("environments", "estimators"):
            names = [x.name for x in getattr(self, field)]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{field}: duplicate name(s) {dup}")
        return self

    @model_validator(mode="after")
    def _estimators_fit_system(self) -> "Scenario":
        """Cross-checks between an estimator's keys and the system it runs on."""
        bs, n_sc = self.system.bs_array, self.system.n_subcarriers_dl
        for i, est in enumerate(self.estimators):
            needs_comb = est.kind in COMB_PILOT_KINDS or (est.kind == "lmmse" and est.domain == "frequency")
            if needs_comb and self.system.pilots.mode != "comb":
                raise ValueError(f"estimators[{i}].kind: {est.kind} needs system.pilots.mode: comb "
                                 f"(orthogonal per-port pilots), not {self.system.pilots.mode}")
            if est.kind == "codebook":
                n1, n2 = est.n1 or bs.cols, est.n2 or bs.rows
                if n1 * n2 != bs.rows * bs.cols:
                    raise ValueError(f"estimators[{i}].n1: N1 x N2 = {n1} x {n2} does not match "
                                     f"the {bs.rows} x {bs.cols} BS array")
                if est.subband_size and n_sc % est.subband_size:
                    raise ValueError(f"estimators[{i}].subband_size: {est.subband_size} does not "
                                     f"divide n_subcarriers_dl={n_sc}")
        return self

    def smoke_version(self) -> "Scenario":
        """The same scenario shrunk to its ``smoke`` sizes."""
        sweep = self.sweep.model_copy(update={
            "n_test": self.smoke.n_test, "n_train": self.smoke.n_train,
            "chunk": min(self.sweep.chunk, self.smoke.n_test),
            "snr_db": self.smoke.snr_db or self.sweep.snr_db,
            "pilot_density": self.smoke.pilot_density or self.sweep.pilot_density})
        envs = [e if e.n_train is None else e.model_copy(update={"n_train": min(e.n_train, self.smoke.n_train)})
                for e in self.environments]
        return self.model_copy(update={"sweep": sweep, "environments": envs})

    def content_hash(self) -> str:
        data = self.model_dump(mode="json")
        # Optional keys added later are hashed only when set, so the hash of
        # a scenario without them (and its results folders) stays the same.
        for section in ("sweep", "smoke"):
            if data[section].get("pilot_density") is None:
                data[section].pop("pilot_density", None)
        return stable_hash(data)


def with_density(system: SystemCfg, density: float | None) -> SystemCfg:
    """``system`` with ``pilots.density`` replaced by ``density`` (validated
    again: the pilots must still fit); ``system`` itself when ``density`` is None."""
    if density is None:
        return system
    pilots = system.pilots.model_copy(update={"density": float(density)})
    return SystemCfg.model_validate({**system.model_dump(), "pilots": pilots.model_dump()})


def stable_hash(obj: Any, n: int = 16) -> str:
    """Hex digest of a JSON-serialisable object, independent of key order."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:n]


# ---------------------------------------------------------------- loading
class ScenarioError(Exception):
    """A scenario file problem; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _loc(loc: tuple, data: Any) -> str:
    """Render a pydantic error location as ``estimators[2].rank``, dropping
    the union tag pydantic inserts for discriminated unions."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # discriminator tag
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "<root>"


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise ScenarioError([f"{source}: expected a mapping at the top level, got {kind}"])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{source}: {_loc(err['loc'], data)}: {msg}")
        raise ScenarioError(problems) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Raises :class:`ScenarioError` with one line per problem.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read file ({exc.__class__.__name__}: {exc})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ScenarioError([f"{path}: not valid YAML{where}: "
                             f"{getattr(exc, 'problem', None) or exc}"]) from None
    return parse_scenario(data, str(path))


def schema_json() -> str:
    return json.dumps(Scenario.model_json_schema(), indent=2, sort_keys=True) + "\n"
