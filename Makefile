# Two commands do all setup: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_DIRS := $(shell find tests -name package.json -not -path '*/node_modules/*' -exec dirname {} \; 2>/dev/null)

.PHONY: venv install node ctk test quick lint typecheck pytest demo clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py Makefile src/assay/load/http/_fastresp.c examples/courier/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[dev]' -e examples/courier
	# Otava pins numpy and pulls its CLI's cloud clients; assay uses only otava.analysis (numpy, scipy)
	$(BIN)/python -m pip install -q --no-deps 'apache-otava==0.8.0'
	touch $(STAMP)

install: venv node ctk

# The real Chaos Toolkit in its own venv, for the compatibility tests (never in assay's venv).
CTK_STAMP := .venv-ctk/.installed
ctk: $(CTK_STAMP)

$(CTK_STAMP): tests/chaostoolkit-requirements.txt
	$(PYTHON) -m venv --clear .venv-ctk
	.venv-ctk/bin/python -m pip install -q -r tests/chaostoolkit-requirements.txt
	cp tests/chaostoolkit-requirements.txt $(CTK_STAMP)

# npm packages for the compatibility tests (real third-party clients), one folder each.
# Without npm they are not installed and the tests marked `node` skip with the reason (CI fails them).
node:
	@command -v npm >/dev/null || { echo "npm not found: the node tests will skip (apt-get install nodejs npm; .ci/run does)"; exit 0; }; \
	for d in $(NODE_DIRS); do \
	  if [ ! -d $$d/node_modules ] || [ $$d/package.json -nt $$d/node_modules ]; then \
	    echo "npm install in $$d"; (cd $$d && npm install --no-audit --no-fund --loglevel=error) || exit 1; \
	    touch $$d/node_modules; \
	  fi; \
	done

lint: venv
	$(BIN)/ruff check $(wildcard src tests examples benchmarks)

typecheck: venv
	$(BIN)/mypy src

# Two pytest-xdist workers, a whole test file per worker (module fixtures start once, a file's tests
# keep their order); the tests already use their own ports, databases, keys and namespaces.
# PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadfile

pytest: install
	$(BIN)/pytest -q $(XDIST) $(PYTEST_ARGS)

test: lint typecheck pytest

# The inner loop: the tests not marked slow, stopping at the first failure (a few minutes).
quick: install
	$(BIN)/pytest -q -x -m "not slow" $(XDIST) $(PYTEST_ARGS)

demo: install
	bash examples/demo.sh

bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m pip install -q more-itertools structlog
	$(BIN)/python -m pip install -q --no-deps 'signal-processing-algorithms==2.1.6'
	@echo "see benchmarks/README.md"

clean:
	rm -rf $(VENV) .venv-ctk build dist src/*.egg-info
