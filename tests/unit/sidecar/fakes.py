"""Fakes for the sidecar's ports and Lambda context: a source of truth, metrics sink, logger."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

from sidecar_fn.errors import SourceUnavailable

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


def pristine(invoice_id: str) -> dict[str, Any]:
    """A complete invoice whose values derive from its id."""
    number = int(invoice_id.removeprefix("INV-"))
    return {
        "invoice_id": invoice_id,
        "vendor_id": f"VEND-{number % 977:04d}",
        "vendor_name": f"Vendor {number % 977}",
        "total_amount": round(number * 1.25, 2),
        "currency": "USD",
        "status": ("DRAFT", "SUBMITTED", "APPROVED", "PAID", "VOID")[number % 5],
        "issue_date": "2025-01-01",
        "billing_address": {
            "street": "1 Main Street",
            "city": "Austin",
            "postal_code": "78701",
            "country": "US",
        },
        "last_modified": "2025-01-02T00:00:00Z",
    }


class Context:
    """The part of Lambda's context the sidecar reads: a fixed remaining time."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


class FakeSource:
    """SourceOfTruth knowing INV-1..INV-1000000; can fail or answer only some ids."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], float | None]] = []
        self.error: SourceUnavailable | None = None
        self.unanswered: set[str] = set()
        self.overrides: dict[str, dict[str, Any] | None] = {}

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, Mapping[str, Any] | None]:
        self.calls.append((list(ids), budget_s))
        if self.error is not None:
            raise self.error
        answer: dict[str, Mapping[str, Any] | None] = {}
        for invoice_id in ids:
            if invoice_id in self.unanswered:
                continue
            if invoice_id in self.overrides:
                answer[invoice_id] = self.overrides[invoice_id]
                continue
            number = int(invoice_id.removeprefix("INV-"))
            answer[invoice_id] = pristine(invoice_id) if 1 <= number <= 1_000_000 else None
        return answer


class RecordingMetrics:
    """MetricsSink keeping every published set."""

    def __init__(self) -> None:
        self.published: list[dict[str, int]] = []
        self.by_field: list[tuple[str, dict[str, int]]] = []

    def publish(self, counts: Mapping[str, int]) -> None:
        self.published.append(dict(counts))

    def publish_by_field(self, metric: str, counts: Mapping[str, int]) -> None:
        self.by_field.append((metric, dict(counts)))


class CapturedLogger:
    """A Powertools JSON logger writing to memory, with its lines decoded."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.logger = Logger(
            service=f"test-{uuid.uuid4().hex[:8]}", stream=self.stream, level="INFO"
        )

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def messages(self) -> list[str]:
        return [line["message"] for line in self.lines]


def load_event(name: str) -> dict[str, Any]:
    """A sample Lambda event from tests/events."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def expected_outcomes(name: str) -> dict[str, str]:
    """The outcome each item of a sample event must end with (tests/events/expected)."""
    return json.loads((EVENTS_DIR / "expected" / f"{name}.json").read_text())["expected"]
