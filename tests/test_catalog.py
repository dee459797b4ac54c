"""`simlink list`: every registered kind, read off its config model."""
import re

import pytest

from simlink.catalog import describe, listing, type_name
from simlink.channels import ENVIRONMENTS
from simlink.cli import main
from simlink.estimators import REGISTRY
from simlink.system import PosInt

pytestmark = pytest.mark.fast


def test_listing_shows_every_kind_its_requirements_and_keys():
    text = listing()
    for kind, cls in REGISTRY.items():
        assert f"\n  {kind} " in text
        for key in cls.Config.model_fields:
            if key not in ("name", "kind"):
                assert f"      {key}: " in text
    for kind in ENVIRONMENTS:
        assert f"\n  {kind} " in text
    assert "requires: dl_pilots, feedback; pilots comb" in text       # codebook


@pytest.mark.parametrize("kind", sorted({*REGISTRY, *ENVIRONMENTS}))
def test_every_kind_reads_as_plain_sentences(kind):
    """A whole first sentence in the listing, and no reStructuredText in the terminal."""
    line = next(ln for ln in listing().splitlines() if ln.startswith(f"  {kind} "))
    summary = line[len(f"  {kind} "):].strip()
    assert summary.endswith((".", ")")) and len(summary) <= 110, summary
    for text in (line, describe(kind)):
        assert "``" not in text and not re.search(r":[a-z]+:`", text), kind


def test_describe_shows_types_defaults_and_descriptions():
    text = describe("lmmse")
    assert "covariance: 'environment' | 'global' = 'environment'" in text
    assert "joint LMMSE over every (BS port, subcarrier)" in text       # from the docstring
    assert "Parameters" not in text                                    # listed once, as keys
    assert "delay_spread_s: float > 0 = 1e-07" in describe("cdl")


def test_type_names_keep_constraints_inside_optionals():
    assert type_name(PosInt | None) == "int > 0 | None"


def test_unknown_kind_is_one_line_and_exit_2(capsys):
    assert main(["list", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("unknown kind 'nosuch'; known: cdl, codebook")
