#!/usr/bin/env bash
# What a second supported Python (3.10-3.13) can break, beside the default one
# that `make test` used for .venv: a fresh venv, the install, an import of every
# simlink module, validating the scenarios, and the smoke quickstart (its table
# must equal the default interpreter's, wall-clock columns aside). The rest of
# the suite tests code, not the interpreter, and runs once, in `make test`.
# Which second Python: $SIMLINK_CI_PYTHON if set, else of the supported ones
# this machine has (on PATH, or installed by pyenv but not active) other than
# the default's version, the oldest or the newest, whichever is further from
# the default (the newest on a tie). None: one line, and exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."

DEFAULT_PY=.venv/bin/python
[ -x "$DEFAULT_PY" ] || { echo "second Python: $DEFAULT_PY missing (run make venv first)" >&2; exit 1; }
default_minor=$("$DEFAULT_PY" -c 'import sys; print(sys.version_info[1])')

# A candidate counts only if it runs (a pyenv shim may exist for a version that
# is not active or not installed), is the version its name says, and has venv.
works() {  # works PYTHON MINOR
    "$1" -c "import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, $2))" >/dev/null 2>&1
}
find_python() {  # find_python MINOR: prints the first working interpreter of 3.MINOR
    local m=$1 c pyenv_root
    pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    for c in "$(command -v "python3.$m" || true)" \
             $(ls -d "$pyenv_root"/versions/3."$m".*/bin/python3."$m" 2>/dev/null | sort -V -r) \
             /usr/local/bin/python3."$m" /usr/bin/python3."$m"; do
        [ -n "$c" ] && works "$c" "$m" && { echo "$c"; return 0; }
    done
    return 1
}

if [ -n "${SIMLINK_CI_PYTHON:-}" ]; then
    ALT_PY=$SIMLINK_CI_PYTHON
    alt_minor=$("$ALT_PY" -c 'import sys; print(sys.version_info[1])')
else
    others=()
    for m in 10 11 12 13; do
        [ "$m" = "$default_minor" ] && continue
        find_python "$m" >/dev/null && others+=("$m")
    done
    if [ ${#others[@]} -eq 0 ]; then
        echo "second Python: skipped, this machine has no supported Python (3.10-3.13) besides the default 3.$default_minor"
        exit 0
    fi
    lo=${others[0]} hi=${others[-1]}
    if [ $((default_minor - lo)) -gt $((hi - default_minor)) ]; then alt_minor=$lo; else alt_minor=$hi; fi
    ALT_PY=$(find_python "$alt_minor")
fi
echo "second Python: $ALT_PY ($("$ALT_PY" -V 2>&1)), default .venv: $("$DEFAULT_PY" -V 2>&1)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/simlink-py3$alt_minor.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
VENV=$WORK/venv
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

t0=$SECONDS
"$ALT_PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -e '.[test]'
echo "second Python: installed in $((SECONDS - t0)) s"

"$VENV/bin/python" - <<'EOF'
"""Imports every simlink module: syntax, typing and dependency breaks of this interpreter."""
import importlib
import pkgutil

import simlink

names = [m.name for m in pkgutil.walk_packages(simlink.__path__, "simlink.")]
for name in names:
    importlib.import_module(name)
print(f"second Python: imported all {len(names) + 1} simlink modules")
EOF
"$VENV/bin/simlink" validate scenarios/*.yaml

# Each run gets its own cache, so that neither reads the other's channels.
smoke() {  # smoke BIN_DIR NAME
    SIMLINK_CACHE=$WORK/cache-$2 "$1/simlink" run scenarios/quickstart.yaml \
        --smoke --quiet --out "$WORK/smoke-$2"
}
# Side by side: much of a smoke run is interpreter start-up, imports and XLA
# compilation, which overlap well on two cores.
t0=$SECONDS
smoke .venv/bin default & first=$!
smoke "$VENV/bin" alt
wait "$first"
echo "second Python: two smoke quickstarts in $((SECONDS - t0)) s"

"$VENV/bin/python" - "$WORK/smoke-default/results.csv" "$WORK/smoke-alt/results.csv" "3.$default_minor" "3.$alt_minor" <<'EOF'
"""Exact equality of the two smoke tables, but for the wall-clock columns."""
import sys

import pandas as pd

WALL_CLOCK = ["latency_ms", "latency_s_sum"]
path_a, path_b, name_a, name_b = sys.argv[1:5]
a, b = (pd.read_csv(p).drop(columns=WALL_CLOCK, errors="ignore") for p in (path_a, path_b))
problems = []
if list(a.columns) != list(b.columns):
    problems.append(f"columns differ: {sorted(set(a.columns) ^ set(b.columns))}")
elif len(a) != len(b):
    problems.append(f"{len(a)} rows on Python {name_a}, {len(b)} on {name_b}")
else:
    keys = [c for c in ("environment", "estimator", "snr_db") if c in a.columns]
    for col in a.columns:
        x, y = a[col], b[col]
        same = (x == y) | (x.isna() & y.isna())
        for i in same.index[~same.to_numpy()]:
            where = ", ".join(f"{k}={a.at[i, k]}" for k in keys)
            problems.append(f"{col} at row {i} ({where}): {x[i]!r} on Python {name_a}, {y[i]!r} on {name_b}")
if problems:
    print(f"second Python: the smoke quickstart table on Python {name_b} differs from Python {name_a}'s "
          f"({len(problems)} differences):", *problems[:20], sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"second Python: smoke table identical to Python {name_a}'s ({len(a)} rows, {len(a.columns)} columns compared)")
EOF
