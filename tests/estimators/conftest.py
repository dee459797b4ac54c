"""Fixtures: small real datasets for estimator tests."""
import pytest
from estimator_data import ENVS, SYSTEM, Dataset, make_dataset


@pytest.fixture(scope="session")
def train_set() -> Dataset:
    return make_dataset(SYSTEM, ENVS, 256, 11)


@pytest.fixture(scope="session")
def test_set() -> Dataset:
    return make_dataset(SYSTEM, ENVS, 32, 99)
