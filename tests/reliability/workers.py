"""Process entry points for the concurrency tests (importable by a spawned interpreter)."""

from __future__ import annotations

from typing import Any

from .batches import LambdaContext


def deliver_after_barrier(
    env: dict[str, str], event: dict[str, Any], barrier: Any
) -> dict[str, Any]:
    """Build a sidecar as a cold start does, wait for the other process, invoke the batch path."""
    from sidecar_fn.settings import Settings
    from sidecar_fn.wiring import build_sidecar

    sidecar = build_sidecar(Settings.from_env(env))
    barrier.wait(timeout=60)
    report = sidecar.handle_batch(event, LambdaContext(budget_ms=60_000))
    failed = [entry["itemIdentifier"] for entry in report.lambda_response()["batchItemFailures"]]
    return {"counts": dict(report.counts), "failed": failed}
