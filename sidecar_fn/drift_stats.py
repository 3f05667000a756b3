"""Pure per-batch drift statistics: what each item adds to its source's hourly bucket.

A batch's items share a handful of distinct contributions (a clean record adds
`records` and `clean`; a record repaired on `vendor_id` adds four fields), so the batch is
described as a small table of distinct contributions, one table index per item (one byte
each, two past 255 distinct contributions) and the totals the bucket receives if every
item is new. The batch script subtracts the contribution of each item it finds already
recorded (rare: a redelivery) and runs one `HINCRBY` per field; a batch of new items costs
the script no per-item work at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STATS_TTL_S = 35 * 24 * 3600
RECORDS = "records"
DRIFTED = "drifted"
DRIFT_PREFIX = "drift:"
REPAIRED_PREFIX = "repaired:"
UNEXPECTED_PREFIX = "unexpected:"
KIND_PREFIX = "kind:"
MAX_UNEXPECTED_PER_RECORD = 16
MAX_FIELD_NAME = 64
MORE_UNEXPECTED = "(more)"
MAX_CONTRIBUTIONS = 65_535

Contribution = tuple[tuple[str, int], ...]
"""Hash field and increment pairs one item adds to its bucket."""

NOTHING: Contribution = ()


def stats_key(source_id: str, received_at: str) -> str:
    """`aos:stats:<source_id>:<YYYYMMDDHH>` for an ISO 8601 UTC `received_at`."""
    return f"aos:stats:{source_id}:{bucket_hour(received_at)}"


def bucket_hour(received_at: str) -> str:
    """`YYYYMMDDHH` of an ISO 8601 UTC timestamp such as `2026-01-02T03:04:05.678Z`."""
    hour = received_at[0:4] + received_at[5:7] + received_at[8:10] + received_at[11:13]
    if len(hour) != 10 or not hour.isdigit():
        raise ValueError(f"not an ISO 8601 timestamp: {received_at!r}")
    return hour


def _field_name(name: str) -> str:
    if len(name) <= MAX_FIELD_NAME and name.isprintable():
        return name
    shown = name.encode("unicode_escape").decode("ascii")
    return shown[: MAX_FIELD_NAME - 3] + "..." if len(shown) > MAX_FIELD_NAME else shown


def unexpected_names(record: Mapping[str, Any], known: frozenset[str] | None) -> tuple[str, ...]:
    """Fields of `record` outside the schema's `known` fields (none when the schema does not
    say), as statistics field names: sorted, at most 16 (a 17th and beyond count as
    `(more)`), unprintable or long names escaped and cut."""
    if known is None:
        return ()
    declared = known
    if len(record) <= len(declared) and declared.issuperset(record):
        return ()
    extra = sorted(name for name in record if name not in declared)
    if not extra:
        return ()
    shown = [_field_name(name) for name in extra[:MAX_UNEXPECTED_PER_RECORD]]
    if len(extra) > MAX_UNEXPECTED_PER_RECORD:
        shown.append(MORE_UNEXPECTED)
    return tuple(dict.fromkeys(shown))


def contribution(
    outcome: str,
    *,
    drifted: Sequence[str] = (),
    repaired: Sequence[str] = (),
    unexpected: Sequence[str] = (),
    kinds: Sequence[str] = (),
) -> Contribution:
    """What a newly recorded item adds: `records`, its outcome, `drifted` and `drift:<f>`
    when it drifted, `kind:<k>` per drifted field of kind k (missing, null, empty,
    wrong_type, renamed, case, invalid), `repaired:<f>` per field filled, `unexpected:<f>`
    per extra field."""
    pairs = [(RECORDS, 1), (outcome, 1)]
    if drifted:
        pairs.append((DRIFTED, 1))
        pairs += [(DRIFT_PREFIX + name, 1) for name in drifted]
        pairs += sorted(Counter(KIND_PREFIX + kind for kind in kinds).items())
    pairs += [(REPAIRED_PREFIX + name, 1) for name in repaired]
    pairs += [(UNEXPECTED_PREFIX + name, 1) for name in unexpected]
    return tuple(pairs)


def replay_contribution(
    previous_reason: str, outcome: str, *, repaired: Sequence[str] = ()
) -> Contribution:
    """What a replayed dead letter changes in its original bucket: the record moves from
    `previous_reason` to `outcome` (it was counted in `records` and its drift when first
    recorded), and a repair adds `repaired:<f>`."""
    if previous_reason == outcome and not repaired:
        return NOTHING
    pairs = [(previous_reason, -1), (outcome, 1)]
    pairs += [(REPAIRED_PREFIX + name, 1) for name in repaired]
    return tuple(pairs)


@dataclass
class BatchStats:
    """The distinct contributions of a batch and each item's index into them (0: none)."""

    hour: str
    """The bucket's UTC hour, `YYYYMMDDHH` (the sink names the key, see sidecar_fn.keys)."""
    ttl_s: int
    contributions: list[Contribution] = field(default_factory=lambda: [NOTHING])
    positions: list[int] = field(default_factory=list)
    _index: dict[int, int] = field(default_factory=lambda: {id(NOTHING): 0})

    def add(self, item: Contribution) -> None:
        """Append the next item's contribution."""
        self.extend((item,))

    def index(self, item: Contribution) -> int:
        """The table index of `item` (added to the table if new); for callers that fill
        `positions` themselves."""
        found = self._index.get(id(item))
        if found is None:
            found = len(self.contributions)
            if found > MAX_CONTRIBUTIONS:
                raise ValueError("more than 65,535 distinct contributions in one batch")
            self._index[id(item)] = found
            self.contributions.append(item)
        return found

    def extend(self, items: Iterable[Contribution]) -> None:
        """Append several items' contributions.

        The table is keyed by object identity (hashing a tuple of pairs per item costs more
        than the rest of the bookkeeping): pass the same object for the same contribution,
        as `ContributionCache` does. Equal contributions held in distinct objects only
        take two rows of the table; the sums stay right.
        """
        index = self.index
        self.positions += [index(item) for item in items]

    def __len__(self) -> int:
        return len(self.positions)

    def encoded_positions(self) -> tuple[int, bytes]:
        """Bytes per index (1 when the table has at most 255 entries, else 2) and the
        indices packed big-endian at that width."""
        if len(self.contributions) <= 256:
            return 1, bytes(self.positions)
        return 2, b"".join(i.to_bytes(2, "big") for i in self.positions)

    def totals(self, newly_recorded: Iterable[bool] | None = None) -> dict[str, int]:
        """The increments the bucket receives when the items flagged True are new (all of
        them by default): the reference the batch script must agree with."""
        if newly_recorded is None:
            counts = Counter(self.positions)
        else:
            counts = Counter(
                index for index, new in zip(self.positions, newly_recorded, strict=True) if new
            )
        sums: dict[str, int] = {}
        contributions = self.contributions
        for index, count in counts.items():
            for name, delta in contributions[index]:
                sums[name] = sums.get(name, 0) + delta * count
        return {name: value for name, value in sums.items() if value}


class ContributionCache:
    """One object per distinct contribution, so that BatchStats can key them by identity."""

    def __init__(self, limit: int = 10_000) -> None:
        self._known: dict[
            tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]],
            Contribution,
        ] = {}
        self._limit = limit

    def get(
        self,
        outcome: str,
        drifted: tuple[str, ...] = (),
        repaired: tuple[str, ...] = (),
        unexpected: tuple[str, ...] = (),
        kinds: tuple[str, ...] = (),
    ) -> Contribution:
        """The shared `contribution(...)` object for these arguments."""
        key = (outcome, drifted, repaired, unexpected, kinds)
        known = self._known.get(key)
        if known is not None:
            return known
        if len(self._known) >= self._limit:
            self._known.clear()
        built = contribution(
            outcome, drifted=drifted, repaired=repaired, unexpected=unexpected, kinds=kinds
        )
        self._known[key] = built
        return built
