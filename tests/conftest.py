"""Shared fixtures: every test uses a private cache, an empty weights store
(the committed one is read only by the tests that check it) and a quiet
TensorFlow."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Session-wide, so that module- and session-scoped fixtures that train or
    generate data also stay out of the user's cache."""
    base = tmp_path_factory.getbasetemp()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIMLINK_CACHE", str(base / "simlink-cache"))
        mp.setenv("SIMLINK_STORE", str(base / "simlink-store"))
        yield
