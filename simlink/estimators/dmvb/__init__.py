"""DM-VB (mixture-of-experts diffusion + variational Bayes) and its diffusion baselines."""
from simlink.estimators.dmvb import dmvb, genie_dm, standard_dm  # noqa: F401  (registration)
from simlink.estimators.dmvb.pilot_model import (PILOT_GRID_KEY, PilotModel, dense_pilot_grid,
                                                 pilot_grid, receive)

__all__ = ["PILOT_GRID_KEY", "PilotModel", "dense_pilot_grid", "pilot_grid", "receive"]
