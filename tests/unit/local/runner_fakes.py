"""Fakes for the runner's unit tests: a scriptable sidecar, a stream, a checkpoint store."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from local.events import StreamRecord
from local.farm_stream import Page
from sidecar_fn.errors import BatchFailed


@dataclass
class FakeReport:
    """The BatchReport shape: counts, failures, their errors, duplicates."""

    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0

    def lambda_response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in self.failures]}


def _items(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    items = []
    for record in event["Records"]:
        if "kinesis" in record:
            data = base64.b64decode(record["kinesis"]["data"]).decode()
            items.append((record["kinesis"]["sequenceNumber"], data))
        else:
            items.append((record["messageId"], record["body"]))
    return items


class FakeSidecar:
    """Outcome by record text: `clean…`, `fix…` (repaired), `bad…` (malformed),
    `lost…` (unrepairable), `flaky<N>…` (fails its first N deliveries), `down…` (always fails).

    Keeps its streams and idempotency markers in memory, like the real sidecar in Redis.
    """

    def __init__(self) -> None:
        self.main: list[str] = []
        self.dlq: list[tuple[str, str, str]] = []
        self.seen: dict[str, str] = {}
        self.deliveries: dict[str, int] = {}
        self.events: list[dict[str, Any]] = []
        self.dead_letters: list[tuple[list[tuple[str, bytes]], str, str]] = []
        self.raise_on_call: set[int] = set()
        self.answer_unknown_id_on_call: set[int] = set()
        self.interrupt_on_call: int | None = None
        self.dead_letter_error: Exception | None = None
        self.calls = 0

    def handle_batch(self, event: dict[str, Any], context: Any) -> FakeReport:
        self.calls += 1
        self.events.append(event)
        assert context.get_remaining_time_in_millis() > 0
        if self.calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        if self.calls in self.raise_on_call:
            raise ConnectionError("redis went away")
        report = FakeReport(counts=dict.fromkeys(("clean", "repaired", "malformed", "failed"), 0))
        for item_id, data in _items(event):
            self.deliveries[item_id] = self.deliveries.get(item_id, 0) + 1
            if item_id in self.seen:
                outcome = self.seen[item_id]
                report.counts[outcome] = report.counts.get(outcome, 0) + 1
                report.duplicates += 1
                continue
            outcome = self._outcome(item_id, data)
            if outcome == "failed":
                report.counts["failed"] += 1
                report.failures.append(item_id)
                report.errors[item_id] = f"HTTP 503 on delivery {self.deliveries[item_id]}"
                continue
            self.seen[item_id] = outcome
            if outcome in ("clean", "repaired"):
                self.main.append(item_id)
            else:
                self.dlq.append((item_id, outcome, data))
            report.counts[outcome] = report.counts.get(outcome, 0) + 1
        if self.calls in self.answer_unknown_id_on_call:
            report.failures.append("not-in-this-batch")
        return report

    def invoke(self, event: dict[str, Any], context: Any) -> FakeReport:
        """handle_batch with the real sidecar's rule: every record failed raises."""
        report = self.handle_batch(event, context)
        if report.failures and report.counts["failed"] == sum(report.counts.values()):
            raise BatchFailed(report, report.lambda_response(), "source of truth down")
        return report

    def _outcome(self, item_id: str, data: str) -> str:
        if data.startswith("flaky"):
            allowed = int(data[5])
            return "failed" if self.deliveries[item_id] <= allowed else "clean"
        for prefix, outcome in (
            ("clean", "clean"),
            ("fix", "repaired"),
            ("bad", "malformed"),
            ("lost", "unrepairable"),
            ("down", "failed"),
        ):
            if data.startswith(prefix):
                return outcome
        raise AssertionError(f"unscripted record {data!r}")

    def dead_letter(self, items: Sequence[tuple[str, bytes]], reason: str, error: str) -> None:
        if self.dead_letter_error is not None:
            raise self.dead_letter_error
        self.dead_letters.append((list(items), reason, error))
        for item_id, raw in items:
            if item_id not in self.seen:
                self.seen[item_id] = reason
                self.dlq.append((item_id, reason, raw.decode()))


class FakeCheckpoints:
    """Remembers every saved cursor."""

    def __init__(self) -> None:
        self.saved: list[int] = []

    def save(self, cursor: int) -> None:
        self.saved.append(cursor)


class FakeStream:
    """A finite stream of scripted texts, served in pages; records every request."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        self.requests: list[tuple[int, int]] = []

    def fetch(self, cursor: int, limit: int) -> Page:
        self.requests.append((cursor, limit))
        chunk = self.texts[cursor : cursor + limit]
        records = [StreamRecord(cursor + i, text) for i, text in enumerate(chunk)]
        return Page(records, cursor + len(records))


def records(texts: Sequence[str], start: int = 0) -> list[StreamRecord]:
    """StreamRecords for `texts` from sequence `start`."""
    return [StreamRecord(start + i, text) for i, text in enumerate(texts)]
