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
# Python 3.13 (Lambda's runtime) where the machine has one: on PATH, or installed by pyenv. A pyenv shim
# that names a version not selected fails to run, so each candidate is run once to tell.
PY313 := $(shell for candidate in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13; do \
	"$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null \
	&& { command -v "$$candidate"; break; }; done)
PY313_DIR := $(if $(PY313),$(dir $(PY313)))
# The second Step Functions engine (LocalStack) in a virtualenv of its own, every package pinned.
SECOND_ENGINE := .tools/localstack
SECOND_ENGINE_PINS := localdev/second_engine/requirements.txt
EVENT ?= events/manual.json
# direct: the file is the execution input (StartExecution, a schedule, an EventBridge event);
# smn: the file is the body POSTed to the SMN endpoint.
VIA ?= direct

# Every variable this Makefile reads from a command line. Any other one given there (a typo such as
# EVNT= or RETENTON_COUNT=) is refused, naming the likely one meant, unless the settings or the runner
# read it (localdev/make_variables.py knows those from their own definitions).
MAKE_VARIABLES := PYTHON EVENT VIA OBS_NOTIFICATIONS VERBOSE TIMEOUT HEARTBEAT EARLIER_EXPORTS JOB IMAGE BUCKET_URL REGION PARAMS \
	SMN_ENDPOINT TOPIC APPLY UNDO SMN_API_ENDPOINT
GIVEN_VARIABLES := $(foreach name,$(.VARIABLES),$(if $(filter command line,$(origin $(name))),$(name)))
ifneq ($(strip $(GIVEN_VARIABLES)),)
# Each name in single quotes: a name is the caller's text too, and must not reach the shell as code.
REFUSED_VARIABLE := $(shell $(PYTHON) localdev/make_variables.py --known $(MAKE_VARIABLES) \
	--goals $(foreach goal,$(MAKECMDGOALS),'$(subst ','\'',$(goal))') \
	--given $(foreach name,$(GIVEN_VARIABLES),'$(subst ','\'',$(name))') 2>&1)
ifneq ($(REFUSED_VARIABLE),)
$(error $(REFUSED_VARIABLE))
endif
# A value given on the command line is text: make exports such variables to every recipe, expanding them
# as it does, so each becomes a simple variable holding its value as given (a `$(shell ...)` in it stays
# text, for the runner or SAM to refuse).
$(foreach name,$(GIVEN_VARIABLES),$(eval override $(name) := $$(value $(name))))
# ... and stays in the recipes' environment, as a command-line variable was before it was overridden.
export $(GIVEN_VARIABLES)
endif

export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup test lint typecheck docs unit check-asl check-template second-engine build deploy delete run follow wire-notifications bench bench-gate bench-tools clean

help: ## list the commands and the variables they take
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'
	@echo "variables: $(MAKE_VARIABLES), every setting's variable (RETENTION_COUNT=2, ...) and OS_*"

# Quiet on stdout: `make run > result.json` must hold only the run's JSON, even on a fresh clone.
$(STAMP): requirements-dev.txt constraints.txt layers/common/requirements.txt
	@echo "setting up $(VENV) with the pinned dependencies (once; about a minute): a line per package" >&2
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --progress-bar off -r requirements-dev.txt -c constraints.txt 2>&1 \
		| { grep --line-buffered -E '^(Collecting|Successfully installed)' || true; } | cut -c1-100 >&2
	@touch $@

setup: $(STAMP) ## create .venv with the pinned dependencies

test: lint typecheck check-asl check-template build docs unit ## the whole suite: ruff, mypy, ASL and template checks (sam build as a fresh machine does, and as deployed), the docs site, then pytest

lint: $(STAMP) ## ruff, and the import contracts of .importlinter (layers, a domain without I/O, boto3-free)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=layers/common $(BIN)/lint-imports --no-cache

docs: $(STAMP) ## build the documentation site into .site/ (strict: a broken link or anchor fails it)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

typecheck: $(STAMP) ## mypy (strict)
	$(BIN)/mypy

unit: $(STAMP) $(SAM) second-engine ## pytest (exit 5, no tests collected, fails the run; the template test expands it with SAM's translator)
	$(if $(PY313),IMS_EXPORT_SECOND_ENGINE=required) $(BIN)/pytest -n 2 -q

$(SECOND_ENGINE)/.installed: $(SECOND_ENGINE_PINS)
	@echo "installing the second Step Functions engine (LocalStack) in $(SECOND_ENGINE), Python 3.13 ($(PY313))"
	rm -rf $(SECOND_ENGINE)
	$(PY313) -m venv $(SECOND_ENGINE)
	$(SECOND_ENGINE)/bin/pip install --quiet --no-deps -r $(SECOND_ENGINE_PINS)
	touch $@

second-engine: ## LocalStack in .tools/localstack for the parity tests (needs Python 3.13; without it they are skipped)
ifeq ($(PY313),)
	@echo "second engine skipped: no Python 3.13 on this machine (python3.13 on PATH or pyenv's 3.13)," \
		"so the parity tests on LocalStack do not run; the moto harness runs everything else"
else
	@$(MAKE) --no-print-directory $(SECOND_ENGINE)/.installed
endif

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

check-asl: node_modules/.installed ## asl-validator on every state machine definition
	for f in statemachine/*.asl.json; do npx --no-install asl-validator --json-path "$$f"; done

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet "aws-sam-cli==$(SAM_CLI_VERSION)"
	touch $@

# A PATH as on a machine without Python 3.13: this machine's python3 and the few tools a build runs.
WITHOUT_PY313 := .tools/without-python3.13
$(WITHOUT_PY313)/python3:
	rm -rf $(WITHOUT_PY313) && mkdir -p $(WITHOUT_PY313)
	for tool in sh bash make cp rm find mkdir env uname; do ln -s "$$(command -v $$tool)" $(WITHOUT_PY313)/; done
	ln -s "$$($(PYTHON) -c 'import sys; print(sys.executable)')" $@

# SAM's build cache keys a layer on its sources, not on the environment it was built in: the builds with
# and without bytecode keep separate caches, so that neither is handed the other's layer. SAM keeps the
# source hashes of a build in build.toml beside its build directory: a build into another directory under
# the same parent rewrites them, and the other build's cache then passes stale code off as current. So
# the fresh machine's build has a parent of its own, and every build is checked against the sources.
FRESH_BUILD := .aws-sam/fresh/build
BUILD_CHECK = $(SAM_VENV)/bin/python -m localdev.build_check
check-template: $(SAM) $(WITHOUT_PY313)/python3 ## sam validate --lint, and sam build as a machine without Python 3.13 does
	$(SAM) validate --lint --region eu-central-1
	@# The deploy path of a fresh machine: no Python 3.13 to be found, so no bytecode; the rest as deployed.
	PATH="$(abspath $(WITHOUT_PY313))" COMPILE_PYTHON= $(SAM) build --region eu-central-1 \
		--build-dir $(FRESH_BUILD) --cache-dir .aws-sam/fresh/cache
	$(BUILD_CHECK) $(FRESH_BUILD)
	@test -f $(FRESH_BUILD)/CommonLayer/python/ims_export/__init__.py \
		&& test -f $(FRESH_BUILD)/CommonLayer/python/pydantic_core/__init__.py \
		&& test -f $(FRESH_BUILD)/StartExportFunction/app.py \
		&& ! find $(FRESH_BUILD)/CommonLayer -name '*.pyc' | grep -q . \
		|| { echo "check-template: sam build left out the layer's package, its wheels or a function" \
			"(or shipped bytecode of another Python)" >&2; exit 1; }

SAM_CACHE := .aws-sam/cache-$(if $(PY313),bytecode,source)
SAM_BUILD = $(if $(PY313),PATH="$(PY313_DIR):$$PATH" COMPILE_PYTHON=$(PY313),COMPILE_PYTHON=) $(SAM) build \
	--cache-dir $(SAM_CACHE)
# The build sam deploy uploads, checked against the sources; a stale cache (another build, e.g. a plain
# `sam build`, rewrote its hashes) is dropped and the build made again from the sources.
DEPLOY_BUILD = $(SAM_BUILD) && { $(BUILD_CHECK) .aws-sam/build 2>/dev/null || { \
	echo "sam build reused a stale build cache: building again without it" >&2; \
	rm -rf $(SAM_CACHE) && $(SAM_BUILD) && $(BUILD_CHECK) .aws-sam/build; }; }
build: $(SAM) ## build what sam deploy uploads: wheels for Lambda's python3.13 on arm64, bytecode if Python 3.13 is here
	$(DEPLOY_BUILD)

# The AWS region: REGION=, else the environment's or the AWS profile's (as SAM resolves it), else asked
# for; without a terminal to ask at, refused. PARAMS="ExportBucket=my-bucket ..." overrides parameters: one
# argument to --parameter-overrides, split by SAM itself (its "..." quoting keeps a JSON value whole).
DEPLOY_REGION = region="$${DEPLOY_REGION_GIVEN:-$$($(SAM_VENV)/bin/python -c \
		'import boto3; print(boto3.session.Session().region_name or "")' 2>/dev/null)}"; \
	if [ -z "$$region" ] && [ -t 0 ]; then read -r -p "AWS region to deploy to (e.g. eu-central-1): " region; fi; \
	[ -n "$$region" ] || { echo "refused: no AWS region: give REGION=<region> (or set AWS_REGION, or a" \
		"region in your AWS profile)" >&2; exit 2; }
deploy delete: export DEPLOY_REGION_GIVEN = $(value REGION)
deploy: export DEPLOY_PARAMS = $(value PARAMS)

# One shell for the region, the build and the deploy: the region is asked for once, before anything is built.
deploy: $(SAM) ## build, then deploy the stack with the project's SAM CLI (REGION=..., PARAMS="ExportBucket=...")
	@$(DEPLOY_REGION); echo "deploying to $$region"; \
	$(DEPLOY_BUILD) && $(SAM) deploy --region "$$region" $${DEPLOY_PARAMS:+--parameter-overrides "$$DEPLOY_PARAMS"}

delete: $(SAM) ## delete the deployed stack (SAM asks first; the README's "Uninstall" says what stays)
	@$(DEPLOY_REGION); $(SAM) delete --region "$$region"

# The runner's options as make variables: VERBOSE=1, TIMEOUT=<s> (give up waiting), HEARTBEAT=<s>,
# VIA=smn (post EVENT as the SMN endpoint's body through the template's request mapping).
# They reach the recipes as RUN_<name> environment variables, never pasted into a command line: a quote,
# `$` or backtick in a value stays text (`value`: not even make expands it), and `--option=value` keeps a
# value that starts with `-` a value.
RUN_VARIABLES := EVENT VIA OBS_NOTIFICATIONS VERBOSE TIMEOUT HEARTBEAT EARLIER_EXPORTS JOB IMAGE BUCKET_URL
$(foreach name,$(RUN_VARIABLES),$(eval run follow: export RUN_$(name) = $$(value $(name))))
# Shell code that sets the array `options` from RUN_VERBOSE, RUN_TIMEOUT and RUN_HEARTBEAT; the runner
# checks each value (a refusal is its one line and its JSON document).
RUN_OPTIONS = options=("--verbose=$$RUN_VERBOSE" $${RUN_TIMEOUT:+"--timeout=$$RUN_TIMEOUT"} \
	$${RUN_HEARTBEAT:+"--heartbeat=$$RUN_HEARTBEAT"})
RUNNER = $(BIN)/python -m localdev.run

# EARLIER_EXPORTS=N (the emulator): N earlier exports of the event's image in the bucket before the run.
run: $(STAMP) ## run the export workflow locally (EVENT=file VIA=smn VERBOSE=1 TIMEOUT=s EARLIER_EXPORTS=n OBS_NOTIFICATIONS=lost; OS_CLOUD/OS_* for the real cloud)
	@$(RUN_OPTIONS); \
	$(RUNNER) --event="$$RUN_EVENT" --via="$$RUN_VIA" "$${options[@]}" \
		$${RUN_EARLIER_EXPORTS:+"--earlier-exports=$$RUN_EARLIER_EXPORTS"} \
		$${RUN_OBS_NOTIFICATIONS:+"--obs-notifications=$$RUN_OBS_NOTIFICATIONS"}

follow: $(STAMP) ## follow a running IMS export job to its end in the real cloud (JOB=id [IMAGE=id BUCKET_URL=b:o])
	@$(RUN_OPTIONS); \
	$(RUNNER) --follow="$$RUN_JOB" $${RUN_IMAGE:+"--image=$$RUN_IMAGE"} \
		$${RUN_BUCKET_URL:+"--bucket-url=$$RUN_BUCKET_URL"} "$${options[@]}"

# The cloud side of WAKE_ON_OBS_NOTIFICATION (docs/obs.md): the SMN topic, its policy letting OBS publish,
# the subscription of the stack's SmnEndpoint output (SMN_ENDPOINT=) and EXPORT_BUCKET's event notification.
# A plan by default; APPLY=1 makes it, UNDO=1 plans taking it out (UNDO=1 APPLY=1 does). Values reach the
# command as WIRE_<name> environment variables, as make run's do; the settings' variables (EXPORT_BUCKET,
# EXPORT_OBJECT_PATTERN, OBS_ENDPOINT, CLOUD) and SMN_API_ENDPOINT are in its environment already.
WIRE_VARIABLES := SMN_ENDPOINT TOPIC APPLY UNDO
$(foreach name,$(WIRE_VARIABLES),$(eval wire-notifications: export WIRE_$(name) = $$(value $(name))))

wire-notifications: $(STAMP) ## plan the cloud side of OBS notifications (SMN_ENDPOINT=url EXPORT_BUCKET=name [TOPIC=name APPLY=1 UNDO=1]; OS_CLOUD/OS_*)
	@$(BIN)/python -m localdev.wiring --smn-endpoint="$$WIRE_SMN_ENDPOINT" $${WIRE_TOPIC:+"--topic=$$WIRE_TOPIC"} \
		$${WIRE_APPLY:+"--apply=$$WIRE_APPLY"} $${WIRE_UNDO:+"--undo=$$WIRE_UNDO"}

# The cold-start benchmark runs the `sam build` output as Lambda mounts it, under python3.13. Beside it,
# in .tools/bench (never in .venv): the runtime's boto3 and the vendor-SDK variant's layer, built for this
# machine by the layer's own recipe (layers/common/Makefile). Without python3.13 or PyPI it is skipped.
BENCH_LAMBDA := .tools/bench/lambda-py313
BENCH_PY313 := $(PY313)
HOST_PLATFORM := manylinux2014_$(shell uname -m)

$(BENCH_LAMBDA)/.installed: benchmarks/requirements.txt benchmarks/lambda-runtime.txt layers/common/Makefile
	rm -rf $(BENCH_LAMBDA)
	$(MAKE) --no-print-directory -C layers/common build-CommonLayer ARTIFACTS_DIR=$(abspath $(BENCH_LAMBDA))/vendor-layer \
		REQUIREMENTS=$(abspath benchmarks/requirements.txt) PACKAGES= PLATFORM=$(HOST_PLATFORM) \
		PYTHON=$(BENCH_PY313) COMPILE_PYTHON=$(BENCH_PY313)
	$(BENCH_PY313) -m pip install --quiet --disable-pip-version-check --target $(BENCH_LAMBDA)/runtime \
		-r benchmarks/lambda-runtime.txt -c constraints.txt
	touch $@

bench-tools: $(STAMP) ## sam build and the cold-start comparison's Lambda-like trees (python3.13, PyPI)
	@if [ -z "$(BENCH_PY313)" ]; then echo "bench: no python3.13: the cold-start benchmark will be skipped"; \
	else $(DEPLOY_BUILD) \
		&& $(MAKE) --no-print-directory $(BENCH_LAMBDA)/.installed \
		|| { echo "bench: sam build or PyPI failed: the cold-start benchmark will be skipped"; rm -rf $(BENCH_LAMBDA); }; fi

bench: $(STAMP) $(SAM) bench-tools ## performance benchmarks: a report of every figure and target, missed ones marked (exit 0)
	BENCH_RUNTIME_PYTHON=$(BENCH_PY313) $(BIN)/python -m benchmarks

bench-gate: $(STAMP) $(SAM) bench-tools ## the same benchmarks, failing if a target is missed
	BENCH_RUNTIME_PYTHON=$(BENCH_PY313) $(BIN)/python -m benchmarks --gate

clean: ## remove build output and caches (keeps the virtualenvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
