"""Per-record reference implementation of the sidecar contract: the benchmark's baseline.

Every drifted record costs one source-of-truth GET on the single-invoice route and
every record costs one idempotency `SET NX` plus one `XADD`: the naive shape that the
batch path is measured against. Classification, repair and envelopes are the sidecar's
own pure core, so the comparison measures the I/O shape alone.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import redis

from sidecar_fn.drift import drifted_fields, lookup_problem
from sidecar_fn.envelope import build_meta, dump_envelope, format_received_at
from sidecar_fn.errors import Unrepairable
from sidecar_fn.records import parse_event
from sidecar_fn.repair import merge
from sidecar_fn.schema import ID_FIELD, load_schema

SCHEMA = load_schema(None)
SINGLE_ROUTE = "/api/source/salesforce/invoice/"
SEEN_TTL_SECONDS = 7 * 24 * 3600
REPAIR_SOURCE = "salesforce"
OUTCOMES = ("clean", "repaired", "malformed", "unrepairable", "failed")


class SourceDown(Exception):
    """The source of truth did not answer usefully after bounded retries."""


@dataclass(frozen=True)
class ReferenceConfig:
    """Where the reference reads repairs from and writes entries to."""

    source_id: str
    stream: str
    dlq_stream: str
    farm_url: str
    token: str | None = None
    attempts: int = 3
    backoff_seconds: float = 0.05


@dataclass
class ReferenceReport:
    """Outcome counts and the items to redeliver, as `handle_batch` reports them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    failures: list[str] = field(default_factory=list)

    def lambda_response(self) -> dict[str, list[dict[str, str]]]:
        """The Lambda partial-batch response."""
        return {"batchItemFailures": [{"itemIdentifier": item} for item in self.failures]}


def _now_iso() -> str:
    return format_received_at(datetime.now(UTC))


def _json_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "level": record.levelname,
            "message": record.getMessage(),
            "timestamp": _now_iso(),
            **getattr(record, "aos", {}),
        }
        return orjson.dumps(line).decode()


class PerRecordSidecar:
    """The contract, one record at a time: one GET per drifted record, SET NX + XADD each."""

    def __init__(
        self,
        config: ReferenceConfig,
        *,
        redis_client: redis.Redis,
        http_client: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.source_id = config.source_id
        self._redis = redis_client
        self._http = http_client
        self._sleep = sleep
        self._log = _json_logger("aos.reference")

    def handle_batch(self, event: Mapping[str, Any], context: object = None) -> ReferenceReport:
        """Process every record of the event in order and report outcomes and failures."""
        report = ReferenceReport()
        for item in parse_event(event):
            item_id, raw = item.item_id, item.raw
            try:
                if item.problem is not None:
                    outcome = self._dead_letter(item_id, raw, "malformed", item.problem)
                else:
                    outcome = self.handle_record(item_id, raw)
            except (SourceDown, redis.RedisError):
                report.failures.append(item_id)
                outcome = "failed"
            report.counts[outcome] += 1
        return report

    def handle_record(self, item_id: str, raw: bytes) -> str:
        """Classify, repair and push one record; return its outcome."""
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return self._dead_letter(item_id, raw, "malformed", f"not JSON: {exc}")
        if not isinstance(record, dict):
            return self._dead_letter(
                item_id, raw, "malformed", f"not a JSON object: {type(record).__name__}"
            )
        drifted = drifted_fields(record, SCHEMA)
        if not drifted:
            return self._push(item_id, "clean", self._envelope(item_id, record, (), ()))
        invoice_id = record.get(ID_FIELD)
        label = invoice_id if isinstance(invoice_id, str) else "<no id>"
        self._info(f"Drift Detected for {label}. Fetching repair...", item_id, drifted)
        try:
            problem = lookup_problem(record)
            if problem is not None:
                raise Unrepairable(problem)
            source = self.fetch_one(str(invoice_id))
            merged = merge(record, drifted, source, SCHEMA)
        except Unrepairable as exc:
            return self._dead_letter(item_id, raw, "unrepairable", str(exc))
        self._info("Record Repaired.", item_id, drifted, record_id=invoice_id)
        return self._push(item_id, "repaired", self._envelope(item_id, merged, drifted, drifted))

    def fetch_one(self, invoice_id: str) -> dict[str, Any]:
        """GET one pristine invoice, retrying 5xx and transport errors a bounded number of times."""
        headers = {"Authorization": f"Bearer {self.config.token}"} if self.config.token else {}
        return get_single_invoice(
            self._http,
            f"{self.config.farm_url}{SINGLE_ROUTE}{invoice_id}",
            headers=headers,
            attempts=self.config.attempts,
            backoff_seconds=self.config.backoff_seconds,
            sleep=self._sleep,
        )

    def _envelope(
        self,
        item_id: str,
        payload: Mapping[str, Any],
        drifted: Sequence[str],
        repaired: Sequence[str],
    ) -> bytes:
        meta = build_meta(
            source_id=self.source_id,
            item_id=item_id,
            record_id=payload.get(ID_FIELD),
            received_at=_now_iso(),
            drifted_fields=drifted,
            repaired_fields=repaired,
            repair_source=REPAIR_SOURCE if repaired else None,
        )
        return dump_envelope(meta, payload)

    def _claim(self, item_id: str, outcome: str) -> str | None:
        """Mark the item seen; None when this call claimed it, else the earlier outcome."""
        key = f"aos:seen:{self.source_id}:{item_id}"
        if self._redis.set(key, outcome, ex=SEEN_TTL_SECONDS, nx=True):
            return None
        earlier = self._redis.get(key)
        if isinstance(earlier, bytes):
            return earlier.decode()
        return str(earlier) if earlier is not None else outcome

    def _push(self, item_id: str, outcome: str, envelope: bytes) -> str:
        earlier = self._claim(item_id, outcome)
        if earlier is not None:
            return earlier
        self._xadd_or_release(item_id, self.config.stream, {"envelope": envelope})
        return outcome

    def _dead_letter(self, item_id: str, raw: bytes, reason: str, error: str) -> str:
        earlier = self._claim(item_id, reason)
        if earlier is not None:
            return earlier
        entry: dict[str, bytes | str] = {
            "reason": reason,
            "raw": raw,
            "error": error,
            "source_id": self.source_id,
            "item_id": item_id,
            "received_at": _now_iso(),
        }
        self._xadd_or_release(item_id, self.config.dlq_stream, entry)
        return reason

    def _xadd_or_release(self, item_id: str, stream: str, entry: dict[Any, Any]) -> None:
        try:
            self._redis.xadd(stream, entry)
        except redis.RedisError:
            self._redis.delete(f"aos:seen:{self.source_id}:{item_id}")
            raise

    def _info(
        self, message: str, item_id: str, drifted: Sequence[str], record_id: str | None = None
    ) -> None:
        extra = {"source_id": self.source_id, "item_id": item_id, "drifted_fields": list(drifted)}
        if record_id is not None:
            extra["record_id"] = record_id
        self._log.info(message, extra={"aos": extra})


def build_reference(config: ReferenceConfig, *, redis_client: redis.Redis) -> PerRecordSidecar:
    """A reference sidecar whose HTTP client opens a fresh connection per request.

    Against `chalice local`, a kept-alive connection costs ~46 ms a request (delayed ACK
    meets the dev server's split writes) and a fresh one ~5 ms: the baseline gets the
    faster of the two.
    """
    http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=10.0)
    return PerRecordSidecar(config, redis_client=redis_client, http_client=http)


def get_single_invoice(
    http: httpx.Client,
    url: str,
    *,
    headers: Mapping[str, str],
    attempts: int,
    backoff_seconds: float,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """GET one invoice from the single-record route: retried on transport errors and 5xx
    with doubling pauses; Unrepairable on 400/404 or a non-object; SourceDown at the end."""
    problem = "no attempt"
    for attempt in range(attempts):
        if attempt:
            sleep(backoff_seconds * 2 ** (attempt - 1))
        try:
            response = http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
            continue
        if response.status_code == 200:
            body = orjson.loads(response.content)
            if not isinstance(body, dict):
                raise Unrepairable("source of truth answered with a non-object")
            return body
        if response.status_code in (400, 404):
            raise Unrepairable(f"source of truth answered {response.status_code}")
        problem = f"HTTP {response.status_code}"
    raise SourceDown(problem)
