"""Sources built on Sionna path models (CDL, TDL, UMi/UMa/RMa).

A model draws the paths of a block ONCE, for both bands, with Sionna at the
UL carrier, one snapshot (t = 0): coefficients ``a`` with frequency-independent
ray phases and delays ``tau`` relative to the first path, the DL ports
carrying the DL array response (:func:`~simlink.channels.arrays.coefficient_array`).
Each band is then evaluated at
its own frequencies: the DL coefficients are turned by
``exp(-j 2 pi (fc_dl - fc_ul) tau)`` and each band goes through
``cir_to_ofdm_channel`` at its baseband subcarrier frequencies. The common
propagation delay of all paths only adds one global phase per drop to the DL
(as do the oscillators of a real link); it is left out.
"""
from __future__ import annotations

import abc

import numpy as np

from simlink.channels.bands import BANDS, baseband_frequencies, n_subcarriers, offset_hz
from simlink.channels.source import BLOCK, SyntheticSource, seeded_tf_rng


def split_bands(a, n_bs: int, n_ue: int):
    """UL and DL ports of coefficients computed with :func:`~simlink.channels.arrays.coefficient_array`.

    Input: ``a [batch, 1, bs ports, 1, ue ports, paths, time]``.
    Output: ``(a_ul, a_dl)``, each ``[batch, 1, n_bs, 1, n_ue, paths, time]``.
    """
    return a[:, :, :n_bs, :, :n_ue], a[:, :, -n_bs:, :, -n_ue:]


class PathSource(SyntheticSource):
    """Shared machinery: subclasses only draw paths (:meth:`paths`); a block
    runs as one XLA-compiled function (every model here compiles)."""

    def __init__(self, env, system):
        super().__init__(env, system)
        import tensorflow as tf

        self._frequencies = {b: tf.constant(baseband_frequencies(system, b), tf.float32)
                             for b in BANDS}
        self._compiled = tf.function(self._block_channels, jit_compile=True)

    @abc.abstractmethod
    def paths(self, batch: int):
        """Draw ``batch`` path sets with Sionna's generator.

        Output: ``(a_ul, a_dl, tau)``: ``a_* [batch, 1, n_bs, 1, n_ue, paths, 1]``
        complex64 with UL-carrier phases (the DL ones with the DL array
        response), ``tau [batch, 1, 1, paths]`` float32 relative delays [s].
        """

    def _block_channels(self):
        import tensorflow as tf
        from sionna.phy.channel import cir_to_ofdm_channel

        a_ul, a_dl, tau = self.paths(BLOCK)
        phase = -2.0 * np.pi * offset_hz(self.system, "dl") * tau
        a_dl = a_dl * tf.exp(tf.complex(tf.zeros_like(phase), phase))[:, :, None, :, None, :, None]
        out = []
        for band, a in zip(BANDS, (a_ul, a_dl)):
            h = cir_to_ofdm_channel(self._frequencies[band], a, tau, normalize=False)
            # [batch, 1, n_bs, 1, n_ue, 1 time step, n_sc] -> [batch, n_bs, n_ue, n_sc]
            out.append(tf.reshape(h, [BLOCK, self.system.n_bs, self.system.n_ue,
                                      n_subcarriers(self.system, band)]))
        return out

    def draw(self, seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
        with seeded_tf_rng(seed):
            h_ul, h_dl = self._compiled()
        return h_ul.numpy(), h_dl.numpy()
