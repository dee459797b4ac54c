"""Downlink precoders computed from the BS's CSI, per subcarrier.

The channel is block-fading over a slot, so one precoder per subcarrier is
enough (Sionna's ``RZFPrecoder`` recomputes it for every OFDM symbol).

- ``mrt``: rank 1. The beam is Sionna's conjugate beamformer
  (:func:`~sionna.phy.mimo.cbf_precoding_matrix`) matched to the dominant
  receive direction ``u`` of ``H`` (principal eigenvector of ``H H^H``), i.e.
  the dominant right singular vector of ``H``: MRT when ``n_ue == 1``, the
  dominant eigen-beam otherwise.
- ``zf`` / ``rzf``: one stream per UE antenna,
  :func:`~sionna.phy.mimo.rzf_precoding_matrix` with ``alpha = 0`` (ZF) or
  ``alpha = n_streams * noise_var`` (the MMSE-optimal regulariser for a total
  transmit power of 1). With ``n_ue == 1`` both equal MRT.

Power: Sionna's precoders give every stream a unit-norm beam (total power
``n_streams``); here the matrix is divided by ``sqrt(n_streams)`` so the BS
always radiates unit total power per resource element, whatever the rank.
The SNR ``1 / noise_var`` therefore means the same thing for every precoder.
"""
from __future__ import annotations

import tensorflow as tf
from sionna.phy.mimo import cbf_precoding_matrix, rzf_precoding_matrix

from simlink.link.config import LinkCfg

Precoder = LinkCfg.model_fields["precoder"].annotation


def num_streams(precoder: Precoder, n_ue: int) -> int:
    """Number of spatial streams a precoder sends to an ``n_ue``-antenna UE."""
    return 1 if precoder == "mrt" else n_ue


def precoding_matrix(h: tf.Tensor, precoder: Precoder, noise_var: tf.Tensor) -> tf.Tensor:
    """Precoding matrices from the BS's CSI.

    Input: ``h`` [..., n_ue, n_bs] complex64, the DL channel as the BS knows
    it (receive x transmit); ``noise_var`` scalar float32 (used by ``rzf``).
    Output: ``g`` [..., n_bs, n_streams] complex64 with ``||g||_F = 1``.
    """
    n_ue = h.shape[-2]
    if precoder == "mrt":
        if n_ue > 1:
            # Dominant receive direction: eigh sorts eigenvalues ascending.
            _, u = tf.linalg.eigh(tf.matmul(h, h, adjoint_b=True))
            h = tf.matmul(u[..., -1:], h, adjoint_a=True)       # [..., 1, n_bs]
        return cbf_precoding_matrix(h)
    k = num_streams(precoder, n_ue)
    alpha = 0.0 if precoder == "zf" else k * noise_var
    g = rzf_precoding_matrix(h, alpha=alpha)
    return g / tf.cast(tf.sqrt(float(k)), g.dtype)
