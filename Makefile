# embedloop: `make demo` runs the lifecycle on embedded services; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The bundled tritonserver's own virtualenv: nvidia-pytriton pins numpy<2, and the python backend runs
# model.py with this venv's python, so torch (CPU wheel, installed first) must be in it too.
TRITON_VENV := .venv-triton
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=
DATASET ?=
export TOKENIZERS_PARALLELISM := false
export PYTHONUNBUFFERED := 1

.PHONY: venv services status stop lint test test-fast demo up bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# torch first, pinned: a plain torch requirement resolved later pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# ranx's numba kernels compile once into their on-disk cache here, not in the first task or test.
	$(BIN)/python -c 'from jobs.training.ir_metrics import warm_up; warm_up()'
	touch $@

$(TRITON_VENV)/bin/.installed:
	test -x $(TRITON_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/python -m pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(TRITON_VENV)/bin/python -m pip install -q nvidia-pytriton==0.7.0
	touch $@

# The console's browser tests drive the distribution's Chromium and ChromeDriver: nothing downloads a
# browser at install or test time. Root installs them; otherwise say what to install.
CHROMIUM := /usr/bin/chromium /usr/bin/chromedriver
APT_BROWSER := DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		$(APT_BROWSER) >/dev/null || { apt-get update -q >/dev/null && $(APT_BROWSER) >/dev/null; }; \
	else echo "install Chromium and ChromeDriver (Debian: sudo $(APT_BROWSER))"; exit 1; fi

venv: $(BIN)/.installed $(TRITON_VENV)/bin/.installed $(CHROMIUM)

services: venv
	$(BIN)/python -m scripts.services start

status: venv
	$(BIN)/python -m scripts.services status

stop: venv
	$(BIN)/python -m scripts.services stop

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint services
	$(BIN)/pytest

test-fast: services
	$(BIN)/pytest -m "not slow and not e2e"

demo: services
	$(BIN)/python -m scripts.lifecycle $(if $(DATASET),dataset=$(abspath $(DATASET)))

up: services
	@# restarts a process that dies (with backoff); Ctrl-C stops them all
	$(BIN)/python -m scripts.services.supervise -e .data/services.env -f Procfile web worker gpu

bench: services
	@shopt -s nullglob; for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python -m bench.$$(basename $$script .py) || exit 1; done

clean: stop
	rm -rf .data
