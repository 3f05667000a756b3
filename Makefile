.PHONY: check lint test

check: lint test

lint:
	ruff check .
	ruff format --check .
	mypy
	cfn-lint template.yaml

test:
	pytest
