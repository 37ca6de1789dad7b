# Two entry points that work on a fresh machine with Python 3.11+:
#   make demo   a scripted team morning against the local sandbox
#   make test   lint, type checks (mypy --strict on core and storage) and the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint clean settings-doc

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "orch needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/orch demo

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy --strict core storage
	$(BIN)/pytest -q

bench: $(BIN)/.installed
	for b in bench_reconcile bench_claim bench_queue bench_merge; do $(BIN)/python -m bench.$$b || exit 1; done

settings-doc: $(BIN)/.installed
	$(BIN)/python -m app.settings_doc

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
