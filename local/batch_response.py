"""Lambda's reading of a partial batch response (`ReportBatchItemFailures`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def reported_failures(response: object, item_ids: Sequence[str]) -> set[str] | None:
    """The item ids `response` hands back, or None when Lambda would fail the whole batch.

    A missing, null or empty response or failure list means every item succeeded; a
    response that is not an object, or a failure without a valid `itemIdentifier` of this
    batch, makes the whole response invalid.
    """
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    delivered = set(item_ids)
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(identifier, str) or identifier not in delivered:
            return None
        failed.add(identifier)
    return failed


def failed_item_ids(response: object, item_ids: Sequence[str]) -> set[str]:
    """The items Lambda leaves for redelivery after the function returned `response`."""
    failed = reported_failures(response, item_ids)
    return set(item_ids) if failed is None else failed
