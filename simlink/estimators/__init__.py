"""Channel-acquisition methods, one module each, registered by YAML ``kind``."""
from simlink.estimators.base import REGISTRY, Dataset, Estimator, Observation, register
from simlink.estimators import perfect, no_estimation, ls, lmmse, codebook, dmvb, rls, lasso  # noqa: F401  (registration)


def build(cfg) -> Estimator:
    """Instantiate the estimator described by a config model of :mod:`simlink.config`."""
    return REGISTRY[cfg.kind](**cfg.params())


__all__ = ["REGISTRY", "Dataset", "Estimator", "Observation", "register", "build"]
