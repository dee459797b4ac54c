"""Sionna's documented downlink chain, kept bare as a peer reference.

This is the downlink of Sionna's tutorial "MIMO OFDM Transmissions over the
CDL Channel Model" (``BinarySource`` -> ``LDPC5GEncoder`` -> ``Mapper`` ->
``ResourceGridMapper`` -> ``RZFPrecoder`` (ZF) -> ``ApplyOFDMChannel`` with
AWGN -> perfect CSI (the precoded channel) or ``LSChannelEstimator`` ->
``LMMSEEqualizer`` -> ``Demapper`` -> ``LDPC5GDecoder``), with one change:
the channel ``h_freq`` is an input instead of being drawn inside, so a test
or benchmark can feed the very same realisations to this chain and to
:mod:`simlink.link.chain`. It shares no code with ``simlink.link.chain``.

Power convention (Sionna's): every stream gets a unit-norm ZF beam, so the
BS radiates ``num_streams`` per resource element; simlink radiates 1. The
two chains see the same per-stream SNR when this one's noise variance is
``num_streams`` times simlink's.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from sionna.phy import Block, config
from sionna.phy.channel import ApplyOFDMChannel, cir_to_ofdm_channel, subcarrier_frequencies
from sionna.phy.channel.tr38901 import CDL, AntennaArray
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import BinarySource, Demapper, Mapper
from sionna.phy.mimo import StreamManagement
from sionna.phy.ofdm import (LMMSEEqualizer, LSChannelEstimator, ResourceGrid,
                             ResourceGridMapper, RZFPrecoder)


class SionnaDownlink(Block):
    """The tutorial's downlink ``Model`` with the channel given.

    Parameters: ``num_streams`` (= UE antennas, one ZF stream each),
    ``fft_size``, ``subcarrier_spacing``, ``num_ofdm_symbols``,
    ``pilot_ofdm_symbol_indices``, ``num_bits_per_symbol``, ``coderate``,
    ``perfect_csi`` and ``ls_interpolation`` (the tutorial uses ``"nn"``).

    Input: ``h_freq`` [b, 1, num_streams, 1, num_bs_ant, 1 or num_ofdm_symbols,
    fft_size] complex64 (Sionna's layout, DL: rx = UE; one OFDM symbol is a
    static channel, broadcast over the slot); ``no`` [] float32; ``seed``
    [2] int64 or None. Without a seed the bits and the noise come from
    Sionna's ``BinarySource`` and ``ApplyOFDMChannel``, as in the tutorial;
    with one they are drawn as :mod:`simlink.link.chain` draws them (a
    stateless split of ``seed`` into a bit and a noise seed), so that the two
    chains see common random numbers and their outcomes differ only where
    their computations do.
    Output: ``b``, ``b_hat`` [b, 1, num_streams, k] float32.
    """

    def __init__(self, *, num_streams: int, fft_size: int, subcarrier_spacing: float,
                 num_ofdm_symbols: int, pilot_ofdm_symbol_indices: list[int],
                 num_bits_per_symbol: int, coderate: float, perfect_csi: bool,
                 ls_interpolation: str = "nn"):
        super().__init__()
        self._perfect_csi = perfect_csi
        self._num_streams = num_streams
        self._sm = StreamManagement(np.array([[1]]), num_streams)
        self._rg = ResourceGrid(num_ofdm_symbols=num_ofdm_symbols, fft_size=fft_size,
                                subcarrier_spacing=subcarrier_spacing, num_tx=1,
                                num_streams_per_tx=num_streams, pilot_pattern="kronecker",
                                pilot_ofdm_symbol_indices=pilot_ofdm_symbol_indices)
        self.n = int(self._rg.num_data_symbols * num_bits_per_symbol)
        self.k = int(self.n * coderate)
        self._binary_source = BinarySource()
        self._encoder = LDPC5GEncoder(self.k, self.n)
        self._mapper = Mapper("qam", num_bits_per_symbol)
        self._rg_mapper = ResourceGridMapper(self._rg)
        self._zf_precoder = RZFPrecoder(self._rg, self._sm, return_effective_channel=True)
        self._channel = ApplyOFDMChannel()
        self._ls_est = LSChannelEstimator(self._rg, interpolation_type=ls_interpolation)
        self._lmmse_equ = LMMSEEqualizer(self._rg, self._sm)
        self._demapper = Demapper("app", "qam", num_bits_per_symbol)
        self._decoder = LDPC5GDecoder(self._encoder, hard_out=True)

    @tf.function(jit_compile=True)
    def call(self, h_freq: tf.Tensor, no: tf.Tensor,
             seed: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        batch_size = tf.shape(h_freq)[0]
        h_freq = tf.broadcast_to(h_freq, tf.concat(
            [tf.shape(h_freq)[:5], [self._rg.num_ofdm_symbols, self._rg.fft_size]], 0))
        shape = [batch_size, 1, self._num_streams, self.k]
        if seed is None:
            b = self._binary_source(shape)
        else:
            seed_bits, seed_noise = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
            b = tf.cast(tf.random.stateless_uniform(shape, seed_bits, 0, 2, tf.int32), tf.float32)
        c = self._encoder(b)
        x = self._mapper(c)
        x_rg = self._rg_mapper(x)
        x_rg, g = self._zf_precoder(x_rg, h_freq)
        if seed is None:
            y = self._channel(x_rg, h_freq, no)
        else:
            y = self._channel(x_rg, h_freq)
            w = tf.random.stateless_normal(tf.concat([tf.shape(y), [2]], 0), seed_noise)
            y = y + tf.cast(tf.sqrt(no / 2), y.dtype) * tf.complex(w[..., 0], w[..., 1])
        if self._perfect_csi:
            h_hat, err_var = g, 0.0
        else:
            h_hat, err_var = self._ls_est(y, no)
        x_hat, no_eff = self._lmmse_equ(y, h_hat, err_var, no)
        llr = self._demapper(x_hat, no_eff)
        b_hat = self._decoder(llr)
        return b, b_hat


def cdl_downlink_channel(batch_size: int, *, num_bs_ant: int, num_ut_ant: int, fft_size: int,
                         subcarrier_spacing: float, model: str = "C",
                         delay_spread: float = 100e-9, carrier_frequency: float = 2.6e9,
                         seed: int = 0) -> np.ndarray:
    """Static CDL downlink channels as in the tutorial (38.901 cross-polarised
    arrays of one row, ``num_ant / 2`` columns; a single vertically polarised
    element when ``num_ant == 1``), normalised to unit energy per resource
    element by ``cir_to_ofdm_channel``. Draws from Sionna's global generator
    after setting ``sionna.phy.config.seed = seed``.

    Output: ``h_freq`` [batch_size, 1, num_ut_ant, 1, num_bs_ant, 1, fft_size]
    complex64 (one OFDM symbol: a static channel is the same on all of them).
    """
    def array(n: int) -> AntennaArray:
        dual = n % 2 == 0
        return AntennaArray(num_rows=1, num_cols=n // 2 if dual else n,
                            polarization="dual" if dual else "single",
                            polarization_type="cross" if dual else "V",
                            antenna_pattern="38.901", carrier_frequency=carrier_frequency)

    config.seed = seed
    cdl = CDL(model, delay_spread, carrier_frequency, array(num_ut_ant), array(num_bs_ant),
              "downlink")
    a, tau = cdl(batch_size, 1, subcarrier_spacing)
    freqs = subcarrier_frequencies(fft_size, subcarrier_spacing)
    return cir_to_ofdm_channel(freqs, a, tau, normalize=True).numpy()
