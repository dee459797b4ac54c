"""Coded, precoded downlink transmission with the CSI an estimator acquired.

Per batch of channel samples (one slot each):

    bits -> LDPC5GEncoder -> QAM Mapper -> ResourceGridMapper (DMRS-like
    Kronecker pilots, one pilot comb per stream) -> precoder from the BS's CSI
    ``H_csi`` (``simlink.link.precoding``) -> ApplyOFDMChannel with the TRUE
    channel ``H_true`` + AWGN -> UE estimate of the precoded channel (perfect,
    LS or LMMSE on the DMRS) -> LMMSEEqualizer -> Demapper -> LDPC5GDecoder.

The DMRS are precoded like the data, so the UE never needs ``H_csi``: it
estimates the effective channel ``H_true G`` exactly as a 5G UE does. The BS
radiates unit total power per resource element whatever the number of
streams, so with unit-power channel entries the SNR is ``1 / noise_var``.
A block error is a code block whose decoded information bits differ from
the sent ones (genie error detection as in ``sim_ber``; no CRC is modelled).

Monte Carlo follows Sionna's ``sim_ber``: batches of ``LinkCfg.batch_size``
slots run until ``target_block_errors`` block errors or ``max_batches``
batches. :func:`simulate_link` returns raw counts, which merge across workers
by summation (:func:`merge_counts`); :func:`link_metrics` turns them into the
``ber``, ``bler`` and ``goodput_bps_hz`` columns.

Randomness: data bits and noise come from stateless generators keyed by
``(seed, batch index)`` and the channel samples are visited in an order
drawn from ``seed``. The same call therefore gives the same counts in any
process and in any order of calls, and calling every estimator with the same
seed at an SNR point makes their comparison paired (same bits, same noise,
same channels), which reduces the Monte Carlo spread of their differences.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache

import numpy as np
import tensorflow as tf
from sionna.phy.channel import ApplyOFDMChannel
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper
from sionna.phy.mimo import StreamManagement
from sionna.phy.ofdm import (BaseChannelInterpolator, LMMSEEqualizer, LMMSEInterpolator,
                             LSChannelEstimator, PilotPattern, ResourceGrid,
                             ResourceGridMapper)

from simlink.link.config import LinkCfg
from simlink.system import SystemCfg
from simlink.metrics import goodput_bps_hz
from simlink.link.precoding import num_streams, precoding_matrix

# Largest information block of one 5G LDPC code block (base graph 1,
# 38.212 5.2.2); longer transport blocks are segmented into code blocks.
_MAX_CODE_BLOCK_INFO_BITS = 8448


# Fields that only steer the Monte Carlo loop, the MCS choice or the runner:
# they do not change the compiled chain, so they are left out of its cache key.
_LOOP_FIELDS = frozenset({"name", "max_batches", "target_block_errors", "feedback_ber",
                          "adaptation", "mcs_table", "bler_target", "olla_delta_up_db",
                          "olla_warmup_slots"})

# Raw counts returned by simulate_link; they merge by summation. A slot is one
# channel use (one sample, num_ofdm_symbols x n_sc resource elements); a block
# is one LDPC code block; "bits" are information bits; "info_bits_ok" those of
# correctly decoded blocks; "re_total" all resource elements of the slots,
# DMRS included, "re_data" those carrying data (counted once for all streams).
# "mcs_sum" adds up the MCS index of every counted slot under link adaptation
# (NaN at a fixed MCS).
COUNT_KEYS = ("batches", "slots", "blocks", "block_errors", "bits", "bit_errors",
              "info_bits_ok", "re_total", "re_data", "mcs_sum")


def code_block_sizes(n_coded_bits: int, code_rate: float) -> tuple[int, int, int]:
    """Segment ``n_coded_bits`` coded bits per stream and slot into LDPC code blocks.

    Output: ``(num_blocks, n, k)``: equal code blocks of ``n`` coded and
    ``k = int(n * code_rate)`` information bits, as few as the 5G limit of
    8448 information bits per block allows, with ``num_blocks * n == n_coded_bits``.
    """
    c = math.ceil(n_coded_bits * code_rate / _MAX_CODE_BLOCK_INFO_BITS)
    while n_coded_bits % c:
        c += 1
    n = n_coded_bits // c
    return c, n, int(n * code_rate)


def exponential_pdp_freq_cov(n_sc: int, subcarrier_spacing_hz: float,
                             delay_spread_s: float) -> np.ndarray:
    """Frequency covariance [n_sc, n_sc] complex64 of a channel with an
    exponential power-delay profile of RMS delay spread ``delay_spread_s``:
    ``R[m, n] = 1 / (1 + j 2 pi (m - n) df tau_rms)`` (Edfors et al., 1998)."""
    dk = np.arange(n_sc)[:, None] - np.arange(n_sc)[None, :]
    return (1.0 / (1.0 + 2j * np.pi * dk * subcarrier_spacing_hz * delay_spread_s)
            ).astype(np.complex64)


class PowerScaledLMMSEInterpolator(BaseChannelInterpolator):
    """Sionna's :class:`~sionna.phy.ofdm.LMMSEInterpolator` (frequency, then
    time) for a channel of unknown power.

    The design covariances have unit diagonal, but the precoded channel's power
    (the array gain, ``n_bs`` for MRT) is not known in advance. The UE measures
    it on its DMRS, ``c = mean |h_ls|^2 - mean err_var`` per stream and receive
    antenna, and interpolates ``h_ls / sqrt(c)`` with error variance
    ``err_var / c``: LMMSE with covariance ``c R`` is exactly that, rescaled.

    Input: ``h_hat``, ``err_var`` [b, num_rx, num_rx_ant, num_tx, num_streams,
    num_pilots] (LS estimates at the pilots). Output: ``h_hat``, ``err_var``
    [b, num_rx, num_rx_ant, num_tx, num_streams, num_ofdm_symbols, fft_size].
    """

    def __init__(self, pilot_pattern: PilotPattern, cov_mat_time: np.ndarray,
                 cov_mat_freq: np.ndarray):
        super().__init__()
        self._lmmse = LMMSEInterpolator(pilot_pattern, tf.constant(cov_mat_time),
                                        tf.constant(cov_mat_freq), order="f-t")
        # Kronecker patterns leave zero "pilots" where other streams sound.
        self._used = tf.cast(tf.abs(pilot_pattern.pilots) > 0, tf.float32)

    def __call__(self, h_hat: tf.Tensor, err_var: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        err_var = tf.broadcast_to(err_var, tf.shape(h_hat))
        n_used = tf.reduce_sum(self._used, -1, keepdims=True)
        mean_err = tf.reduce_sum(err_var * self._used, -1, keepdims=True) / n_used
        power = tf.reduce_sum(tf.abs(h_hat) ** 2 * self._used, -1, keepdims=True) / n_used
        # A channel faded below the noise keeps a small positive power, so the
        # interpolator shrinks it towards zero instead of dividing by zero.
        power = tf.maximum(power - mean_err, 0.01 * mean_err)
        h, e = self._lmmse(h_hat / tf.cast(tf.sqrt(power), h_hat.dtype), err_var / power)
        power = power[..., None]
        return h * tf.cast(tf.sqrt(power), h.dtype), e * power


class LinkChain:
    """The compiled per-batch chain for one link configuration and array size.

    Build it through :func:`link_chain`, which caches it: tracing and XLA
    compilation happen once per configuration and batch size, not per call.
    """

    def __init__(self, link: LinkCfg, n_bs: int, n_ue: int, n_sc: int,
                 subcarrier_spacing_hz: float):
        self.link, self.n_bs, self.n_ue, self.n_sc = link, n_bs, n_ue, n_sc
        self.num_streams = num_streams(link.precoder, n_ue)
        if self.num_streams > n_bs:
            raise ValueError(f"precoder {link.precoder!r} sends {self.num_streams} streams "
                             f"but the BS has only {n_bs} antennas")
        if n_sc % self.num_streams:
            raise ValueError(f"the DMRS comb of {self.num_streams} streams must divide "
                             f"n_subcarriers_dl={n_sc}")
        self.rg = ResourceGrid(num_ofdm_symbols=link.num_ofdm_symbols, fft_size=n_sc,
                               subcarrier_spacing=subcarrier_spacing_hz, num_tx=1,
                               num_streams_per_tx=self.num_streams, pilot_pattern="kronecker",
                               pilot_ofdm_symbol_indices=list(link.dmrs_symbols))
        m = link.num_bits_per_symbol
        self.num_blocks, self.n, self.k = code_block_sizes(int(self.rg.num_data_symbols) * m,
                                                           link.code_rate)
        self._encoder = LDPC5GEncoder(self.k, self.n)
        self._decoder = LDPC5GDecoder(self._encoder, hard_out=True, num_iter=link.num_bp_iter)
        self._mapper = Mapper("qam", m)
        self._demapper = Demapper("app", "qam", m)
        self._rg_mapper = ResourceGridMapper(self.rg)
        self._channel = ApplyOFDMChannel()
        self._equalizer = LMMSEEqualizer(
            self.rg, StreamManagement(np.ones([1, 1], int), self.num_streams))
        if link.ue_estimator == "ls":
            self._estimator = LSChannelEstimator(self.rg, interpolation_type="lin_time_avg")
        elif link.ue_estimator == "lmmse":
            cov_time = np.ones([link.num_ofdm_symbols] * 2, np.complex64)  # block fading
            cov_freq = exponential_pdp_freq_cov(n_sc, subcarrier_spacing_hz,
                                                link.lmmse_delay_spread_s)
            self._estimator = LSChannelEstimator(
                self.rg, interpolator=PowerScaledLMMSEInterpolator(
                    self.rg.pilot_pattern, cov_time, cov_freq))
        # Transmitter and receiver are always XLA-compiled. Sionna's
        # LMMSEInterpolator does not support XLA (tf.linalg.lstsq), so with it
        # the estimation stage runs as a plain graph between the two XLA
        # clusters; otherwise the whole batch is a single XLA cluster.
        self._transmit_xla = tf.function(self._transmit, jit_compile=True)
        self._receive_xla = tf.function(self._receive, jit_compile=True)
        self.jit_compile = link.ue_estimator != "lmmse"
        self._batch = tf.function(self._run_batch, jit_compile=self.jit_compile)

    @property
    def coded_bits_per_slot(self) -> int:
        return self.num_streams * self.num_blocks * self.n

    def _transmit(self, h_true: tf.Tensor, h_csi: tf.Tensor, no: tf.Tensor,
                  seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """BS -> true channel -> UE antennas.

        Input: ``h_true``, ``h_csi`` [b, n_bs, n_ue, n_sc] complex64; ``no``
        [] float32 noise variance; ``seed`` [2] int64 stateless seed.
        Output: ``bits`` [b, 1, K, num_blocks, k] float32, ``y`` [b, 1, n_ue,
        num_ofdm_symbols, n_sc] complex64, ``h_eff`` [b, n_sc, n_ue, K]
        complex64 the true precoded channel (K streams).
        """
        b = tf.shape(h_true)[0]
        seed_bits, seed_noise = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        bits = tf.cast(tf.random.stateless_uniform(
            [b, 1, self.num_streams, self.num_blocks, self.k], seed_bits, 0, 2, tf.int32),
            tf.float32)
        c = tf.reshape(self._encoder(bits), [b, 1, self.num_streams, -1])
        x_rg = self._rg_mapper(self._mapper(c))                   # [b, 1, K, s, n_sc]

        # Per-subcarrier precoding: g [b, n_sc, n_bs, K] from the BS's CSI
        # in receive x transmit orientation [b, n_sc, n_ue, n_bs].
        g = precoding_matrix(tf.transpose(h_csi, [0, 3, 2, 1]), self.link.precoder, no)
        x_tx = tf.matmul(g, tf.transpose(x_rg[:, 0], [0, 3, 1, 2]))  # [b, n_sc, n_bs, s]
        x_tx = tf.transpose(x_tx, [0, 2, 3, 1])[:, None]            # [b, 1, n_bs, s, n_sc]

        # Sionna layout [b, num_rx, num_rx_ant, num_tx, num_tx_ant, num_ofdm_symbols,
        # fft_size]; one symbol, broadcast by ApplyOFDMChannel (block fading).
        h_freq = tf.transpose(h_true, [0, 2, 1, 3])[:, None, :, None, :, None, :]
        y = self._channel(x_tx, h_freq)                           # [b, 1, n_ue, s, n_sc]
        w = tf.random.stateless_normal(tf.concat([tf.shape(y), [2]], 0), seed_noise)
        y = y + tf.cast(tf.sqrt(no / 2), y.dtype) * tf.complex(w[..., 0], w[..., 1])
        h_eff = tf.matmul(tf.transpose(h_true, [0, 3, 2, 1]), g)   # [b, n_sc, n_ue, K]
        return bits, y, h_eff

    def _estimate(self, y: tf.Tensor, no: tf.Tensor,
                  h_eff: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """UE estimate of the precoded channel in Sionna's layout.

        Output: ``h_hat`` [b, 1, n_ue, 1, K, num_ofdm_symbols, n_sc] complex64
        and its error variance (broadcastable to it) float32. Only the genie
        (``perfect``) reads ``h_eff``.
        """
        if self.link.ue_estimator != "perfect":
            return self._estimator(y, no)
        h = tf.transpose(h_eff, [0, 2, 3, 1])[:, None, :, None, :, None, :]
        shape = tf.concat([tf.shape(h)[:5], [self.rg.num_ofdm_symbols, self.n_sc]], 0)
        return tf.broadcast_to(h, shape), tf.zeros([], tf.float32)

    def _receive(self, y: tf.Tensor, h_hat: tf.Tensor, err_var: tf.Tensor, no: tf.Tensor,
                 bits: tf.Tensor) -> tf.Tensor:
        """Equalise, demap, decode. Output: [2] int32 bit and block errors."""
        x_hat, no_eff = self._equalizer(y, h_hat, err_var, no)
        llr = tf.reshape(self._demapper(x_hat, no_eff),
                         tf.concat([tf.shape(bits)[:-1], [self.n]], 0))  # [b, 1, K, blocks, n]
        errors = tf.not_equal(bits, self._decoder(llr))
        return tf.stack([tf.reduce_sum(tf.cast(errors, tf.int32)),
                         tf.reduce_sum(tf.cast(tf.reduce_any(errors, -1), tf.int32))])

    def _run_batch(self, h_true: tf.Tensor, h_csi: tf.Tensor, no: tf.Tensor,
                   seed: tf.Tensor) -> tf.Tensor:
        """One batch of slots: inputs as :meth:`_transmit`, output as :meth:`_receive`."""
        bits, y, h_eff = self._transmit_xla(h_true, h_csi, no, seed)
        h_hat, err_var = self._estimate(y, no, h_eff)
        return self._receive_xla(y, h_hat, err_var, no, bits)

    def run_batch(self, h_true: np.ndarray, h_csi: np.ndarray, noise_var: float,
                  seed: tuple[int, int]) -> tuple[int, int]:
        """Bit errors and block errors of one batch (see :meth:`_run_batch`)."""
        out = self._batch(tf.constant(h_true, tf.complex64), tf.constant(h_csi, tf.complex64),
                          tf.constant(noise_var, tf.float32), tf.constant(seed, tf.int64))
        bit_errors, block_errors = out.numpy()
        return int(bit_errors), int(block_errors)


def link_chain(link: LinkCfg, system: SystemCfg) -> LinkChain:
    """The cached compiled chain for ``link`` (a fixed MCS) on the arrays and band of ``system``."""
    if link.adaptation != "fixed":
        raise ValueError(f"a compiled chain sends one MCS; link {link.label!r} adapts it per slot")
    graph_cfg = link.model_dump_json(exclude=set(_LOOP_FIELDS))
    return _cached_chain(graph_cfg, system.n_bs, system.n_ue, system.n_subcarriers_dl,
                         system.subcarrier_spacing_hz)


@lru_cache(maxsize=64)   # link adaptation visits one chain per MCS
def _cached_chain(graph_cfg: str, n_bs: int, n_ue: int, n_sc: int, scs: float) -> LinkChain:
    return LinkChain(LinkCfg(adaptation="fixed", **json.loads(graph_cfg)), n_bs, n_ue, n_sc, scs)


def simulate_link(H_true: np.ndarray, H_csi: np.ndarray, link: LinkCfg, system: SystemCfg,
                  snr_db: float, seed: int, *, overhead: float = 0.0,
                  feedback_bits: float = float("nan")) -> dict[str, float]:
    """Monte Carlo coded downlink transmission precoded with ``H_csi``.

    Input:
      ``H_true``, ``H_csi``: [b, n_bs, n_ue, n_sc_dl] complex64, the true DL
      channel and the BS's CSI of it (unit average power per entry, so the
      SNR is ``1 / noise_var`` at unit total transmit power).
      ``overhead``: fraction ``rho`` of DL resources the method spends on
      CSI-RS pilots (``Estimator.pilot_overhead``).
      ``feedback_bits``: feedback payload per CSI report (``Estimator.feedback_bits``;
      NaN for methods without feedback).

    Slots visit the ``b`` samples in a seeded random order, cycling when more
    slots than samples are needed, until ``link.target_block_errors`` block
    errors or ``link.max_batches * link.batch_size`` slots. At a fixed MCS
    they go in compiled batches of ``link.batch_size``; under link adaptation
    (:mod:`simlink.link.adaptation`) one at a time, each at the MCS chosen
    from ``H_csi`` and the ACK/NACK of the slots before it, after
    ``link.olla_warmup_slots`` uncounted slots for the outer loop to settle.

    Output: raw counts (``COUNT_KEYS``, summed over slots) plus the
    per-cell constants ``overhead``, ``feedback_bits`` and ``feedback_re``
    (DL resource elements per CSI period); :func:`link_metrics` turns them
    into ``ber``, ``bler``, ``goodput_bps_hz`` and ``mcs_index``.
    """
    H_true = np.asarray(H_true, np.complex64)
    H_csi = np.asarray(H_csi, np.complex64)
    want = (system.n_bs, system.n_ue, system.n_subcarriers_dl)
    for name, h in (("H_true", H_true), ("H_csi", H_csi)):
        if h.ndim != 4 or h.shape[1:] != want or h.shape[0] != H_true.shape[0]:
            raise ValueError(f"{name} has shape {h.shape}, expected "
                             f"[{H_true.shape[0]}, {', '.join(map(str, want))}]")
    noise_var = 10.0 ** (-snr_db / 10.0)
    order = np.random.default_rng(seed).permutation(H_true.shape[0])
    loop = _fixed_mcs if link.adaptation == "fixed" else _adapted_mcs
    counts = loop(H_true, H_csi, link, system, noise_var, seed, order)
    return {**counts, "overhead": float(overhead), "feedback_bits": float(feedback_bits),
            "feedback_re": system.pilots.period_symbols * system.n_subcarriers_dl}


def _slot_counts(chain: LinkChain, slots: int, bit_errors: int, block_errors: int) -> dict[str, float]:
    """Counts of ``slots`` slots sent through ``chain`` (one MCS)."""
    blocks = slots * chain.num_streams * chain.num_blocks
    return {"slots": slots, "blocks": blocks, "block_errors": block_errors,
            "bits": blocks * chain.k, "bit_errors": bit_errors,
            "info_bits_ok": (blocks - block_errors) * chain.k,
            "re_total": slots * chain.rg.num_ofdm_symbols * chain.n_sc,
            "re_data": slots * int(chain.rg.num_data_symbols)}


def _fixed_mcs(H_true, H_csi, link, system, noise_var, seed, order) -> dict[str, float]:
    chain = link_chain(link, system)
    n, bs = H_true.shape[0], link.batch_size
    bit_errors = block_errors = batches = 0
    while batches < link.max_batches and block_errors < link.target_block_errors:
        idx = order[(batches * bs + np.arange(bs)) % n]
        e_bits, e_blocks = chain.run_batch(H_true[idx], H_csi[idx], noise_var, (seed, batches))
        bit_errors += e_bits
        block_errors += e_blocks
        batches += 1
    return {"batches": batches, **_slot_counts(chain, batches * bs, bit_errors, block_errors),
            "mcs_sum": math.nan}


def _adapted_mcs(H_true, H_csi, link, system, noise_var, seed, order) -> dict[str, float]:
    from simlink.link.adaptation import link_adapter, predicted_sinr
    adapter = link_adapter(link, link.num_ofdm_symbols - len(link.dmrs_symbols))
    sinr = predicted_sinr(H_csi, link.precoder, noise_var)        # [b, n_sc, K]
    warmup = link.olla_warmup_slots if link.adaptation == "olla" else 0
    total = dict.fromkeys(COUNT_KEYS, 0)
    ack, slot = None, 0
    while (total["slots"] < link.max_batches * link.batch_size
           and total["block_errors"] < link.target_block_errors):
        i = order[slot % len(order)]
        mcs = adapter.select(sinr[i], ack)
        m, r = mcs_modulation(link.mcs_table, mcs)
        chain = link_chain(link.model_copy(update={"adaptation": "fixed", "num_bits_per_symbol": m,
                                                   "code_rate": r, "batch_size": 1}), system)
        e_bits, e_blocks = chain.run_batch(H_true[i:i + 1], H_csi[i:i + 1], noise_var, (seed, slot))
        ack = e_blocks == 0      # HARQ: the transport block is every code block of the slot
        slot += 1
        if slot > warmup:
            for k, v in {"batches": 1, **_slot_counts(chain, 1, e_bits, e_blocks),
                         "mcs_sum": mcs}.items():
                total[k] += v
    return total


def peak_bits_per_symbol(link: LinkCfg) -> float:
    """Information bits per data symbol of the link's highest MCS: the fixed
    one, or the top of its 38.214 table (an upper bound of the goodput)."""
    if link.adaptation == "fixed":
        return link.num_bits_per_symbol * link.code_rate
    m, r = mcs_modulation(link.mcs_table, 28 if link.mcs_table == 1 else 27)
    return m * r


@lru_cache(maxsize=None)
def mcs_modulation(table: int, mcs: int) -> tuple[int, float]:
    """Bits per symbol and code rate of PDSCH MCS ``mcs`` in 38.214 table ``table``."""
    from sionna.phy.nr.utils import decode_mcs_index
    m, r = decode_mcs_index(tf.constant(mcs, tf.int32), table_index=table, is_pusch=False)
    return int(m), float(r)


def merge_counts(parts: list[dict[str, float]]) -> dict[str, float]:
    """Merge the outputs of several :func:`simulate_link` calls of one cell:
    counts add up; the per-cell constants must agree."""
    merged = {k: sum(p[k] for p in parts) for k in COUNT_KEYS}
    for k in ("overhead", "feedback_bits", "feedback_re"):
        values = {p[k] for p in parts}
        if len(values) > 1 and not all(math.isnan(v) for v in values):
            raise ValueError(f"cannot merge cells with different {k}: {sorted(values)}")
        merged[k] = parts[0][k]
    return merged


def link_metrics(counts: dict[str, float]) -> dict[str, float]:
    """``ber``, ``bler``, ``goodput_bps_hz`` (:func:`simlink.metrics.goodput_bps_hz`)
    and the mean ``mcs_index`` (NaN at a fixed MCS) from (merged) counts."""
    return {
        "ber": counts["bit_errors"] / counts["bits"],
        "bler": counts["block_errors"] / counts["blocks"],
        "mcs_index": counts["mcs_sum"] / counts["slots"],
        "goodput_bps_hz": goodput_bps_hz(counts["info_bits_ok"], counts["re_total"],
                                         counts["overhead"], counts["feedback_bits"],
                                         counts["feedback_re"]),
    }
