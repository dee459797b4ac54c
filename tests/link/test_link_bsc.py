"""Binary symmetric feedback channel."""
import numpy as np
import pytest

from simlink.feedback.bsc import bsc

#: the whole module takes seconds: `make test-fast` runs it
pytestmark = pytest.mark.fast


def test_p_zero_is_identity_and_draws_nothing():
    rng = np.random.default_rng(0)
    bits = np.random.default_rng(1).integers(0, 2, (7, 33), dtype=np.uint8)
    out = bsc(bits, 0.0, rng)
    assert out.dtype == bits.dtype and np.array_equal(out, bits) and out is not bits
    assert rng.random() == np.random.default_rng(0).random()


@pytest.mark.parametrize("dtype", [bool, np.int8, np.int64])
def test_flips_about_p_of_the_bits(dtype):
    p, n = 0.05, 200_000
    bits = np.random.default_rng(1).integers(0, 2, n).astype(dtype)
    out = bsc(bits, p, np.random.default_rng(2))
    assert out.dtype == bits.dtype and out.shape == bits.shape
    flipped = np.count_nonzero(out != bits)
    assert abs(flipped - p * n) < 5 * np.sqrt(n * p * (1 - p))   # 5 sigma binomial
    assert np.array_equal(bsc(bits, 1.0, np.random.default_rng(3)), 1 - bits.astype(int))


def test_rejects_bad_inputs():
    with pytest.raises(ValueError):
        bsc(np.zeros(4, np.uint8), 1.5, np.random.default_rng(0))
    with pytest.raises(TypeError):
        bsc(np.zeros(4), 0.1, np.random.default_rng(0))
