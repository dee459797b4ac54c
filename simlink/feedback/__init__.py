"""CSI feedback: bit streams, scalar quantisers and the 3GPP Type-I codebook."""
from simlink.feedback.bits import BitLayout, UniformQuantizer, bit2num, bits_for, num2bit
from simlink.feedback.typei import Pmi, TypeICodebook, subband_index, typei_codebook

__all__ = ["BitLayout", "UniformQuantizer", "bit2num", "bits_for", "num2bit",
           "Pmi", "TypeICodebook", "subband_index", "typei_codebook"]
