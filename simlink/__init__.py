"""simlink: link-level simulation of FDD MIMO-OFDM channel acquisition."""
from simlink._tf_logging import quiet_tensorflow as _quiet_tensorflow

# First of all: TensorFlow prints its start-up lines while it is imported,
# and worker processes import it through this package too.
_quiet_tensorflow()

from simlink import channels  # noqa: E402
from simlink.config import load_scenario  # noqa: E402

__version__ = "0.1.0"


def run(scenario, out=None, **kwargs):
    """Run a Monte Carlo campaign; see :func:`simlink.campaign.run`."""
    from simlink.campaign import run as _run
    return _run(scenario, out=out, **kwargs)


__all__ = ["channels", "load_scenario", "run", "__version__"]
