# Two commands on a fresh machine:
#   make study   creates .venv from pyproject.toml and runs the whole study (results/report.html)
#   make test    creates .venv, lints (make lint) and runs the unit and end-to-end tests
# Offline or with your own copy of the data: make study DATA_PATH=/path/to/mnist.npz

PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
DATA_PATH ?=
SNAKEMAKE_ARGS ?=

BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: study smoke test lint clean-results

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

study: $(VENV)/.installed
	snakemake --cores $(CORES) $(if $(DATA_PATH),--config data_path=$(DATA_PATH)) $(SNAKEMAKE_ARGS)

smoke: $(VENV)/.installed
	snakemake --cores $(CORES) --configfile config/smoke.yaml $(if $(DATA_PATH),--config data_path=$(DATA_PATH)) $(SNAKEMAKE_ARGS)

test: lint
	pytest -v

# The workflow (snakemake --lint, snakefmt) and the Python (ruff), as the model workflows' CI checks them.
lint: $(VENV)/.installed
	snakemake --lint --config data_path=/dev/null
	snakefmt --check .
	ruff check .
	ruff format --check .

clean-results:
	rm -rf results logs
