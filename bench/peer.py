"""The ecosystem peer: Powertools batch processing and Redis idempotency, one record at a time.

What a capable team would write with the standard tools: Powertools' `BatchProcessor`
with `process_partial_response`, the Powertools idempotency utility on Redis
(`CachePersistenceLayer`, the name `RedisCachePersistenceLayer` takes in Powertools v4)
around each record, a pooled httpx client calling the
source of truth's single-invoice route for each drifted record, and one `XADD` per
record. Classification, repair and envelopes are the sidecar's own pure core, so the
comparison measures the shape of the I/O and the tools' overhead, not the core.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import redis
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.cache import (
    CachePersistenceLayer,
)

from bench.per_record import SCHEMA, SINGLE_ROUTE, get_single_invoice
from sidecar_fn.drift import drifted_fields, lookup_problem, valid_invoice_id
from sidecar_fn.envelope import build_meta, dump_envelope, format_received_at
from sidecar_fn.errors import Unrepairable
from sidecar_fn.repair import merge
from sidecar_fn.schema import ID_FIELD

SEEN_TTL_SECONDS = 7 * 24 * 3600
REPAIR_SOURCE = "salesforce"


def idempotency_prefix(source_id: str) -> str:
    """Prefix of the peer's Powertools idempotency keys (matched by BenchKeys.delete)."""
    return f"aos:peer:{source_id}:"


@dataclass(frozen=True)
class PeerConfig:
    """Where the peer reads repairs from and writes entries to."""

    source_id: str
    stream: str
    dlq_stream: str
    farm_url: str
    keepalive: bool = True
    attempts: int = 3
    backoff_seconds: float = 0.05


@dataclass
class PeerReport:
    """Outcome counts and Powertools' partial batch response."""

    response: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)

    def lambda_response(self) -> dict[str, Any]:
        """The partial batch response process_partial_response returned."""
        return self.response


class PowertoolsPeer:
    """Per-record processing with Powertools batch and idempotency utilities."""

    def __init__(
        self,
        config: PeerConfig,
        *,
        redis_client: redis.Redis,
        http_client: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._redis = redis_client
        self._http = http_client
        self._sleep = sleep
        self._outcomes: Counter[str] = Counter()
        self._processor = BatchProcessor(event_type=EventType.SQS)
        self._idempotency = IdempotencyConfig(
            event_key_jmespath="messageId", expires_after_seconds=SEEN_TTL_SECONDS
        )
        persistence = CachePersistenceLayer(client=redis_client)  # type: ignore[arg-type]
        self._record_handler = idempotent_function(
            data_keyword_argument="record",
            persistence_store=persistence,
            config=self._idempotency,
            key_prefix=idempotency_prefix(config.source_id),
        )(self._handle_record)

    def handle_batch(self, event: Mapping[str, Any], context: Any = None) -> PeerReport:
        """Powertools' entry point: process each record, report the ones that failed."""
        self._outcomes = Counter()
        if context is not None:
            self._idempotency.register_lambda_context(context)
        response = process_partial_response(
            event=dict(event),
            record_handler=self._run,
            processor=self._processor,
            context=context,
        )
        counts = dict(self._outcomes)
        counts["failed"] = len(response.get("batchItemFailures", []))
        return PeerReport(response=dict(response), counts=counts)

    def _run(self, record: SQSRecord) -> str:
        outcome: str = self._record_handler(record=record.raw_event)
        self._outcomes[outcome] += 1
        return outcome

    def _handle_record(self, record: dict[str, Any]) -> str:
        """Classify, repair and XADD one SQS record; the returned outcome is what Powertools
        stores and answers for a later delivery of the same message id."""
        item_id = str(record["messageId"])
        body = record.get("body")
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else b""
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return self._dead_letter(item_id, raw, "malformed", f"not valid JSON: {exc}")
        if not isinstance(value, dict):
            return self._dead_letter(item_id, raw, "malformed", "not a JSON object")
        drifted = drifted_fields(value, SCHEMA)
        if not drifted:
            return self._push(item_id, value, (), "clean")
        try:
            problem = lookup_problem(value)
            if problem is not None:
                raise Unrepairable(problem)
            source = self._fetch_one(str(value[ID_FIELD]))
            repaired = merge(value, drifted, source, SCHEMA)
        except Unrepairable as exc:
            return self._dead_letter(item_id, raw, "unrepairable", str(exc))
        return self._push(item_id, repaired, drifted, "repaired")

    def _fetch_one(self, invoice_id: str) -> dict[str, Any]:
        if not valid_invoice_id(invoice_id):
            raise Unrepairable(f"invoice id {invoice_id!r} is not valid")
        return get_single_invoice(
            self._http,
            f"{self.config.farm_url}{SINGLE_ROUTE}{invoice_id}",
            headers={},
            attempts=self.config.attempts,
            backoff_seconds=self.config.backoff_seconds,
            sleep=self._sleep,
        )

    def _push(
        self, item_id: str, payload: Mapping[str, Any], drifted: Sequence[str], outcome: str
    ) -> str:
        meta = build_meta(
            source_id=self.config.source_id,
            item_id=item_id,
            record_id=payload.get(ID_FIELD),
            received_at=format_received_at(datetime.now(UTC)),
            drifted_fields=drifted,
            repaired_fields=drifted,
            repair_source=REPAIR_SOURCE if drifted else None,
        )
        self._redis.xadd(self.config.stream, {"envelope": dump_envelope(meta, payload)})
        return outcome

    def _dead_letter(self, item_id: str, raw: bytes, reason: str, error: str) -> str:
        entry: dict[Any, Any] = {
            "reason": reason,
            "raw": raw,
            "error": error,
            "source_id": self.config.source_id,
            "item_id": item_id,
            "received_at": format_received_at(datetime.now(UTC)),
        }
        self._redis.xadd(self.config.dlq_stream, entry)
        return reason


def build_peer(config: PeerConfig, *, redis_client: redis.Redis) -> PowertoolsPeer:
    """A peer with one pooled httpx client (keep-alive unless `config.keepalive` is off)."""
    keepalive = 8 if config.keepalive else 0
    http = httpx.Client(
        limits=httpx.Limits(max_keepalive_connections=keepalive),
        timeout=10.0,
        headers={"Accept": "application/json"},
    )
    return PowertoolsPeer(config, redis_client=redis_client, http_client=http)
