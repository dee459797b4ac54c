"""The scenario's ``link:`` section: one coded downlink configuration."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simlink.system import Model, NonNegInt, PosFloat, PosInt


class LinkCfg(Model):
    """Coded downlink transmission (the scenario's optional ``link:`` section)."""
    name: str | None = None                               # results label; default e.g. "olla-t1", "16qam-r0.5"
    #: MCS choice per slot (simlink.link.adaptation): ``olla`` (inner loop from
    #: the BS's CSI + outer loop on ACK/NACK), ``illa`` (inner loop only) or
    #: ``fixed`` (``num_bits_per_symbol`` and ``code_rate`` for every slot).
    adaptation: Literal["olla", "illa", "fixed"] = "olla"
    mcs_table: Literal[1, 2] = 1                          # 38.214 table 5.1.3.1-1 (64QAM) or -2 (256QAM)
    bler_target: Annotated[float, Field(gt=0, lt=1)] = 0.1
    olla_delta_up_db: PosFloat = 1.0                      # offset step per NACK (down: up t / (1 - t))
    #: slots sent before counting starts, while the outer loop's offset settles
    olla_warmup_slots: NonNegInt = 32
    #: the fixed MCS (``adaptation: fixed`` only; default 16-QAM, rate 0.5):
    #: QPSK, 16-, 64-, 256-QAM and the LDPC code rate
    num_bits_per_symbol: Literal[2, 4, 6, 8] | None = None
    code_rate: Annotated[float, Field(gt=0, lt=1)] | None = None
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
        if self.name:
            return self.name
        if self.adaptation == "fixed":
            return f"{2 ** self.num_bits_per_symbol}qam-r{self.code_rate:.3g}"
        return f"{self.adaptation}-t{self.mcs_table}"

    @model_validator(mode="after")
    def _dmrs_fit(self) -> "LinkCfg":
        d = self.dmrs_symbols
        if not d or len(set(d)) != len(d) or max(d) >= self.num_ofdm_symbols:
            raise ValueError(f"dmrs_symbols={list(d)} must be distinct OFDM symbol indices "
                             f"below num_ofdm_symbols={self.num_ofdm_symbols}")
        if len(d) == self.num_ofdm_symbols:
            raise ValueError("dmrs_symbols leave no OFDM symbol for data")
        return self

    @model_validator(mode="before")
    @classmethod
    def _fixed_mcs(cls, data):
        if not isinstance(data, dict):
            return data
        keys = ("num_bits_per_symbol", "code_rate")
        if data.get("adaptation", "olla") == "fixed":
            return {"num_bits_per_symbol": 4, "code_rate": 0.5,
                    **{k: v for k, v in data.items() if not (k in keys and v is None)}}
        given = [k for k in keys if data.get(k) is not None]
        if given:
            raise ValueError(f"{' and '.join(given)} set a fixed MCS but adaptation is "
                             f"{data.get('adaptation', 'olla')!r}, which picks the MCS per slot: "
                             f"add adaptation: fixed, or remove them")
        return data
