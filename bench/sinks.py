"""Stream sinks the benchmarks put in place of Redis to time the handler's own work."""

from __future__ import annotations

from collections.abc import Sequence

from sidecar_fn.drift_stats import BatchStats
from sidecar_fn.ports import PushResult, Retirement, SinkEntry


class AcceptingSink:
    """StreamSink that writes nothing and reports every entry new (times Python alone)."""

    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        """Pretend to write every entry."""
        return [PushResult(True, entry.outcome) for entry in entries]
