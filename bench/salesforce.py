"""The Salesforce adapter's row: the sidecar repairing from the farm's Salesforce routes,
with every SOQL query (and further page) timed at the transport."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import httpx

from bench.counting import RoundTripCounter, counting_redis
from bench.measure import Handle
from bench.report import Row
from bench.scenarios import Builder
from bench.services import BenchKeys

FARM_CREDENTIALS = {
    "SALESFORCE_CLIENT_ID": "aos-farm-dev-client",
    "SALESFORCE_CLIENT_SECRET": "aos-farm-dev-secret",
}


class QueryTimer(httpx.BaseTransport):
    """A transport that times each query request (first pages and `nextRecordsUrl` pages)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.query_ms: list[float] = []
        self.logins = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = self._inner.handle_request(request)
        response.read()
        elapsed = (time.perf_counter() - started) * 1000
        with self._lock:
            if "/query" in request.url.path:
                self.query_ms.append(elapsed)
            elif request.url.path.endswith("/oauth2/token"):
                self.logins += 1
        return response

    def close(self) -> None:
        self._inner.close()

    def reset(self) -> list[float]:
        """The query times so far, forgetting them."""
        with self._lock:
            times, self.query_ms = self.query_ms, []
        return times


def salesforce_builder(redis_url: str, timer_box: list[QueryTimer]) -> Builder:
    """Build the sidecar with `AOS_SOT_KIND=salesforce` logging in to the farm; the query
    timer it uses is appended to `timer_box`."""

    def build(farm_url: str, keys: BenchKeys) -> tuple[Handle, RoundTripCounter]:
        from sidecar_fn.http_deadline import deadline_transport
        from sidecar_fn.schema import load_schema
        from sidecar_fn.settings import Settings
        from sidecar_fn.wiring import build_salesforce_source, build_sidecar

        settings = Settings.from_env(
            {
                "REDIS_URL": redis_url,
                "AOS_SOT_KIND": "salesforce",
                "SALESFORCE_LOGIN_URL": farm_url,
                **FARM_CREDENTIALS,
                **keys.env(),
            }
        )
        limits = httpx.Limits(max_connections=8, max_keepalive_connections=4)
        timer = QueryTimer(deadline_transport(limits))
        timer_box.append(timer)
        source = build_salesforce_source(
            settings, load_schema(settings.schema_path), transport=timer
        )
        client, counter = counting_redis(redis_url)
        sidecar = build_sidecar(settings, redis_client=client, source=source)
        return sidecar.handle_batch, counter

    return build


def annotate(row: Row, timer: QueryTimer, batches: int) -> None:
    """Queries per batch and ms per query (median, min-max) on the row."""
    times = timer.reset()
    if not times or not batches:
        return
    row.sot_per_batch = len(times) / batches
    row.extra["queries_per_batch"] = row.sot_per_batch
    row.extra["ms_per_query_median"] = statistics.median(times)
    row.extra["ms_per_query_min"] = min(times)
    row.extra["ms_per_query_max"] = max(times)
    row.extra["logins"] = timer.logins
    row.note = (
        f"Salesforce adapter (SOQL via the farm): {row.sot_per_batch:.2f} queries/batch, "
        f"{statistics.median(times):.1f} ms/query median ({min(times):.1f}-{max(times):.1f})"
    )


def summary(row: Row) -> dict[str, Any]:
    """The row's Salesforce figures."""
    keys = ("queries_per_batch", "ms_per_query_median", "ms_per_query_min", "ms_per_query_max")
    return {key: row.extra.get(key) for key in keys}
