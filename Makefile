# simlink: `make demo` runs the quickstart campaign, `make test` the whole suite.
# Python 3.10 to 3.13: the newest one on PATH is used (python3.13, python3.12,
# python3.11, python3.10, then python3 if it is one of those);
# `make PYTHON=/path/to/python3.x` picks another, `make VENV=dir` another venv.

# Runs on any Python, 2 included: prints "ok|no VERSION BASE_PREFIX", exits 1 on "no".
PYCHECK := import sys; v = sys.version_info; ok = (3, 10) <= v[:2] <= (3, 13); print("%s %d.%d.%d %s" % ("ok" if ok else "no", v[0], v[1], v[2], getattr(sys, "base_prefix", sys.prefix))); sys.exit(not ok)
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for c in python3.13 python3.12 python3.11 python3.10 python3; do \
            $$c -c '$(PYCHECK)' >/dev/null 2>&1 && { command -v $$c; exit; }; done)
endif
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYID   := $(VENV)/.python

# Expanded only by the recipes that need them.
PY_OUT = $(if $(PYTHON),$(shell $(PYTHON) -c '$(PYCHECK)' 2>/dev/null))
PY_ERR = simlink needs Python 3.10, 3.11, 3.12 or 3.13, $(if $(PYTHON),$(if $(PY_OUT),and $(PYTHON) is Python $(word 2,$(PY_OUT)),and $(PYTHON) was not found or does not run),and none of python3.13 python3.12 python3.11 python3.10 python3 on PATH is one): install one or point make at it with make PYTHON=/path/to/python3.13

.PHONY: venv demo test test-fast schema bench clean FORCE

venv: $(STAMP)

# "VERSION PREFIX" of the interpreter, rewritten only when it changes: a new
# interpreter rebuilds the venv below, the same one leaves it alone.
$(PYID): FORCE
	$(if $(filter ok,$(firstword $(PY_OUT))),,$(error $(PY_ERR)))
	@mkdir -p $(VENV); echo '$(wordlist 2,3,$(PY_OUT))' | cmp -s - $@ || echo '$(wordlist 2,3,$(PY_OUT))' > $@

# Re-installs only when pyproject.toml or the interpreter changes: a second
# `make venv` takes about a second.
$(STAMP): pyproject.toml $(PYID)
	@if [ "$$($(BIN)/python -c '$(PYCHECK)' 2>/dev/null)" != "$(PY_OUT)" ]; then \
	  echo "$(VENV): creating it with $(PYTHON) (Python $(word 2,$(PY_OUT)))"; \
	  $(PYTHON) -m venv --clear $(VENV) && echo '$(wordlist 2,3,$(PY_OUT))' > $(PYID); fi
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[ray,test]'
	touch $(STAMP)

demo: venv
	$(BIN)/simlink run scenarios/quickstart.yaml --out runs/quickstart

# Two processes, a test file each at a time (its module fixtures built once):
# 1.22x faster than one on 2 cores (docs/architecture.md, "Tests").
test: venv
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=25 --nbmake --nbmake-timeout=900 tests notebooks

# The edit-test loop: unit tests and laws marked `fast`, no notebooks or campaigns.
test-fast: venv
	$(BIN)/pytest -q -m fast

schema: venv
	$(BIN)/python -c "from simlink.config import schema_json; open('scenarios/schema.json', 'w').write(schema_json())"

clean:
	rm -rf runs .pytest_cache
