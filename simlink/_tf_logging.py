"""TensorFlow's start-up chatter, kept off stderr.

``TF_CPP_MIN_LOG_LEVEL`` is the one knob: simlink sets it to 3 (only FATAL
lines of TensorFlow's C++ core reach stderr) unless the environment already
sets it, so ``TF_CPP_MIN_LOG_LEVEL=0 simlink ...`` shows everything again.
Three things are needed for that level to hold everywhere:

* the variable itself, set before TensorFlow is imported; spawned worker
  processes inherit it, Ray actors are given it (:data:`QUIET_ENV`);
* a filter around ``import tensorflow``: while its shared libraries load,
  absl logs before TensorFlow has applied the variable (``I0000 ...
  cudart_stub.cc:31] Could not find cuda drivers``, after ``WARNING: All log
  messages before absl::InitializeLog() ...``; with a GPU ``Unable to
  register cuDNN factory`` and the like), and no setting reaches those
  lines. The import runs with file descriptor 2 sent to a temporary file;
  afterwards every line is written back except the log lines below the level;
* TensorFlow's Python logger (retracing and deprecation notes, which only a
  developer can act on) at ERROR from level 2 on, unless it was configured
  already.

simlink's own messages (``warnings.warn``, error lines) are untouched.
"""
from __future__ import annotations

import importlib.abc
import logging
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Iterator, Sequence

#: variables simlink gives TensorFlow unless they are set already
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}

_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# absl/glog "I0101 12:00:00.000000 123 file.cc:31] ..." (before absl knows
# the time zone: "I0000 00:00:1767225600.000000 ..."), and TensorFlow's own
# "2025-01-01 12:00:00.000000: I path/file.cc:31] ..."
_LOG_LINE = re.compile(r"(?:([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ "
                       r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) )\S+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"


def min_log_level() -> int:
    """The C++ log level in effect: ``TF_CPP_MIN_LOG_LEVEL``, read as TensorFlow
    reads it (0 when unset or not an integer)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def is_noise(line: str, level: int) -> bool:
    """Whether ``line`` is a C++ log line that ``level`` hides.

    Parameters
    ----------
    line : str
        One line of stderr.
    level : int
        The minimum severity shown: 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL.
    """
    m = _LOG_LINE.match(line)
    if m:
        return _SEVERITY[m.group(1) or m.group(2)] < level
    return level > 0 and line.startswith(_ABSL_PREAMBLE)


def drop_noise(lines: Sequence[str], level: int) -> list[str]:
    """``lines`` without those :func:`is_noise` rejects."""
    return [line for line in lines if not is_noise(line, level)]


@contextmanager
def filtered_stderr(level: int) -> Iterator[None]:
    """Run the body with file descriptor 2 in a temporary file, then write
    its lines back to descriptor 2 less the noise. Python's ``sys.stderr``
    is flushed on both sides, so its lines keep their place."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:   # no stderr at all: nothing to protect
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = drop_noise(tmp.read().decode(errors="replace").splitlines(keepends=True), level)
            if kept:
                os.write(2, "".join(kept).encode())


class _FilteredLoader(importlib.abc.Loader):
    """Runs another loader's ``exec_module`` under :func:`filtered_stderr`."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its real loader: nothing of this wrapper outlives the import.
        module.__loader__ = module.__spec__.loader = self._loader
        with filtered_stderr(min_log_level()):
            self._loader.exec_module(module)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the finders after it would, with a loader
    that imports it under :func:`filtered_stderr`."""

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    if spec.loader is not None:
                        spec.loader = _FilteredLoader(spec.loader)
                    return spec
        return None


def quiet_tensorflow() -> None:
    """Apply :data:`QUIET_ENV`, the import filter and the Python log level
    (see the module docstring). Call it before anything imports TensorFlow;
    calling it again changes nothing."""
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    level = min_log_level()
    tf_logger = logging.getLogger("tensorflow")
    if level >= 2 and tf_logger.level == logging.NOTSET:
        tf_logger.setLevel(logging.ERROR)
    if level > 0 and "tensorflow" not in sys.modules \
            and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
