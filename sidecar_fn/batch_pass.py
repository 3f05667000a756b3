"""BatchPass: what the sidecar's classification pass over one batch has found so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sidecar_fn.batch_stats import Drifts
from sidecar_fn.healing import Triage
from sidecar_fn.ports import SinkEntry
from sidecar_fn.records import Item
from sidecar_fn.telemetry import LogLine


@dataclass(slots=True)
class BatchPass:
    """Per batch, in delivery order: one entry per item (a placeholder for a clean record
    until it is wrapped, a PROBE for one waiting for the source of truth), and the lists
    that index into them. Classified in parts, so each list grows part by part."""

    entries: list[SinkEntry] = field(default_factory=list)
    pending: list[tuple[int, Triage, tuple[str, ...]]] = field(default_factory=list)
    """Entry index, triage and drifted fields of each record waiting for the source."""
    drifts: Drifts = field(default_factory=dict)
    clean: list[tuple[int, Item, dict[str, Any]]] = field(default_factory=list)
    unusual: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    """Clean records carrying fields the schema does not know."""
    parsed: dict[int, dict[str, Any]] = field(default_factory=dict)
    warnings: list[LogLine] = field(default_factory=list)
    drift_lines: list[LogLine] = field(default_factory=list)
    unexpected: dict[str, list[str]] = field(default_factory=dict)
    """Unexpected field name -> the first few item ids carrying it (for one log line)."""
    wrapped: int = 0
    """How many of `clean` have their envelope in `entries`."""
    unusual_sent: int = 0
    """How many of `unusual` went out in an early write."""
