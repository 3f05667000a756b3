"""Run totals, the reconciliation rule and the final summary (text and JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("clean", "repaired", "malformed", "unrepairable")
DRIFT_KINDS = ("missing", "null", "empty", "wrong_type", "renamed", "case", "invalid")


@dataclass
class DriftTotals:
    """Drift per kind on first delivery: fields by kind, records repaired without the
    source of truth, records looked up, verifications and unexpected fields."""

    kinds: dict[str, int] = field(default_factory=dict)
    repaired_locally: int = 0
    source_lookups: int = 0
    verified: int = 0
    verify_disagreements: int = 0
    unexpected: dict[str, int] = field(default_factory=dict)

    def add(self, tally: Any) -> None:
        """Add a batch report's drift tally (an object with the same attributes, or None)."""
        if tally is None:
            return
        for name in ("repaired_locally", "source_lookups", "verified", "verify_disagreements"):
            setattr(self, name, getattr(self, name) + int(getattr(tally, name, 0)))
        for target, counts in ((self.kinds, tally.kinds), (self.unexpected, tally.unexpected)):
            for key, value in counts.items():
                target[key] = target.get(key, 0) + int(value)

    def rows(self) -> list[str]:
        """Summary lines: drift by kind, local repairs and unexpected fields."""
        if not self.kinds and not self.unexpected:
            return []
        order = [k for k in DRIFT_KINDS if k in self.kinds] + sorted(
            k for k in self.kinds if k not in DRIFT_KINDS
        )
        kinds = ", ".join(f"{k} {self.kinds[k]:,}" for k in order) or "none"
        looked_up = self.repaired_locally + self.source_lookups
        share = self.repaired_locally / looked_up if looked_up else 0.0
        lines = [
            f"  {'drift by kind':<22}{kinds}  (fields)",
            f"  {'repaired locally':<22}{self.repaired_locally:>10,}  records ({share:.0%} of the"
            f" drifted ones with an id; {self.source_lookups:,} looked up,"
            f" {self.verified:,} verified, {self.verify_disagreements:,} disagreed)",
        ]
        if self.unexpected:
            top = sorted(self.unexpected.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            shown = ", ".join(f"{name} {count:,}" for name, count in top)
            more = len(self.unexpected) - len(top)
            lines.append(
                f"  {'unexpected fields':<22}{shown}" + (f" (+{more} more)" if more > 0 else "")
            )
        return lines


@dataclass
class RunTotals:
    """Counters the emulator keeps while it runs; every record read ends in exactly one outcome."""

    start_cursor: int = 0
    next_cursor: int = 0
    read: int = 0
    clean: int = 0
    repaired: int = 0
    malformed: int = 0
    unrepairable: int = 0
    retries_exhausted: int = 0
    retries: int = 0
    already_processed: int = 0
    batches: int = 0
    invocations: int = 0
    failed_invocations: int = 0
    abandoned: int = 0
    drift: DriftTotals = field(default_factory=DriftTotals)

    def add_outcomes(self, counts: Mapping[str, int]) -> None:
        """Add a batch report's final outcome counts (`failed` and unknown keys are ignored)."""
        self.clean += int(counts.get("clean", 0))
        self.repaired += int(counts.get("repaired", 0))
        self.malformed += int(counts.get("malformed", 0))
        self.unrepairable += int(counts.get("unrepairable", 0))
        self.retries_exhausted += int(counts.get("retries_exhausted", 0))

    @property
    def accounted(self) -> int:
        """Records with a final outcome: the four sidecar outcomes plus retries exhausted."""
        return (
            self.clean + self.repaired + self.malformed + self.unrepairable + self.retries_exhausted
        )


def lookup_cache_counts(sidecar: Any) -> dict[str, int]:
    """The sidecar's lookup-cache hits and lookups, when AOS_SOT_CACHE_TTL_SECONDS turned it on."""
    stats = getattr(getattr(sidecar, "source", None), "stats", None)
    hits, lookups = getattr(stats, "hits", None), getattr(stats, "lookups", None)
    if not isinstance(hits, int) or not isinstance(lookups, int):
        return {}
    return {"sot_cache_hits": hits, "sot_cache_lookups": lookups}


def _count(value: int | None) -> str:
    return f"{value:>10,}" if value is not None else f"{'unknown':>10}"


@dataclass(frozen=True)
class RunSummary:
    """What a finished (or interrupted) run did, with the stream growth measured in Redis."""

    totals: RunTotals
    main_added: int | None
    dlq_added: int | None
    elapsed_seconds: float
    source_id: str
    stream: str
    dlq_stream: str
    event_source: str
    redis: str
    farm_url: str
    interrupted: bool = False
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    checkpoint: int | None = None
    checkpoint_key: str | None = None

    @property
    def records_per_second(self) -> float:
        """Records read per second of wall time (0 for an empty or instant run)."""
        if self.elapsed_seconds <= 0:
            return 0.0
        return self.totals.read / self.elapsed_seconds

    @property
    def reconciled(self) -> bool:
        """True when every record read is accounted for, once, in the streams.

        New main-stream entries plus new dead-letter entries plus records the streams
        already held (replayed after a restart) equal the records read, and every record
        read has exactly one outcome. A batch abandoned mid-way (a second Ctrl-C, an
        error) may have written some of its records: they are not counted as read, since
        the checkpoint stays before them and the next run replays them.
        """
        t = self.totals
        if self.main_added is None or self.dlq_added is None:
            return False
        in_streams = self.main_added + self.dlq_added + t.already_processed
        return t.accounted == t.read and t.read <= in_streams <= t.read + t.abandoned

    def to_dict(self) -> dict[str, Any]:
        """The summary as one flat JSON-ready object."""
        t = asdict(self.totals)
        return {
            "source_id": self.source_id,
            "event_source": self.event_source,
            **t,
            "main_stream_added": self.main_added,
            "dlq_added": self.dlq_added,
            "reconciled": self.reconciled,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "stream": self.stream,
            "dlq_stream": self.dlq_stream,
            "redis": self.redis,
            "farm_url": self.farm_url,
            "interrupted": self.interrupted,
            "error": self.error,
            "checkpoint": self.checkpoint,
            "checkpoint_key": self.checkpoint_key,
            **self.extra,
        }

    def to_text(self) -> str:
        """A short human-readable report."""
        t = self.totals
        state = "interrupted" if self.interrupted else "stopped on error" if self.error else "done"
        rows = [
            ("records read", t.read),
            ("clean", t.clean),
            ("repaired", t.repaired),
            ("malformed", t.malformed),
            ("unrepairable", t.unrepairable),
            ("retries exhausted", t.retries_exhausted),
            ("retries (redelivered)", t.retries),
            ("already in streams", t.already_processed),
        ]
        lines = [f"Run summary ({state}): source {self.source_id}, {self.event_source} events"]
        lines += [f"  {label:<22}{value:>10,}" for label, value in rows]
        lines += t.drift.rows()
        lines.append(f"  {'main stream added':<22}{_count(self.main_added)}  ({self.stream})")
        lines.append(f"  {'dead letters added':<22}{_count(self.dlq_added)}  ({self.dlq_stream})")
        lines.append(
            f"  {'throughput':<22}{self.records_per_second:>10,.0f}  records/s"
            f" over {self.elapsed_seconds:.2f} s"
        )
        lookups = self.extra.get("sot_cache_lookups")
        if isinstance(lookups, int):
            hits = int(self.extra.get("sot_cache_hits", 0))
            rate = f"{100 * hits / lookups:.1f}%" if lookups else "-"
            lines.append(f"  {'lookup cache hits':<22}{hits:>10,}  of {lookups:,} lookups ({rate})")
        if self.checkpoint is None or self.checkpoint == t.next_cursor:
            stored = "checkpointed"
        else:
            stored = f"checkpoint stays at {self.checkpoint:,}"
        lines.append(f"  {'cursor':<22}{t.start_cursor:>10,}  -> {t.next_cursor:,} ({stored})")
        if self.reconciled:
            verdict = f"yes: {self.main_added:,} main + {self.dlq_added:,} dead letters"
            if t.already_processed:
                verdict += f" + {t.already_processed:,} already in streams"
            verdict += f" = {t.read:,} read"
        elif self.main_added is None or self.dlq_added is None:
            verdict = "unknown: the streams could not be read"
        else:
            total = self.main_added + self.dlq_added + t.already_processed
            verdict = (
                f"NO: streams account for {total:,} and outcomes for {t.accounted:,}"
                f" of {t.read:,} records read"
            )
        lines.append(f"  {'reconciled':<22}{verdict}")
        if t.abandoned:
            lines.append(
                f"  {t.abandoned:,} records of an unfinished batch will be replayed by the next run"
            )
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)
