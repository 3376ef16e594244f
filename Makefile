# The two commands of the README: `make demo` and `make test`. Both set up from nothing.
PYTHON ?= python3
VENV   ?= .venv
# The oldest Python the package supports (requires-python) and the newest tried: pyenv's when
# there is one.
PYTHON310 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python) python3.10)
PYTHON313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python) python3.13)
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# A CPU build of torch: installed first, so that resolving the package never pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo test test-fast test-py310 test-py313 lint bench clean setup lab tour docs js

# The venv with a CPU torch, then the package: `make demo` needs only the demos extra (the widgets
# and scikit-learn: quick to install); `make test` and `make lab` install the dev extra
# (JupyterLab, Playwright, …) on top. Torch's CPU build exists for Python 3.11 only here: on
# another Python, pip takes PyPI's (a CUDA build, ~4.7 GB in the venv; it runs on the CPU).
$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)" \
	  || $(PIP) install -q --index-url $(TORCH_INDEX) torch
	touch $@

$(VENV)/.demo: $(VENV)/.base
	$(PIP) install -q -e ".[demos]"
	touch $@

# The front end's build and test tools (js/: esbuild, eslint), when npm is there: the tests then
# check that the committed repscope/widgets/static/scrubber.js equals a build of js/src, and run
# its unit tests. Without npm (a user's machine may have only Python) those checks are skipped.
$(VENV)/.ready: $(VENV)/.base js/package-lock.json
	$(PIP) install -q -e ".[dev]"
	if command -v npm >/dev/null && ! [ js/node_modules/.package-lock.json -nt js/package-lock.json ]; \
	  then cd js && npm ci --no-audit --no-fund --loglevel=error; fi
	touch $@ $(VENV)/.demo

setup: $(VENV)/.ready

# The main job: train the three-phases demo, scan it, print its phases, write demo.html.
demo: $(VENV)/.demo
	$(PY) -m repscope demo three-phases --html demo.html

tour: $(VENV)/.demo
	$(PY) -m repscope tour

# JupyterLab on the notebooks (http://localhost:8888/lab); as root (a container) it needs
# --allow-root.
lab: $(VENV)/.ready
	$(PY) -m jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) \
	  notebooks/02_three_phases.ipynb

# Two lanes. `make test` runs everything (CI): the demos trained at full size, the notebooks,
# the browser tests, the docs site, a fresh venv for Binder. `make test-fast` leaves out the tests
# marked `slow` (end-to-end runs of more than a few seconds: training a demo, a site build, a
# fresh venv, a Dask cluster) and `browser`; every module keeps its quick tests. Mark a new test
# `@pytest.mark.slow` when it takes more than ~3 s and repeats what quicker tests check piece by
# piece.
test: $(VENV)/.ready
	$(PY) -m pytest -q

test-fast: $(VENV)/.ready
	$(PY) -m pytest -q -m "not slow and not browser"

# The fast lane on the oldest supported Python and on the newest tried, each in a venv of its own.
test-py310:
	$(MAKE) test-fast PYTHON=$(PYTHON310) VENV=.venv310

test-py313:
	$(MAKE) test-fast PYTHON=$(PYTHON313) VENV=.venv313

# The documentation site (mkdocs.yml) into site/, any warning an error: the pages in docs/, the
# API reference from the docstrings, the notebooks as committed (without outputs).
docs: $(VENV)/.ready
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# ruff (lint), ruff's formatter (check only: `ruff format` fixes) and mypy on repscope/, as CI
# runs them; `pre-commit install` runs ruff and the formatter on each commit.
lint: $(VENV)/.ready
	$(PY) -m ruff check repscope tests benchmarks
	$(PY) -m ruff format --check repscope tests benchmarks
	$(PY) -m mypy
	cd js && npx eslint src test build.mjs eslint.config.js

# Rebuild the front end (repscope/widgets/static/scrubber.js) after editing js/src.
js: $(VENV)/.ready
	cd js && npm run build

bench: $(VENV)/.ready
	$(PY) benchmarks/geometry.py

clean:
	rm -rf $(VENV) .venv310 .venv313 .pytest_cache .ruff_cache .hypothesis site js/node_modules
