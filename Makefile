.PHONY: check lint test

check: lint test

lint:
	ruff check .
	ruff format --check .
	mypy
	cfn-lint template.yaml

test:
	pytest

# `sam build` (template.yaml, BuildMethod: makefile) runs this with ARTIFACTS_DIR set:
# the package holds only sidecar_fn/ and its locked dependencies, built for the Lambda
# runtime (CPython 3.12, manylinux x86_64), with bytecode compiled by that Python.
PIP ?= python3 -m pip
# A working CPython 3.12: python3.12 on PATH (a pyenv shim only works when 3.12 is selected),
# else a pyenv install of it.
ifndef LAMBDA_PYTHON
LAMBDA_PYTHON := $(or $(shell python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null),$(lastword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12)),python3.12)
endif
LAMBDA_PIP_FLAGS ?= --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 --only-binary=:all:
LOCK_FLAGS ?= --python-version 3.12 --python-platform x86_64-manylinux2014 --generate-hashes --no-header --quiet

.PHONY: build-SidecarFunction package lock

# Lambda's code directory is read-only: without shipped bytecode every cold start compiles
# every module. unchecked-hash .pyc files are used as they are, without a source stat.
build-SidecarFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R sidecar_fn "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)/sidecar_fn" -name __pycache__ -type d -prune -exec rm -rf {} +
	$(PIP) install --quiet --no-deps --require-hashes --no-compile $(LAMBDA_PIP_FLAGS) -r sidecar_fn/requirements.lock -t "$(ARTIFACTS_DIR)"
	$(LAMBDA_PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)"

# The Lambda package in build/lambda (what `sam build` puts in the artifact).
package:
	rm -rf build/lambda
	$(MAKE) build-SidecarFunction ARTIFACTS_DIR="$(CURDIR)/build/lambda"

# Re-resolve sidecar_fn/requirements.txt into the hash-pinned lock the build installs.
lock:
	uv pip compile sidecar_fn/requirements.txt $(LOCK_FLAGS) -o sidecar_fn/requirements.lock

# The throughput benchmark on the package users run: build/lambda under CPython 3.12, from a
# venv of its own (build/bench-py312) holding the benchmark's dev dependencies.
BENCH_VENV := build/bench-py312
BENCH_ARGS ?= --no-latency --no-runner --no-cold-start

.PHONY: bench-package

$(BENCH_VENV)/.installed: pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(LAMBDA_PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -e '.[dev]'
	touch $@

bench-package: package $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m bench --package build/lambda $(BENCH_ARGS)
