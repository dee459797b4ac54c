"""Link adaptation: the MCS of every slot chosen from the CSI the BS acquired.

The BS precodes with its CSI ``H_csi`` and predicts, from the same CSI, the
post-equalisation SINR the UE will see on every subcarrier and stream
(:func:`predicted_sinr`: the LMMSE SINR of the channel it believes in, at the
known noise variance). Sionna's system-level blocks turn that prediction into
an MCS of the 38.214 PDSCH table (:class:`LinkAdapter`):

- ``illa``: :class:`sionna.sys.InnerLoopLinkAdaptation`, the highest MCS whose
  transport BLER at the EESM effective SINR (:class:`sionna.sys.PHYAbstraction`
  and its BLER tables) stays at or below ``bler_target``. Imperfect CSI makes
  the prediction optimistic, so the measured BLER overshoots the target.
- ``olla``: :class:`sionna.sys.OuterLoopLinkAdaptation` on top: the predicted
  effective SINR is lowered by an offset that every NACK raises by
  ``olla_delta_up_db`` and every ACK lowers by ``delta_up * t / (1 - t)``, so
  that the measured BLER converges to the target ``t`` whatever the bias of
  the prediction. The offset is what a method's CSI error costs.

The slot is then sent at that MCS through the TRUE channel with the real
LDPC/QAM chain (:mod:`simlink.link.chain`); its ACK (every code block
decoded) feeds the outer loop before the next slot is scheduled.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import tensorflow as tf

from simlink.link.config import LinkCfg
from simlink.link.precoding import Precoder, precoding_matrix

#: 38.214 MCS tables are for the PDSCH (Sionna's category 1) in the downlink
PDSCH = 1


@tf.function(jit_compile=True)
def _predicted_sinr(h_csi: tf.Tensor, no: tf.Tensor, precoder: str) -> tf.Tensor:
    h = tf.transpose(h_csi, [0, 3, 2, 1])                      # [b, n_sc, n_ue, n_bs]
    g = precoding_matrix(h, precoder, no)                      # [b, n_sc, n_bs, K]
    h_eff = tf.matmul(h, g)                                    # [b, n_sc, n_ue, K]
    k = h_eff.shape[-1]
    eye = tf.eye(k, dtype=h_eff.dtype)
    a = eye + tf.matmul(h_eff, h_eff, adjoint_a=True) / tf.cast(no, h_eff.dtype)
    # diag(A^-1)_k = ||L^-1 e_k||^2 with A = L L^H (XLA has no complex MatrixInverse)
    l_inv = tf.linalg.triangular_solve(tf.linalg.cholesky(a), tf.broadcast_to(eye, tf.shape(a)))
    mse = tf.reduce_sum(tf.abs(l_inv) ** 2, axis=-2)
    return 1.0 / mse - 1.0


def predicted_sinr(h_csi: np.ndarray, precoder: Precoder, noise_var: float) -> np.ndarray:
    """Post-LMMSE-equalisation SINR the BS expects from its own CSI.

    Input: ``h_csi`` [b, n_bs, n_ue, n_sc] complex64, the BS's CSI; the
    precoder is :func:`~simlink.link.precoding.precoding_matrix` of that CSI
    (as in the chain). Output: [b, n_sc, K] float32, per subcarrier and
    stream ``1 / [(I + G^H H^H H G / no)^-1]_kk - 1``: the SINR of stream k
    after an LMMSE receiver with unit-power symbols, exact when the CSI is.
    """
    return _predicted_sinr(tf.constant(h_csi, tf.complex64), tf.constant(noise_var, tf.float32),
                           precoder).numpy()


@lru_cache(maxsize=1)
def _phy_abstraction():
    """One PHYAbstraction per process: loading and interpolating its BLER
    tables takes seconds."""
    from sionna.sys import PHYAbstraction
    return PHYAbstraction()


class LinkAdapter:
    """Sionna's ILLA/OLLA for one link configuration and one sequence of slots.

    Parameters
    ----------
    link : LinkCfg
        ``adaptation`` (``illa`` or ``olla``), ``mcs_table``, ``bler_target``,
        ``olla_delta_up_db``.
    n_data_symbols : int
        OFDM symbols of a slot carrying data (the DMRS symbols excluded): the
        number of allocated resource elements the BLER tables are read at.

    Input of :meth:`select`
    -----------------------
    sinr : [n_sc, K] float32, the BS's predicted SINR of the slot.
    ack : bool or None, the HARQ feedback of the previous slot (None: none yet).

    Output: the slot's MCS index (:func:`~simlink.link.chain.mcs_modulation`
    decodes it).
    """

    def __init__(self, link: LinkCfg, n_data_symbols: int):
        from sionna.sys import EESM, InnerLoopLinkAdaptation, OuterLoopLinkAdaptation
        self.link, self.n_data_symbols = link, n_data_symbols
        phy = _phy_abstraction()
        self._illa = InnerLoopLinkAdaptation(phy, bler_target=link.bler_target)
        self._eesm = EESM()
        self._olla = (OuterLoopLinkAdaptation(phy, num_ut=1, bler_target=link.bler_target,
                                              delta_up=link.olla_delta_up_db)
                      if link.adaptation == "olla" else None)

        # One graph per adapter: eager, the three Sionna blocks cost ~0.1 s a slot.
        self._select = tf.function(self._select_graph)

    def _select_graph(self, sinr: tf.Tensor, harq: tf.Tensor) -> tf.Tensor:
        table = self.link.mcs_table
        # Sionna's per-RE layout [num_ofdm_symbols, num_subcarriers, num_ut=1, num_streams]
        per_re = tf.tile(sinr[None, :, None, :], [self.n_data_symbols, 1, 1, 1])
        mcs = self._illa(sinr=per_re[None], mcs_table_index=table, mcs_category=PDSCH)[0]  # [1]
        if self._olla is None:
            return mcs[0]
        # The outer loop reads one effective SINR per slot: EESM of the
        # prediction with the beta of the MCS the inner loop alone would choose.
        sinr_eff = self._eesm(per_re, mcs, mcs_table_index=table, mcs_category=PDSCH)
        n_re = tf.reshape(tf.cast(tf.math.count_nonzero(per_re), tf.int32), [1])
        return self._olla(n_re, harq_feedback=harq, sinr_eff=sinr_eff,
                          mcs_table_index=table, mcs_category=PDSCH)[0]

    def select(self, sinr: np.ndarray, ack: bool | None) -> int:
        harq = tf.constant([-1 if ack is None else int(ack)], tf.int32)
        return int(self._select(tf.constant(sinr, tf.float32), harq))

    def reset(self) -> None:
        """Start a new sequence of slots: the outer loop's offset back to 0 dB
        and its last effective SINR to the initial 0 dB, as when constructed."""
        if self._olla is not None:
            self._olla.reset(sinr_eff_init=1.0)


@lru_cache(maxsize=16)
def _cached_adapter(link_json: str, n_data_symbols: int) -> LinkAdapter:
    return LinkAdapter(LinkCfg.model_validate_json(link_json), n_data_symbols)


def link_adapter(link: LinkCfg, n_data_symbols: int) -> LinkAdapter:
    """The adapter of ``link``, reset for a new cell. Cached per process, so
    its selection graph is traced once, not in every cell."""
    adapter = _cached_adapter(link.model_dump_json(), n_data_symbols)
    adapter.reset()
    return adapter
