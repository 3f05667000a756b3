"""BatchReport and the outcome names: what became of each item of one batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from sidecar_fn.healing import DriftTally
from sidecar_fn.ports import CLEAN, REPAIRED

MALFORMED = "malformed"
UNREPAIRABLE = "unrepairable"
RETRIES_EXHAUSTED = "retries_exhausted"
FAILED = "failed"
COUNT_KEYS = (CLEAN, REPAIRED, MALFORMED, UNREPAIRABLE, RETRIES_EXHAUSTED, FAILED)


@dataclass
class BatchReport:
    """What became of each item of one batch.

    `counts` has one key per outcome (clean, repaired, malformed, unrepairable,
    retries_exhausted, failed) and sums to the number of records delivered; an item
    already recorded by an earlier delivery counts under that first outcome and also in
    `duplicates` (their ids in `duplicate_ids`). `failures` lists the item ids to hand back
    to the trigger. `drift`
    counts drift per kind and field, local repairs, verification and unexpected fields.
    """

    outcomes: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    drifted: int = 0
    duplicates: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    drift: DriftTally = field(default_factory=DriftTally)

    def lambda_response(self) -> dict[str, list[dict[str, str]]]:
        """Lambda's partial batch response."""
        return {"batchItemFailures": [{"itemIdentifier": item_id} for item_id in self.failures]}

    @property
    def all_failed(self) -> bool:
        """True when the batch had records and every one of them is handed back."""
        return bool(self.failures) and self.counts[FAILED] == sum(self.counts.values())

    def metrics(self) -> dict[str, int]:
        """The per-batch metric set: counts plus drifted and duplicates."""
        return {**self.counts, "drifted": self.drifted, "duplicates": self.duplicates}

    def fail(self, item_id: str) -> None:
        """Count `item_id` as failed and hand it back to the trigger (once)."""
        self.counts[FAILED] += 1
        if self.outcomes.get(item_id) != FAILED:
            self.outcomes[item_id] = FAILED
            self.failures.append(item_id)
