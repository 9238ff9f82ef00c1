# nbmnist: two commands on a fresh machine.
#   make demo   create .venv, install nbmnist, execute notebooks/01_mlp_mnist.ipynb -> build/
#   make test   create .venv, install with test extras, run ruff, mypy and pytest
# NBMNIST_DATA=/path/to/data make demo   trains on the full data found there.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
STRICT := nbmnist/declaration nbmnist/errors.py nbmnist/metric_log.py nbmnist/runs.py
# Debian's Chromium for the JupyterLab end-to-end test (Playwright's own download is not used)
CHROMIUM := /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv demo test test-browser lint bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,bench]"
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m nbmnist run notebooks/01_mlp_mnist.ipynb --output-dir build

lint: $(STAMP)
	$(BIN)/ruff check nbmnist tests tools bench
	$(BIN)/ruff format --check nbmnist tests tools bench
	$(BIN)/mypy nbmnist
	$(BIN)/mypy --strict --follow-imports=silent $(STRICT)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: lint $(CHROMIUM)
	$(BIN)/python -m pytest

# the JupyterLab + Chromium end-to-end test alone (screenshots in build/e2e/)
test-browser: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest tests/test_jupyterlab.py -v

bench: $(STAMP)
	$(BIN)/python bench/parse_declarations.py
	$(BIN)/python bench/redraw.py
	$(BIN)/python bench/sweep_memory.py
	NBMNIST_DATA=$${NBMNIST_DATA:-../shared/data} $(BIN)/python bench/dashboard_overhead.py
	NBMNIST_DATA=$${NBMNIST_DATA:-../shared/data} $(BIN)/python bench/full_mnist_mlp.py
	$(BIN)/python bench/notebook_cells.py
	NBMNIST_DATA=$${NBMNIST_DATA:-../shared/data} $(BIN)/python bench/time_to_99.py
	NBMNIST_DATA=$${NBMNIST_DATA:-../shared/data} $(BIN)/python bench/startup_and_throughput.py
	NBMNIST_DATA=$${NBMNIST_DATA:-../shared/data} $(BIN)/python bench/input_pipelines.py mlp
	NBMNIST_DATA=$${NBMNIST_DATA:-../shared/data} $(BIN)/python bench/input_pipelines.py cnn 10000

# 10,000 examples per property of the declaration fuzz test (the default run uses 300)
fuzz: $(STAMP)
	NBMNIST_FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -q tests/test_declaration_fuzz.py \
		--hypothesis-show-statistics

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
