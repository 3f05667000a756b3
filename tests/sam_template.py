"""The repository's template.yaml, decoded the way cfn-lint reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cfnlint.decode import decode

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


def load_template() -> dict[str, Any]:
    """template.yaml as a dict; fails the test when cfn-lint cannot decode it."""
    decoded, matches = decode(str(TEMPLATE))
    assert not matches, matches
    assert isinstance(decoded, dict)
    return decoded
