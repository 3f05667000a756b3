"""Healing of one drifted record: classify, repair locally what is certain, finish from the source.

`Healer` holds what lives as long as the container: the alias index of the schema, the
share of local repairs to verify, and the fields whose local repair was switched off
after the source of truth disagreed with it. `DriftTally` counts one batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar_fn.aliases import AliasIndex
from sidecar_fn.drift_kinds import FieldDrift, classify
from sidecar_fn.local_repair import SOURCE_OF_TRUTH, repair_locally
from sidecar_fn.repair import merge
from sidecar_fn.schema import ID_FIELD, Schema
from sidecar_fn.verify import Disagreement, disagreements, selected


@dataclass
class DriftTally:
    """One batch's drift by kind and by field, local repairs, verification and unexpected
    fields (counted per delivery, before the sink knows whether an item is a duplicate)."""

    kinds: Counter[str] = field(default_factory=Counter)
    fields: dict[str, Counter[str]] = field(default_factory=dict)
    repairs: Counter[str] = field(default_factory=Counter)
    repaired_locally: int = 0
    """Records repaired without a source-of-truth lookup."""
    source_lookups: int = 0
    """Records looked up in the source of truth (to repair, or to verify)."""
    verified: int = 0
    verify_disagreements: int = 0
    unexpected: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "kinds": dict(self.kinds),
            "fields": {name: dict(kinds) for name, kinds in self.fields.items()},
            "repairs": dict(self.repairs),
            "repaired_locally": self.repaired_locally,
            "source_lookups": self.source_lookups,
            "verified": self.verified,
            "verify_disagreements": self.verify_disagreements,
            "unexpected": dict(self.unexpected),
        }


@dataclass
class Triage:
    """A drifted record after local repair: what still needs the source of truth."""

    record: dict[str, Any]
    drift: dict[str, FieldDrift]
    repairs: dict[str, str]
    remaining: list[str]
    verify: bool
    kinds: dict[str, str] = field(default_factory=dict)
    """Field to kind of drift (built once by `Healer.triage`: the batch path reads it for
    the log line, the envelope and the statistics)."""

    @property
    def needs_source(self) -> bool:
        """True when the record must be looked up (to repair or to verify)."""
        return bool(self.remaining) or self.verify

    @property
    def kind_list(self) -> tuple[str, ...]:
        """The kinds of drift, in the order of the drifted fields."""
        return tuple(self.kinds.values())


class Healer:
    """Classifies and repairs drifted records for one schema (see the module docstring)."""

    def __init__(self, schema: Schema, *, verify_share: float) -> None:
        self.schema = schema
        self.specs = {spec.name: spec for spec in schema.fields}
        self.index = AliasIndex.from_schema(schema)
        self.verify_share = verify_share
        self.local_repair_off: set[str] = set()

    def triage(
        self, item_id: str, record: Mapping[str, Any], drifted: tuple[str, ...], tally: DriftTally
    ) -> Triage:
        """Classify `record`'s drifted fields and repair what is certain; count into `tally`."""
        drift = classify(record, drifted, self.specs, self.index)
        fields = tally.fields
        kinds = {}
        for name, found in drift.items():
            kinds[name] = found.kind
            tally.kinds[found.kind] += 1
            # Not `setdefault(name, Counter())`: that builds a Counter on every call.
            by_kind = fields.get(name)
            if by_kind is None:
                by_kind = fields[name] = Counter()
            by_kind[found.kind] += 1
        local = repair_locally(record, drift, self.specs, self.local_repair_off)
        verify = bool(local.repairs) and selected(item_id, self.verify_share)
        return Triage(local.record, drift, local.repairs, local.remaining, verify, kinds)

    def finish(
        self, triage: Triage, source: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, str], list[Disagreement]]:
        """The repaired record, how each field was repaired, and the local repairs the
        source disagreed with (now holding the source's value).

        Local repairs are checked whenever the source record is at hand. A disagreement
        switches local repair of that field off for the life of this Healer. Raises
        Unrepairable as `merge` does when fields remain that the source cannot supply.
        """
        repairs = dict(triage.repairs)
        record = triage.record
        if triage.remaining:
            record = merge(record, triage.remaining, source, self.schema)
            repairs.update(dict.fromkeys(triage.remaining, SOURCE_OF_TRUTH))
        if source is None or not triage.repairs or source.get(ID_FIELD) != record.get(ID_FIELD):
            return record, repairs, []
        found = [
            d
            for d in disagreements(record, triage.repairs, source)
            if self.specs[d.field].accepts(d.source)
        ]
        if found:
            record = dict(record)
        for disagreement in found:
            record[disagreement.field] = disagreement.source
            repairs[disagreement.field] = SOURCE_OF_TRUTH
            self.local_repair_off.add(disagreement.field)
        return record, repairs, found
