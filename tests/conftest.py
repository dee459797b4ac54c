"""Shared fixtures: every test uses a private cache and a quiet TensorFlow."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Session-wide, so that module- and session-scoped fixtures that train or
    generate data also stay out of the user's cache."""
    old = os.environ.get("SIMLINK_CACHE")
    os.environ["SIMLINK_CACHE"] = str(tmp_path_factory.getbasetemp() / "simlink-cache")
    yield
    if old is None:
        os.environ.pop("SIMLINK_CACHE", None)
    else:
        os.environ["SIMLINK_CACHE"] = old
