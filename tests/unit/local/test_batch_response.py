"""Lambda's reading of partial batch responses, as the runner and the SQS source apply it."""

from __future__ import annotations

import pytest

from local.batch_response import failed_item_ids, reported_failures

IDS = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}, {"a", "c"}),
        ("not an object", None),
        ({"batchItemFailures": "b"}, None),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{"itemId": "b"}]}, None),
        ({"batchItemFailures": [{"id": "b"}]}, None),
        ({"batchItemFailures": ["b"]}, None),
    ],
)
def test_reported_failures(response: object, expected: set[str] | None) -> None:
    assert reported_failures(response, IDS) == expected
    assert failed_item_ids(response, IDS) == (set(IDS) if expected is None else expected)
