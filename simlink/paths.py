"""Where simlink keeps its caches."""
import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of the dataset and weight caches: ``$SIMLINK_CACHE`` or ``~/.cache/simlink``."""
    root = Path(os.environ.get("SIMLINK_CACHE", Path.home() / ".cache" / "simlink"))
    root.mkdir(parents=True, exist_ok=True)
    return root
