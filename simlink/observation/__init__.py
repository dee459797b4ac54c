"""What the UE and the BS observe, owned by no method: DL pilot grids (comb
CSI-RS on a Sionna ``ResourceGrid`` and the dense flat model ``Y = H X + N``),
received pilots, partial DL pilots, noisy UL CSI, the flat model's
likelihood pieces, and the one :func:`observe` everything uses."""
from simlink.observation.observe import FeedbackChannel, Observation, observe

__all__ = ["FeedbackChannel", "Observation", "observe"]
