"""The FDD link a scenario simulates: bands, arrays and DL pilots (the ``system:`` section).

Every config model is frozen and forbids unknown keys; the constrained number
types below are shared by the method config models.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
#: a pilot density ``alpha = Np / Nt`` of a sweep: in (0, 1]
Density = Annotated[float, Field(gt=0, le=1)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


def with_density(system: SystemCfg, density: float | None) -> SystemCfg:
    """``system`` with ``pilots.density`` replaced by ``density`` (validated
    again: the pilots must still fit); ``system`` itself when ``density`` is None."""
    if density is None:
        return system
    pilots = system.pilots.model_copy(update={"density": float(density)})
    return SystemCfg.model_validate({**system.model_dump(), "pilots": pilots.model_dump()})


