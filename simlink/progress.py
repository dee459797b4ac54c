"""Progress bars: the one place that decides whether they show.

The command line's ``--quiet`` and library callers both set one switch
(:func:`set_quiet`, or :func:`quiet` for a block); every bar of the package
comes from :func:`bar`, which obeys it unless the caller overrides it.
Bars go to ``stderr`` and redraw at most every 2 s, so that a long run's log
stays small and the bar costs nothing measurable in a hot loop.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

_quiet = False


def set_quiet(flag: bool) -> None:
    """Hide (``True``) or show (``False``) every progress bar from now on."""
    global _quiet
    _quiet = bool(flag)


def is_quiet() -> bool:
    """Whether bars are hidden by default."""
    return _quiet


@contextmanager
def quiet(flag: bool = True) -> Iterator[None]:
    """Hide (or, with ``flag=False``, show) bars inside the block; the previous
    setting comes back on exit."""
    old = _quiet
    set_quiet(flag)
    try:
        yield
    finally:
        set_quiet(old)


def bar(iterable_or_total: Iterable | int | None = None, *, desc: str | None = None,
        unit: str = "it", leave: bool = True, quiet: bool | None = None) -> tqdm:
    """A tqdm bar on ``stderr`` (redrawn at most every 2 s), disabled when quiet.

    Parameters
    ----------
    iterable_or_total
        What to wrap, or the number of updates expected (``None``: unknown).
    desc, unit, leave
        As for :class:`tqdm.tqdm`.
    quiet
        ``None`` follows :func:`set_quiet`; ``True`` / ``False`` override it.
    """
    hidden = _quiet if quiet is None else quiet
    if isinstance(iterable_or_total, int):
        iterable, total = None, iterable_or_total
    else:
        iterable, total = iterable_or_total, None
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, mininterval=2.0,
                file=sys.stderr, disable=hidden)
