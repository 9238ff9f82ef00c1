# nbmnist: two commands on a fresh machine.
#   make demo   create .venv, install nbmnist, execute notebooks/01_mlp_mnist.ipynb -> build/
#   make docs   the documentation site in site/ (MkDocs), the lessons executed in fast mode
#   make test   create .venv, install with test extras, run ruff, mypy and pytest: everything on
#               TensorFlow; training, magics, run store, sweeps, dashboard and lesson 03 again
#               on JAX; the dashboard, magics and sweep tests again with Colab's ipywidgets
#               7.7.1, IPython 7.34 and Keras 3.13
#   make test-keras   the backend tests on TensorFlow and JAX with Colab's Keras 3.13 and the
#               newest Keras on the package registry
#   make test-colab-runtime   the backend tests in Colab's Python 3.13 with Colab's versions
#   make test-backends   the backend-dependent tests on TensorFlow, JAX and PyTorch (installs
#               torch: from the registry that is several GB of CUDA libraries)
# NBMNIST_DATA=/path/to/data make demo   trains on the full data found there.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
STRICT := nbmnist/declaration nbmnist/errors.py nbmnist/metric_log.py nbmnist/runs \
	nbmnist/options.py nbmnist/plan.py
# Colab's GPU runtime versions that differ from ours, laid over .venv with PYTHONPATH
COLAB  := .venv-colab
COLAB_PACKAGES := ipywidgets==7.7.1 ipython_genutils==0.2.0 keras==3.13.2 ipython==7.34.0 \
	backcall==0.2.0 pickleshare==0.7.5 decorator==5.2.1
# the tests that run again on JAX (and, with make test-backends, on PyTorch): training, saving
# and reloading, predictions, the printed code's equivalence, the magics, the run store, sweeps,
# the dashboard and the displays, Ctrl-C in a kernel, a notebook choosing its backend, data
# augmentation's random layers and lesson 03 in fast mode; not the tests that choose their
# own backend
BACKEND_TESTS := tests/test_backend.py tests/test_training.py tests/test_kernel.py \
	tests/test_predictions.py tests/test_plan.py tests/test_magics.py tests/test_runs.py \
	tests/test_sweep.py tests/test_display.py tests/test_callbacks.py tests/test_notebook.py \
	tests/test_augmentation.py tests/test_inside.py tests/test_residual.py \
	-m "not same_on_every_backend" \
	-k "not first_cells_imports and (not test_notebook or 03_fashion_mnist_regularization)"
# XLA on a CPU spends most of a test's training compiling, which LLVM's -O0 cuts for epochs
# that tests on a few thousand images barely feel; the product keeps XLA's defaults.
JAX_TEST_FLAGS := XLA_FLAGS=--xla_backend_optimization_level=0
COLAB_TESTS := tests/test_display.py tests/test_magics.py tests/test_sweep.py tests/test_packaging.py \
	tests/test_completion.py
# pytest-xdist: 3 processes on 2 cores (tests wait on kernels, subprocesses and sockets about
# half the time); tests that share a costly fixture stay in one process, the longest groups
# first (tests/conftest.py; xdist would otherwise reorder groups by their number of tests).
# The JAX and Colab passes wait less (fewer kernels): 2 processes are faster for them
# (docs/performance.md). PARALLEL= PARALLEL_SHORT= runs them in one process.
PARALLEL ?= -n 3 --dist loadgroup --no-loadscope-reorder
PARALLEL_SHORT ?= -n 2 --dist loadgroup --no-loadscope-reorder
# Debian's Chromium for the JupyterLab end-to-end test (Playwright's own download is not used)
CHROMIUM := /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv demo docs test test-tensorflow test-jax test-colab test-backends test-keras test-colab-runtime test-browser lint bench bench-gpu stress fuzz clean

# venv --upgrade-deps: the current pip resolves these extras far faster than the one Python
# bundles. The environment is byte-compiled once, here, on every core (compileall -j 0):
# otherwise every test process and kernel compiles TensorFlow's modules on its first import,
# at once. A file that does not compile is left to the interpreter, as pip leaves it.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv --upgrade-deps $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile \
		-e ".[tensorflow,jax,test,bench]"
	$(BIN)/python -m compileall -qq -j 0 $(VENV)/lib || true
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m nbmnist run notebooks/01_mlp_mnist.ipynb --output-dir build

# the documentation site in site/, offline: the lessons executed in fast mode into build/docs
# (on the bundled sample, as they say), the README's pictures taken again from real runs (the
# browser test's screenshot, lesson 01's violins: tools/readme_pictures.py), then MkDocs
# (mkdocs.yml; the generated pages: tools/docs_pages.py)
docs: $(STAMP) $(CHROMIUM)
	for lesson in notebooks/*.ipynb; do \
		$(BIN)/python -m nbmnist run $$lesson --fast --output-dir build/docs || exit 1; \
	done
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_jupyterlab.py
	$(BIN)/python tools/readme_pictures.py build/docs/01_mlp_mnist.ipynb
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check nbmnist tests tools bench
	$(BIN)/ruff format --check nbmnist tests tools bench
	$(BIN)/mypy nbmnist
	$(BIN)/mypy --strict --follow-imports=silent $(STRICT)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(COLAB)/.installed: Makefile $(STAMP)
	rm -rf $(COLAB)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--target $(COLAB) $(COLAB_PACKAGES)
	touch $@

# the three passes, one after the other (the TensorFlow pass keeps both cores busy: side by
# side with the other passes, or with lint, the whole takes longer)
test: lint $(CHROMIUM) $(COLAB)/.installed
	$(MAKE) --no-print-directory test-tensorflow test-jax test-colab

# pytest caches each test module's rewritten assertions as bytecode in tests/__pycache__;
# with PYTHONDONTWRITEBYTECODE set (some machines set it) every worker process rewrites them all
test-tensorflow test-jax test-colab test-backends test-keras test-colab-runtime: export PYTHONDONTWRITEBYTECODE =

test-tensorflow: $(STAMP)
	$(BIN)/python -m pytest $(PARALLEL)

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(JAX_TEST_FLAGS) $(BIN)/python -m pytest $(PARALLEL_SHORT) $(BACKEND_TESTS)

test-colab: $(STAMP) $(COLAB)/.installed
	PYTHONPATH=$(COLAB) NBMNIST_EXPECT_VERSIONS="$(COLAB_PACKAGES)" \
		$(BIN)/python -m pytest $(PARALLEL_SHORT) $(COLAB_TESTS)

test-backends: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[torch]"
	for backend in tensorflow jax torch; do \
		KERAS_BACKEND=$$backend $(BIN)/python -m pytest $(BACKEND_TESTS) || exit 1; \
	done

# the backend tests on TensorFlow and JAX against Colab's Keras (3.13) and against the newest
# Keras on the package registry, each laid over .venv with PYTHONPATH: Colab moves Keras
# forward under its users, and nbmnist's fences around Keras' internals must hold on both
KERAS_VERSIONS := .venv-keras
test-keras: $(STAMP)
	rm -rf $(KERAS_VERSIONS)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--target $(KERAS_VERSIONS)/colab keras==3.13.2
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
		--target $(KERAS_VERSIONS)/newest keras
	for keras in colab newest; do for backend in tensorflow jax; do \
		PYTHONPATH=$(KERAS_VERSIONS)/$$keras KERAS_BACKEND=$$backend \
			$(BIN)/python -m pytest $(PARALLEL_SHORT) $(BACKEND_TESTS) || exit 1; \
	done; done

# Colab's GPU runtime as a whole, in an environment of its own: its Python (3.13) and its
# TensorFlow, Keras, JAX, IPython and ipywidgets, with the backend tests on TensorFlow and on
# JAX. Not in make test: it needs a Python 3.13 (COLAB_PYTHON=/path/to/python3.13).
COLAB_PYTHON ?= python3.13
COLAB_RUNTIME := .venv-colab-runtime
COLAB_RUNTIME_PACKAGES := tensorflow==2.20.0 keras==3.13.2 jax==0.7.2 jaxlib==0.7.2 \
	ipython==7.34.0 ipywidgets==7.7.1
test-colab-runtime:
	test -x $(COLAB_RUNTIME)/bin/python || $(COLAB_PYTHON) -m venv --upgrade-deps $(COLAB_RUNTIME)
	$(COLAB_RUNTIME)/bin/python -m pip install --quiet --disable-pip-version-check \
		$(COLAB_RUNTIME_PACKAGES) -e ".[notebook,dask]" livelossplot hypothesis \
		"pytest>=8,<9.2" pytest-xdist
	for backend in tensorflow jax; do \
		KERAS_BACKEND=$$backend NBMNIST_EXPECT_VERSIONS="$(COLAB_RUNTIME_PACKAGES)" \
			$(COLAB_RUNTIME)/bin/python -m pytest $(PARALLEL_SHORT) $(BACKEND_TESTS) \
			tests/test_packaging.py || exit 1; \
	done

# the JupyterLab + Chromium end-to-end test alone (screenshots in build/e2e/)
test-browser: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest tests/test_jupyterlab.py -v

# the benchmark suite (pytest-benchmark; bench/harness.py), a module at a time, each into its
# results file bench/results/<module>.json, then the performance page's tables from all of
# them (python -m bench.tables). BENCH=bench/display/test_redraw.py measures some again.
BENCH ?= $(sort $(wildcard bench/*/test_*.py))
bench: $(STAMP)
	failed=; for module in $(BENCH); do \
		name=$$(basename $$module .py); \
		$(BIN)/python -m pytest $$module -p no:cacheprovider \
			--benchmark-json bench/results/$${name#test_}.json || failed="$$failed $$module"; \
	done; test -z "$$failed" || { echo "failed:$$failed" >&2; exit 1; }
	$(BIN)/python -m bench.tables

# on a CUDA machine (with a CUDA build of JAX, and torch, in the environment): each backend
# against plain Keras on it, and lesson 01 on full data (docs/performance.md); on a lent GPU
# machine without a package registry, bench/gpu_session.sh prepares and runs it in one command
bench-gpu:
	NBMNIST_DATA=$${NBMNIST_DATA:-../shared/data} $${PYTHON_GPU:-python3} -m bench.gpu \
		--backends jax torch --lesson

# the run store and the kernel under stress: kills, races, Ctrl-C, hostile cells
# (docs/reliability.md); STRESS="--parts sigkill --kills 60" picks parts (tools/stress.py --help)
stress: $(STAMP)
	PYTHONPATH=. $(BIN)/python tools/stress.py $(STRESS)

# 10,000 examples per property of the declaration fuzz test (the default run uses 300)
fuzz: $(STAMP)
	NBMNIST_FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -q tests/test_declaration_fuzz.py \
		--hypothesis-show-statistics

clean:
	rm -rf build site .pytest_cache .mypy_cache .ruff_cache $(COLAB) $(COLAB_RUNTIME) $(KERAS_VERSIONS)
