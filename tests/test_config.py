"""Scenario schema and `simlink validate`: good files pass, bad files fail
with exit code 2 and one line naming the field, never a traceback."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from simlink.cli import main
from simlink.config import load_scenario, schema_json
pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

GOOD = {
    "name": "t", "seed": 1,
    "system": {"fc_ul_hz": 3.5e9, "fc_dl_hz": 3.62e9, "n_subcarriers_ul": 12,
               "n_subcarriers_dl": 12, "bs_array": {"kind": "ula", "n": 4}},
    "environments": [{"name": "c", "kind": "cdl", "model": "C"}],
    "estimators": [{"name": "p", "kind": "perfect"}, {"name": "l", "kind": "ls"}],
    "sweep": {"snr_db": [0, 10], "n_test": 16, "n_train": 16},
}


def _with(path: tuple, value):
    """GOOD with the entry at ``path`` replaced (``...`` deletes it)."""
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return yaml.safe_dump(data)


BAD = {  # file text -> a fragment the error line must contain
    "not_yaml": ("name: [unclosed\n  seed: 1", "not valid YAML"),
    "not_mapping": ("- a\n- b\n", "expected a mapping"),
    "empty": ("", "got empty"),
    "unknown_top_key": (_with(("colour",), "red"), "colour"),
    "unknown_estimator_key": (_with(("estimators", 1), {"name": "l", "kind": "ls", "rank": 3}),
                              "estimators[1] (l).rank"),
    "misspelt_key": (_with(("estimators", 1), {"name": "l", "kind": "ls", "interpolaton": "linear"}),
                     "estimators[1] (l).interpolaton: Extra inputs are not permitted; did you mean interpolation?"),
    "misspelt_kind": (_with(("estimators", 1), {"name": "l", "kind": "lmse"}), "; did you mean lmmse?"),
    "wrong_type": (_with(("seed",), "abc"), "seed"),
    "unknown_env_kind": (_with(("environments", 0), {"name": "x", "kind": "wifi"}), "environments[0]"),
    "unknown_estimator_kind": (_with(("estimators", 0), {"name": "x", "kind": "magic"}), "estimators[0]"),
    "negative_n_test": (_with(("sweep", "n_test"), -5), "sweep.n_test"),
    "comb_does_not_divide": (_with(("system", "pilots"), {"comb": 5}), "pilots do not fit"),
    "too_many_pilot_symbols": (_with(("system", "pilots"), {"comb": 1, "period_symbols": 2}),
                               "pilots do not fit"),
    "missing_system": (_with(("system",), ...), "system: Field required"),
    "missing_file": (_with(("environments", 0), {"name": "f", "kind": "file", "path": "/nonexistent/x.h5"}),
                     "file not found"),
    "duplicate_names": (_with(("estimators", 1), {"name": "p", "kind": "ls"}), "duplicate"),
    "empty_snr": (_with(("sweep", "snr_db"), []), "sweep.snr_db"),
    "pdp_mismatch": (_with(("environments", 0), {"name": "g", "kind": "gaussian", "delays_s": [0, 1e-7],
                                                  "powers": [1.0]}), "taps"),
    "bad_cdl_model": (_with(("environments", 0), {"name": "c", "kind": "cdl", "model": "Z"}),
                      "environments[0] (c).model"),
    "zero_antennas": (_with(("system", "bs_array"), {"kind": "ula", "n": 0}), "system.bs_array.n"),
    "codebook_ports_mismatch": (_with(("estimators", 1), {"name": "cb", "kind": "codebook", "n1": 3}),
                                "estimators[1].n1"),
    "subband_does_not_divide": (_with(("estimators", 1), {"name": "cb", "kind": "codebook",
                                                          "subband_size": 5}), "subband_size"),
    "bad_name": (_with(("name",), "a/b"), "name"),
    "ls_with_dense_pilots": (_with(("system", "pilots"), {"mode": "dense", "density": 0.5}),
                             "estimators[1].kind: ls needs system.pilots.mode: comb"),
    "negative_frequency": (_with(("system", "fc_dl_hz"), -1.0), "system.fc_dl_hz"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_exits_2_with_one_line_naming_the_field(case, tmp_path, capsys):
    text, fragment = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "no error printed"
    assert any(fragment in line for line in err), err
    assert all(line.startswith(str(path)) for line in err), err
    assert "Traceback" not in "\n".join(err)


def test_file_env_with_wrong_shape_is_rejected(tmp_path, capsys):
    data = tmp_path / "csi.npz"
    np.savez(data, H=np.zeros((10, 3, 30), np.complex64))     # 3 antennas, system has 4
    path = tmp_path / "s.yaml"
    path.write_text(_with(("environments", 0), {"name": "f", "kind": "file", "path": str(data)}))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "environments[0]" in err and "csi.npz" in err


def test_not_utf8_file(tmp_path, capsys):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["validate", str(path)]) == 2
    assert str(path) in capsys.readouterr().err


def test_validate_console_script_no_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD["unknown_estimator_key"][0])
    proc = subprocess.run([sys.executable, "-m", "simlink.cli", "validate", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [line for line in proc.stderr.strip().splitlines()
                                                 if "estimators[1] (l).rank" in line]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenarios_validate(path):
    assert main(["validate", str(path)]) == 0


def test_schema_json_is_current():
    assert (ROOT / "scenarios" / "schema.json").read_text() == schema_json(), \
        "run `make schema` to re-export scenarios/schema.json"


def test_scenario_is_frozen_and_smoke_shrinks():
    s = load_scenario(SCENARIOS[0])
    with pytest.raises(Exception):
        s.seed = 3
    small = s.smoke_version()
    assert small.sweep.n_test == s.smoke.n_test and small.sweep.n_train == s.smoke.n_train
    assert small.content_hash() != s.content_hash()


def test_keys_added_later_are_hashed_only_when_set():
    """A diffusion estimator's plateau keys at their defaults leave the scenario
    hash as it was before they existed (committed results stay current); set,
    they change it."""
    from simlink.hashing import stable_hash
    s = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "dmvb_cdl.yaml")
    data = s.model_dump(mode="json")
    for est in data["estimators"]:
        for key in ("patience", "eval_every", "val_fraction"):
            est.pop(key, None)
    data.pop("plugins")
    for section in ("sweep", "smoke"):
        data[section].pop("pilot_density")
    assert s.content_hash() == stable_hash(data)
    est = s.estimators[0].model_copy(update={"patience": 6})
    assert s.model_copy(update={"estimators": [est, *s.estimators[1:]]}).content_hash() != s.content_hash()
