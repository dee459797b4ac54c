"""``no_estimation`` between bands of different sizes: each DL subcarrier takes the
UL subcarrier at the same relative position in its band."""
import numpy as np
import pytest

from simlink.estimators.no_estimation import NoEstimation
from simlink.observation import observe
from simlink.system import SystemCfg

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("n_ul, n_dl, picks", [(8, 4, [1, 3, 5, 7]), (4, 8, [0, 0, 1, 1, 2, 2, 3, 3]),
                                               (6, 6, [0, 1, 2, 3, 4, 5])])
def test_dl_subcarriers_take_the_ul_subcarrier_at_the_same_relative_position(n_ul, n_dl, picks):
    system = SystemCfg(fc_ul_hz=3.5e9, fc_dl_hz=3.6e9, n_subcarriers_ul=n_ul, n_subcarriers_dl=n_dl,
                       bs_array={"kind": "ula", "n": 2}, pilots={"comb": 1})
    rng = np.random.default_rng(0)
    H_ul = (rng.standard_normal((3, 2, 1, n_ul)) + 1j * rng.standard_normal((3, 2, 1, n_ul))).astype(np.complex64)
    H_dl = np.zeros((3, 2, 1, n_dl), np.complex64)
    obs = observe(H_ul, H_dl, system, 300.0, ("ul_csi",), 1)
    out = NoEstimation().estimate(obs).H
    assert out.shape == H_dl.shape and out.dtype == np.complex64
    np.testing.assert_allclose(out, H_ul[..., picks], atol=1e-6)
