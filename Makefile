# simlink: `make demo` runs the quickstart campaign, `make test` the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test schema bench clean

venv: $(STAMP)

# Re-installs only when pyproject.toml changes: a second `make venv` takes seconds.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "simlink needs Python 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[ray,test]'
	touch $(STAMP)

demo: venv
	$(BIN)/simlink run scenarios/quickstart.yaml --out runs/quickstart

test: venv
	SIMLINK_NOTEBOOK_SMOKE=1 $(BIN)/pytest -q --nbmake tests notebooks

schema: venv
	$(BIN)/python -c "from simlink.config import schema_json; open('scenarios/schema.json', 'w').write(schema_json())"

clean:
	rm -rf runs .pytest_cache
