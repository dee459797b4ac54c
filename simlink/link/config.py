"""The scenario's ``link:`` section: one coded downlink configuration."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simlink.system import Model, NonNegInt, PosFloat, PosInt


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
    #: (:func:`simlink.feedback.bsc.bsc`), applied by the campaign runner between a
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
