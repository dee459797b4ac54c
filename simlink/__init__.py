"""simlink: link-level simulation of FDD MIMO-OFDM channel acquisition."""
from simlink._tf_logging import quiet_tensorflow as _quiet_tensorflow

# First of all: TensorFlow prints its start-up lines while it is imported,
# and worker processes import it through this package too.
_quiet_tensorflow()

__version__ = "0.1.0"


def __getattr__(name: str):
    # PEP 562: ``import simlink`` stays light, so that ``simlink run`` can
    # start its worker processes before it imports TensorFlow itself.
    if name == "channels":
        import importlib
        return importlib.import_module("simlink.channels")
    if name == "load_scenario":
        from simlink.config import load_scenario
        return load_scenario
    raise AttributeError(f"module 'simlink' has no attribute {name!r}")


def run(scenario, out=None, **kwargs):
    """Run a Monte Carlo campaign; see :func:`simlink.campaign.run`."""
    from simlink.campaign import run as _run
    return _run(scenario, out=out, **kwargs)


__all__ = ["channels", "load_scenario", "run", "__version__"]
