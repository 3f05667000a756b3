"""Benchmark input: farm stream pages fetched ahead of time and turned into Lambda events."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson

from bench.per_record import SCHEMA
from local.events import sqs_record
from sidecar_fn.drift import drifted_fields, valid_invoice_id

PAGE_LIMIT = 1000


@dataclass(frozen=True)
class StreamSpec:
    """Which slice of the farm's stream to read."""

    chaos: bool
    drift_rate: float | None = None
    seed: int = 0


def fetch_stream(
    client: httpx.Client, farm_url: str, spec: StreamSpec, *, cursor: int, count: int
) -> list[str]:
    """Raw record texts from `cursor` on, page by page, `count` of them."""
    texts: list[str] = []
    while len(texts) < count:
        params: dict[str, str | int | float] = {
            "chaos": "true" if spec.chaos else "false",
            "cursor": cursor,
            "limit": min(PAGE_LIMIT, count - len(texts)),
            "seed": spec.seed,
        }
        if spec.chaos and spec.drift_rate is not None:
            params["drift_rate"] = spec.drift_rate
        response = client.get(f"{farm_url}/api/stream", params=params)
        response.raise_for_status()
        page = orjson.loads(response.content)
        texts.extend(record["data"] for record in page["records"])
        cursor = int(page["next_cursor"])
    return texts


@dataclass
class RecordPool:
    """Never-reused records from one stream, fetched on demand (outside any timed section)."""

    client: httpx.Client
    farm_url: str
    spec: StreamSpec
    cursor: int = 0
    _buffer: list[str] = field(default_factory=list)

    def take(self, count: int) -> list[str]:
        """The next `count` records of the stream."""
        if len(self._buffer) < count:
            wanted = max(count - len(self._buffer), PAGE_LIMIT)
            self._buffer.extend(
                fetch_stream(
                    self.client, self.farm_url, self.spec, cursor=self.cursor, count=wanted
                )
            )
            self.cursor += wanted
        taken, self._buffer = self._buffer[:count], self._buffer[count:]
        return taken


class Pool(Protocol):
    """A source of record texts for timed scenarios."""

    def take(self, count: int) -> list[str]:
        """The next `count` records."""
        ...


@dataclass
class RepeatingPool:
    """Records of another pool where a share re-sends a record seen before (same body, so
    the same invoice id; a new message id): upstream retries and re-sent invoices.

    Repeats are drawn, seeded, from the last `window` records handed out.
    """

    inner: Pool
    share: float
    window: int = 5_000
    seed: int = 0
    _history: list[str] = field(default_factory=list)
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def take(self, count: int) -> list[str]:
        """`count` records, each a repeat with probability `share` once there is history."""
        fresh = self.inner.take(count)
        out = []
        for text in fresh:
            if self._history and self._random.random() < self.share:
                out.append(self._random.choice(self._history))
            else:
                out.append(text)
        self._history = (self._history + out)[-self.window :]
        return out


def sqs_event(bodies: Sequence[str], id_prefix: str | None = None) -> dict[str, Any]:
    """An SQS event as Lambda delivers it, one record per body, with distinct message ids."""
    prefix = id_prefix or uuid.uuid4().hex
    return {
        "Records": [
            sqs_record(f"{prefix}-{index:05d}", body, sent_ms=1_764_000_000_000)
            for index, body in enumerate(bodies)
        ]
    }


def batches(texts: Sequence[str], batch_size: int) -> list[dict[str, Any]]:
    """SQS events of `batch_size` records each, every record with a fresh message id."""
    return [
        sqs_event(texts[start : start + batch_size]) for start in range(0, len(texts), batch_size)
    ]


def drifted_ids(event: dict[str, Any]) -> set[str]:
    """Distinct well-formed invoice ids of the event's drifted records (what a repair asks for)."""
    ids: set[str] = set()
    for record in event["Records"]:
        try:
            value = orjson.loads(record["body"])
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict) and drifted_fields(value, SCHEMA):
            invoice_id = value.get("invoice_id")
            if valid_invoice_id(invoice_id):
                ids.add(str(invoice_id))
    return ids


@dataclass
class LambdaContext:
    """The attributes of a Lambda context object that handlers and Powertools read."""

    function_name: str = "aos-ingest-sidecar"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:aos-ingest-sidecar"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/aos-ingest-sidecar"
    log_stream_name: str = "2026/11/25/[$LATEST]bench"

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's remaining time; the benchmark never runs into it."""
        return 300_000
