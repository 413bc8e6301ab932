# One command surface: `make run` (main job on the bundled sample), `make test`, `make bench N=…`, `make sample`,
# `make docs` (docs/marts.md from sql/catalog.toml), `make screenshots` (docs/img/*.png; needs Chromium).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install run test bench sample docs screenshots clean

$(BIN)/visitmix: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-extras: $(BIN)/visitmix
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.bench-extras: $(BIN)/visitmix
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

$(VENV)/.docs-extras: $(BIN)/visitmix
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

install: $(BIN)/visitmix

run: install
	$(BIN)/visitmix run

test: $(VENV)/.test-extras
	$(BIN)/python -m pytest

N ?= 1000000
ROUNDS ?= 3

bench: $(VENV)/.bench-extras
	$(BIN)/python bench/run_bench.py --rows $(N) --rounds $(ROUNDS) $(BENCH_ARGS)

sample: install
	$(BIN)/python data/sample/make_sample.py

docs: install
	$(BIN)/python -m visitmix.marts_doc

screenshots: $(VENV)/.docs-extras
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) warehouse .prefect
