"""Shared fixtures: every test uses a private cache and a quiet TensorFlow."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SIMLINK_CACHE", str(tmp_path_factory.getbasetemp() / "simlink-cache"))
