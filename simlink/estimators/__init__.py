"""Channel-acquisition methods, one module or folder each, registered by YAML ``kind``."""
from simlink.estimators.base import (REGISTRY, Diagnostic, EstBase, Estimate, Estimator,
                                     FeedbackEstimator, build, register)
from simlink.estimators import perfect, no_estimation, ls, lmmse, codebook, typeii, dmvb, rls, lasso  # noqa: F401,E402  (registration)
from simlink.estimators import compressed  # noqa: F401,E402  (registration)

__all__ = ["REGISTRY", "Diagnostic", "EstBase", "Estimate", "Estimator", "FeedbackEstimator", "build",
           "register"]
