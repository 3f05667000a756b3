"""Redis key names of one source, and the KEYS list of one batch call (one hash slot in cluster)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_STREAM = "aos:invoices"
DEFAULT_DLQ_STREAM = "aos:invoices:dlq"


def hash_tag(key: str) -> str | None:
    """The part of `key` Redis Cluster hashes: the text between the first `{` and the next
    `}` when it is not empty (the cluster spec's rule), else None."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1:
        return None
    return key[start + 1 : end]


def tagged_stream_names(tag: str) -> tuple[str, str]:
    """Default main and dead-letter stream names carrying the hash tag `tag`."""
    return f"aos:{{{tag}}}:invoices", f"aos:{{{tag}}}:invoices:dlq"


def seen_key_prefix(source_id: str, tag: str | None = None) -> str:
    """Prefix of one source's idempotency keys: `aos:seen:<source_id>:`, or with a hash tag
    `aos:seen:{<tag>}:` when the tag is the source id, else `aos:seen:{<tag>}:<source_id>:`."""
    if tag is None:
        return f"aos:seen:{source_id}:"
    if tag == source_id:
        return f"aos:seen:{{{tag}}}:"
    return f"aos:seen:{{{tag}}}:{source_id}:"


@dataclass(frozen=True)
class KeyNames:
    """The keys a batch call touches, in the order the batch script declares them.

    FIXED are declared first (KEYS[1..len(FIXED)]), then one idempotency key per entry. A
    new key every batch touches goes into `fixed()` (and the script reads it by position);
    the script finds the first per-entry key at KEYS[FIXED_KEYS + 1].
    """

    stream: str
    dlq_stream: str
    tag: str | None = None

    FIXED_KEYS = 2

    def fixed(self) -> list[bytes]:
        """Keys every batch touches: KEYS[1] main stream, KEYS[2] dead-letter stream."""
        return [self.stream.encode(), self.dlq_stream.encode()]

    def seen_prefix(self, source_id: str) -> bytes:
        """Prefix of `source_id`'s idempotency keys under these names."""
        return seen_key_prefix(source_id, self.tag).encode()

    def stats_key(self, source_id: str, hour: str) -> str:
        """`source_id`'s statistics bucket of `hour` (`YYYYMMDDHH`): `aos:stats:<source_id>:
        <hour>`, or with a hash tag `aos:stats:{<tag>}:<hour>` when the tag is the source
        id, else `aos:stats:{<tag>}:<source_id>:<hour>` (the same slot as the batch)."""
        if self.tag is None:
            return f"aos:stats:{source_id}:{hour}"
        if self.tag == source_id:
            return f"aos:stats:{{{self.tag}}}:{hour}"
        return f"aos:stats:{{{self.tag}}}:{source_id}:{hour}"

    def batch_keys(self, source_id: str, ids: Iterable[str]) -> list[bytes]:
        """KEYS of one batch call: the fixed keys, then each entry's idempotency key."""
        prefix = self.seen_prefix(source_id)
        return [*self.fixed(), *(prefix + item.encode() for item in ids)]


def key_names(stream: str, dlq_stream: str, *, cluster: bool) -> KeyNames:
    """KeyNames for the two streams; in cluster mode both must carry one hash tag (so that
    a batch's keys share one slot), which the idempotency keys then carry too.

    Raises ValueError when cluster mode is asked of names without a common hash tag.
    """
    tag = hash_tag(stream)
    if not cluster:
        return KeyNames(
            stream, dlq_stream, tag if tag is not None and tag == hash_tag(dlq_stream) else None
        )
    if tag is None or hash_tag(dlq_stream) != tag:
        raise ValueError(
            f"in cluster mode the streams must share a hash tag, e.g. "
            f"{tagged_stream_names('mulesoft-invoices')[0]!r} and"
            f" {tagged_stream_names('mulesoft-invoices')[1]!r}; got {stream!r} and {dlq_stream!r}"
        )
    return KeyNames(stream, dlq_stream, tag)
