# ims-export: every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# SAM CLI pins its own dependencies: it lives in a virtualenv of its own.
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
# `sam build` for python3.13 needs that interpreter on PATH; pyenv machines have it here.
PY313_DIR := $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin))
EVENT ?= events/manual.json

export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup test lint typecheck unit check-asl check-template run follow bench clean

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# Quiet on stdout: `make run > result.json` must hold only the run's JSON, even on a fresh clone.
$(STAMP): requirements-dev.txt constraints.txt layers/common/requirements.txt
	@echo "setting up $(VENV) with the pinned dependencies" >&2
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt >&2
	@touch $@

setup: $(STAMP) ## create .venv with the pinned dependencies

test: lint typecheck unit check-asl check-template ## the whole suite: ruff, mypy, pytest, ASL and template checks

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy (strict)
	$(BIN)/mypy

unit: $(STAMP) ## pytest (exit 5, no tests collected, fails the run)
	$(BIN)/pytest -n 2 -q

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

check-asl: node_modules/.installed ## asl-validator on every state machine definition
	for f in statemachine/*.asl.json; do npx --no-install asl-validator --json-path "$$f"; done

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet "aws-sam-cli==$(SAM_CLI_VERSION)"
	touch $@

check-template: $(SAM) ## sam validate --lint and sam build (python3.13 on PATH where the machine has it)
	$(SAM) validate --lint --region eu-central-1
	@if [ -n "$(PY313_DIR)" ]; then \
		PATH="$(PY313_DIR):$$PATH" $(SAM) build --region eu-central-1; \
	else \
		echo "check-template: no python3.13 on this machine: sam build skipped (sam validate passed)"; \
	fi

# The runner's options as make variables: VERBOSE=1, TIMEOUT=<s> (give up waiting), HEARTBEAT=<s>.
RUN_OPTIONS = $(if $(filter 1 yes true,$(VERBOSE)),--verbose) $(if $(TIMEOUT),--timeout "$(TIMEOUT)") \
	$(if $(HEARTBEAT),--heartbeat "$(HEARTBEAT)")
RUNNER = $(BIN)/python -m localdev.run

run: $(STAMP) ## run the export workflow locally (EVENT=file VERBOSE=1 TIMEOUT=s; OS_CLOUD/OS_* for the real cloud)
	@$(RUNNER) --event "$(EVENT)" $(RUN_OPTIONS)

follow: $(STAMP) ## follow a running IMS export job to its end in the real cloud (JOB=id [IMAGE=id BUCKET_URL=b:o])
	@$(RUNNER) --follow "$(JOB)" $(if $(IMAGE),--image "$(IMAGE)") $(if $(BUCKET_URL),--bucket-url "$(BUCKET_URL)") \
		$(RUN_OPTIONS)

# The vendor SDK baseline of the cold-start benchmark lives in its own virtualenv, never in .venv.
BENCH_VENV := .tools/bench

$(BENCH_VENV)/.installed: benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -r benchmarks/requirements.txt \
		|| { echo "bench: PyPI unreachable: the vendor SDK comparison will be skipped"; rm -rf $(BENCH_VENV); exit 0; }
	touch $@

bench: $(STAMP) $(BENCH_VENV)/.installed ## performance benchmarks (print tables)
	BENCH_PYTHON=$(BENCH_VENV)/bin/python $(BIN)/python -m benchmarks

clean: ## remove build output and caches (keeps the virtualenvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
