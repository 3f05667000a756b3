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
# the package holds only sidecar_fn/ and its dependencies, built for the Lambda runtime.
PIP ?= python3 -m pip
LAMBDA_PIP_FLAGS ?= --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 --only-binary=:all:

.PHONY: build-SidecarFunction
build-SidecarFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R sidecar_fn "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)/sidecar_fn" -name __pycache__ -type d -prune -exec rm -rf {} +
	$(PIP) install --quiet --upgrade --no-compile $(LAMBDA_PIP_FLAGS) -r sidecar_fn/requirements.txt -t "$(ARTIFACTS_DIR)"
