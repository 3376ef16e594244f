# The two commands of the README: `make demo` and `make test`. Both set up from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# A CPU build of torch: installed first, so that resolving the package never pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo test lint bench clean setup

$(VENV)/.ready: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)" \
	  || $(PIP) install -q --index-url $(TORCH_INDEX) torch
	$(PIP) install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.ready

demo: $(VENV)/.ready
	$(PY) -m repscope tour

test: $(VENV)/.ready
	$(PY) -m pytest -q

lint: $(VENV)/.ready
	$(PY) -m ruff check repscope tests benchmarks

bench: $(VENV)/.ready
	$(PY) benchmarks/geometry.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
