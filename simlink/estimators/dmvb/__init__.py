"""DM-VB (mixture-of-experts diffusion + variational Bayes) and its diffusion baselines."""
from simlink.estimators.dmvb import dmvb, genie_dm, standard_dm  # noqa: F401  (registration)
