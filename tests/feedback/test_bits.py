import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from simlink.feedback.bits import BitLayout, UniformQuantizer, bit2num, bits_for, num2bit
pytestmark = pytest.mark.fast


def test_num2bit_is_msb_first():
    np.testing.assert_array_equal(num2bit(np.array([5, 12]), 4), [[0, 1, 0, 1], [1, 1, 0, 0]])
    assert num2bit(np.array([0, 0]), 0).shape == (2, 0)
    assert bit2num(np.zeros((3, 0), np.uint8)).tolist() == [0, 0, 0]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 62).flatmap(lambda w: st.tuples(
    st.just(w), st.lists(st.integers(0, (1 << w) - 1), min_size=1, max_size=20))))
def test_num2bit_round_trip(width_values):
    width, values = width_values
    x = np.array(values, np.int64)
    bits = num2bit(x, width)
    assert bits.shape == (len(x), width) and bits.dtype == np.uint8
    assert set(np.unique(bits)) <= {0, 1}
    np.testing.assert_array_equal(bit2num(bits), x)


def test_num2bit_rejects_values_that_do_not_fit():
    with pytest.raises(ValueError):
        num2bit(np.array([16]), 4)
    with pytest.raises(ValueError):
        num2bit(np.array([-1]), 4)
    with pytest.raises(ValueError):
        num2bit(np.array([1]), 0)


def test_bits_for():
    assert [bits_for(n) for n in (1, 2, 3, 4, 5, 12, 16, 17)] == [0, 1, 2, 2, 3, 4, 4, 5]


fields = st.lists(st.tuples(st.integers(0, 12), st.integers(1, 4)), min_size=1, max_size=5)


@settings(max_examples=40, deadline=None)
@given(fields, st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_layout_round_trip(spec, b, seed):
    layout = BitLayout(tuple((f"f{i}", w, c) for i, (w, c) in enumerate(spec)))
    rng = np.random.default_rng(seed)
    values = {name: rng.integers(0, 1 << w, size=(b, c)) for name, w, c in layout.fields}
    bits = layout.pack(values)
    assert bits.shape == (b, sum(w * c for w, c in spec)) == (b, layout.n_bits)
    out = layout.unpack(bits)
    for name in values:
        np.testing.assert_array_equal(out[name], values[name])


def test_layout_rejects_a_stream_of_the_wrong_length():
    layout = BitLayout((("a", 3, 2),))
    with pytest.raises(ValueError):
        layout.unpack(np.zeros((1, 5), np.uint8))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.lists(st.floats(-24.0, 8.0), min_size=1, max_size=30))
def test_quantiser_error_is_at_most_half_a_step(bits, xs):
    q = UniformQuantizer(-24.0, 8.0, bits)
    x = np.array(xs)
    i = q.index(x)
    assert i.min() >= 0 and i.max() < 2**bits
    assert np.all(np.abs(q.value(i) - x) <= q.step / 2 + 1e-12)


def test_quantiser_clips_and_uses_every_level():
    q = UniformQuantizer(-24.0, 8.0, 4)
    assert q.step == 2.0
    assert q.index(np.array([-100.0, 100.0])).tolist() == [0, 15]
    levels = q.value(np.arange(16))
    np.testing.assert_allclose(levels, -23.0 + 2.0 * np.arange(16))
    np.testing.assert_array_equal(q.index(levels), np.arange(16))
