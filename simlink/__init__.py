"""simlink: link-level simulation of FDD MIMO-OFDM channel acquisition."""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from simlink.config import load_scenario  # noqa: E402

__version__ = "0.1.0"


def run(scenario, out=None, **kwargs):
    """Run a Monte Carlo campaign; see :func:`simlink.campaign.run`."""
    from simlink.campaign import run as _run
    return _run(scenario, out=out, **kwargs)


__all__ = ["load_scenario", "run", "__version__"]
