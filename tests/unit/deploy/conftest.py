"""Fixtures for the deployment tests: the decoded template.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sam_template import load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """template.yaml decoded once per test module."""
    return load_template()
