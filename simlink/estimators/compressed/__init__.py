"""Compressed CSI feedback: one data path (:mod:`.base`), one module per method."""
from simlink.estimators.compressed import crnet, csinet_plus, ista, ista_net, klt, lora  # noqa: F401  (registration)
