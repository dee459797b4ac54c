"""Physics of the FDD pairs (docs/methods.md: law 2 and "Conventions"), real Sionna."""
from __future__ import annotations

import numpy as np
import pytest
from channel_helpers import make_system, mean_with_error

import simlink.channels as ch
from simlink.channels.bands import baseband_frequencies
from simlink.channels import CdlEnv, GaussianEnv, RmaEnv, TdlEnv, UmaEnv, UmiEnv

# Multi-port arrays: a UPA of dual-polarised elements at the BS (8 ports), a 2-element ULA at the UE.
MIMO = {"bs": {"kind": "upa", "rows": 2, "cols": 2, "polarization": "dual"},
        "ue": {"kind": "ula", "n": 2}}
CDL = CdlEnv(name="cdl-c", kind="cdl", model="C")
TDL = TdlEnv(name="tdl-a", kind="tdl", model="A", correlation="medium")
UMI_LOS = UmiEnv(name="umi-los", kind="umi", los=True)
UMI_NLOS = UmiEnv(name="umi-nlos", kind="umi", los=False)
GAUSS = GaussianEnv(name="gauss", kind="gaussian")
#: the other system-level branches and options, and the fixed-delay-spread TDL models
UMA_MIXED = UmaEnv(name="uma-indoor", kind="uma", indoor_probability=0.5, isd_m=300.0,
                   min_bs_ut_dist_m=20.0)
RMA_NLOS = RmaEnv(name="rma-nlos", kind="rma", isd_m=1500.0, min_bs_ut_dist_m=50.0)
TDL_FIXED = [TdlEnv(name=f"tdl-{m.lower()}", kind="tdl", model=m) for m in ("A30", "B100", "C300")]


def _per_draw_power(d: dict) -> np.ndarray:
    return 0.5 * (np.mean(np.abs(d["H_ul"]) ** 2, axis=(1, 2, 3))
                  + np.mean(np.abs(d["H_dl"]) ** 2, axis=(1, 2, 3)))


@pytest.mark.parametrize("env", [CDL, TDL, UMI_LOS, UMI_NLOS, UMA_MIXED, RMA_NLOS, GAUSS, *TDL_FIXED],
                         ids=lambda e: e.name)
def test_zero_duplex_gap_gives_identical_bands(env):
    system = make_system(**MIMO)
    d = ch.generate(env, system, 40, seed=3)
    assert d["H_ul"].shape == (40, 8, 2, 8) and d["H_ul"].dtype == np.complex64
    assert np.all(np.isfinite(d["H_ul"])) and np.abs(d["H_ul"]).max() > 0
    np.testing.assert_array_equal(d["H_ul"], d["H_dl"])


@pytest.mark.parametrize("env", [CDL, TDL, UMI_NLOS, RMA_NLOS], ids=lambda e: e.name)
def test_normalised_to_unit_power_per_entry(env):
    d = ch.generate(env, make_system(**MIMO), 1000, seed=21)
    mean, se = mean_with_error(_per_draw_power(d))
    # the calibration stream is an independent draw of the same size: its error adds up
    assert abs(mean.real - 1.0) < 5 * np.sqrt(2) * se
    assert d["norm_factor"] > 0


def table_profile(env) -> tuple[np.ndarray, np.ndarray]:
    """``(delays_s, powers)`` of a CDL / TDL model from 38.901's tables (the JSON files
    Sionna ships): normalised delays times the delay spread, dB powers, summing to 1."""
    import json
    from pathlib import Path

    import sionna.phy.channel.tr38901 as tr38901

    table = json.loads((Path(tr38901.__file__).parent / "models" / f"{env.kind.upper()}-{env.model}.json")
                       .read_text())
    powers = 10 ** (np.asarray(table["powers"]) / 10)
    return np.asarray(table["delays"]) * env.delay_spread_s, powers / powers.sum()


CDL_300 = CdlEnv(name="cdl-c-300ns", kind="cdl", model="C", delay_spread_s=300e-9)


@pytest.mark.parametrize("env, gap_hz", [
    (CDL_300, 2e6), (CDL_300, 20e6),
    (TdlEnv(name="tdl-c-300ns", kind="tdl", model="C", delay_spread_s=300e-9), 20e6),
    (GaussianEnv(name="gauss-c0.9", kind="gaussian", ul_dl_correlation=0.9,
                 delays_s=[0.0, 0.3e-6, 0.9e-6, 2e-6], powers=[0.4, 0.3, 0.2, 0.1]), 2e6),
], ids=lambda p: p.name if hasattr(p, "name") else f"{p / 1e6:g}MHz")
def test_ul_dl_correlation_follows_power_delay_profile(env, gap_hz):
    """``E[h_ul(f) h_dl(f')^*] / E|h|^2 = c sum_p P_p exp(+j 2 pi (f' - f) tau_p)``,
    complex (a flipped duplex phase conjugates it), on every BS port and UE
    antenna of an 8 x 2 MIMO link, with ``P``, ``tau`` from 38.901's tables
    for CDL / TDL (the Gaussian environment's own profile otherwise).

    UL subcarrier ``k`` and DL subcarrier ``k'`` lie ``gap + f_dl[k'] - f_ul[k]``
    apart: 0.5 MHz subcarriers give 7 separations per gap. The array phases
    differ between the bands by at most ``2 pi d (gap / fc)``, under 0.06 rad here.
    """
    system = make_system(gap_hz=gap_hz, n_sc=4, scs_hz=0.5e6, bs=MIMO["bs"], ue=MIMO["ue"])
    n = 2000
    d = ch.generate(env, system, n, seed=11)
    if env.kind == "gaussian":
        delays, powers = ch.power_delay_profile(env, system)
    else:
        delays, powers = table_profile(env)
        impl = ch.power_delay_profile(env, system)
        np.testing.assert_allclose(impl[0], delays, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(impl[1], powers, rtol=1e-5)
    c = getattr(env, "ul_dl_correlation", 1.0)
    h_ul, h_dl = d["H_ul"].astype(complex), d["H_dl"].astype(complex)      # [n, 8, 2, 4]
    separation = (gap_hz + baseband_frequencies(system, "dl"))[None, :] \
        - baseband_frequencies(system, "ul")[:, None]
    power = np.mean(_per_draw_power(d))
    separations = np.unique(np.round(separation))
    assert len(separations) == 7
    curve = []
    for s in separations:
        k, k_dl = np.nonzero(np.isclose(separation, s))
        # per draw: the mean over ports, UE antennas and subcarrier pairs at this separation
        x = np.mean(h_ul[..., k] * np.conj(h_dl[..., k_dl]), axis=(1, 2, 3))
        mean, se = mean_with_error(x)
        expected = c * np.sum(powers * np.exp(2j * np.pi * s * delays))
        curve.append(expected)
        assert abs(mean / power - expected) < 4 * se / power + 0.005, (s, mean / power, expected)
    # the profile must actually vary over these separations for the test to mean something
    assert max(abs(np.diff(curve))) > 0.05 and max(np.abs(curve)) - min(np.abs(curve)) > 0.1


def test_array_response_uses_each_bands_wavelength():
    """32-element ULA (dual-polarised, 2-antenna UE), 3% gap: with fixed metres
    between elements the DL/UL relation ``E[h_dl h_ul^*]`` turns across the
    array. Were both bands' array responses computed at one wavelength, it
    would be the same on every element (each sees the same power-delay profile)."""
    system = make_system(gap_hz=0.03 * 3.5e9, n_sc=6, n_sc_dl=4,
                         bs={"kind": "ula", "n": 32, "polarization": "dual"}, ue={"kind": "ula", "n": 2})
    env = CdlEnv(name="cdl-c-30ns", kind="cdl", model="C", delay_spread_s=30e-9)
    d = ch.generate(env, system, 2000, seed=5)
    assert d["H_ul"].shape == (2000, 64, 2, 6) and d["H_dl"].shape == (2000, 64, 2, 4)
    # UL and DL subcarriers with equal baseband frequency (k - n // 2) lie exactly one gap apart
    h_ul, h_dl = d["H_ul"][:, :32, 0, 1:5], d["H_dl"][:, :32, 0]  # first polarisation
    relation = np.mean(h_dl * np.conj(h_ul), axis=-1)  # [n, 32]
    first, se_first = mean_with_error(relation[:, 0])
    edge, se_edge = mean_with_error(relation[:, 31])
    assert abs(edge - first) > 10 * (se_first + se_edge)
    # the power is still the same on every element
    assert np.std(np.mean(np.abs(h_dl) ** 2, axis=(0, 2))) < 0.1


def test_tdl_spatial_correlation_is_the_3gpp_level():
    """``medium``: BS ports one row apart correlate with alpha = 0.3, UE ports with beta = 0.9."""
    d = ch.generate(TDL, make_system(**MIMO), 1000, seed=2)
    h = d["H_ul"].astype(complex)
    power = np.mean(np.abs(h) ** 2)
    bs, se_bs = mean_with_error(np.mean(h[:, 0] * np.conj(h[:, 1]), axis=(1, 2)))
    ue, se_ue = mean_with_error(np.mean(h[:, :, 0] * np.conj(h[:, :, 1]), axis=(1, 2)))
    assert abs(bs / power - 0.3) < 5 * se_bs / power + 0.02
    assert abs(ue / power - 0.9) < 5 * se_ue / power + 0.02
