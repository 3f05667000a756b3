"""Pure wording of why a record is malformed: invalid JSON, not an object, binary data."""

from __future__ import annotations

from typing import Any

# Leading bytes of common compressed or archive formats, as their tools write them.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"BZh", "bzip2-compressed"),
    (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x78\x01", "zlib-compressed"),
    (b"\x78\x5e", "zlib-compressed"),
    (b"\x78\x9c", "zlib-compressed"),
    (b"\x78\xda", "zlib-compressed"),
)
_KINDS = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def _not_utf8(raw: bytes) -> str | None:
    """What `raw` is when it is not UTF-8 text, or None when it is."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return None
    for magic, name in _MAGIC:
        if raw.startswith(magic):
            return f"binary data ({name}), not UTF-8 text"
    try:
        raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return "binary data, not UTF-8 text"
    return "text with unpaired surrogates, not valid UTF-8"


def malformed_error(raw: bytes, exc: Exception | None, value: Any = None) -> str:
    """The dead-letter `error` for a record that is not a JSON object.

    `exc` is the JSON decoder's error (None when the record decoded to `value`, a JSON
    value that is not an object).
    """
    if exc is not None:
        return _not_utf8(raw) or f"not valid JSON: {exc}"
    return f"not a JSON object: the record is {_KINDS.get(type(value), 'a number')}"
