"""One switch decides whether progress bars show."""
import pytest

from simlink import progress

pytestmark = pytest.mark.fast


def test_the_switch_and_its_overrides(capsys):
    assert not progress.is_quiet()
    with progress.quiet():
        assert progress.is_quiet()
        for _ in progress.bar(range(3), desc="hidden"):
            pass
        with progress.bar(3, desc="shown", quiet=False) as b:
            b.update(3)
    assert not progress.is_quiet()
    err = capsys.readouterr().err
    assert "hidden" not in err and "shown" in err


def test_set_quiet_holds_until_changed(capsys):
    try:
        progress.set_quiet(True)
        with progress.bar(None, desc="unknown total") as b:
            b.update()
        assert capsys.readouterr().err == ""
    finally:
        progress.set_quiet(False)
    assert not progress.is_quiet()
