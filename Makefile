# Two commands matter: `make dev` (start the service locally) and `make test` (run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install dev test unit integration compat bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

dev: install
	$(BIN)/notifications dev

test: install
	$(BIN)/python -m pytest tests -q

unit: install
	$(BIN)/python -m pytest tests/unit -q

compat: install
	$(BIN)/python -m pytest tests/compat -q

integration: install
	$(BIN)/python -m pytest tests/integration -q

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .cache
