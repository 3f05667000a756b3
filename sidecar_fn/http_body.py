"""Bounded reading of HTTP answers: undecoded bytes under per-answer and per-call caps,
well-formed error codes only, and short echoes of whatever else a server said."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping

import httpx
import orjson

from sidecar_fn.errors import SourceUnavailable

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_CALL_BYTES = 32 * 1024 * 1024
ECHO_CHARS = 80
ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}", re.ASCII)


def echo(value: object, limit: int = ECHO_CHARS) -> str:
    """`repr(value)` (control characters escaped), cut to `limit` characters with the full
    length said when cut."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} chars)"


class ByteAllowance:
    """The bytes all answers of one call may hold together; thread-safe."""

    def __init__(self, limit: int = MAX_CALL_BYTES) -> None:
        self._left = limit
        self._limit = limit
        self._lock = threading.Lock()

    def take(self, size: int) -> None:
        """Count `size` more bytes; SourceUnavailable once the call holds more than its limit."""
        with self._lock:
            self._left -= size
            if self._left < 0:
                raise SourceUnavailable(
                    f"source of truth answers of one call exceed {self._limit} bytes"
                )


def read_body(
    response: httpx.Response,
    *,
    allowance: ByteAllowance,
    deadline: float,
    clock: Callable[[], float],
    max_bytes: int = MAX_BODY_BYTES,
) -> bytes:
    """The answer's bytes as sent: an encoded answer is refused before any byte is read,
    so nothing is ever decompressed (the request asks for `identity`; decoding first would
    let a small compressed answer fill the memory), as is one larger than `max_bytes` or
    than what `allowance` has left, or one still arriving at `deadline` (on `clock`)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise SourceUnavailable(
            f"source of truth answered with Content-Encoding {echo(encoding)}; "
            "only identity is accepted"
        )
    body = bytearray()
    for part in response.iter_bytes():
        body += part
        allowance.take(len(part))
        if len(body) > max_bytes:
            raise SourceUnavailable(f"source of truth answer exceeds {max_bytes} bytes")
        if clock() >= deadline:
            raise SourceUnavailable(
                "source of truth deadline reached while its answer was arriving"
            )
    return bytes(body)


def error_code(body: bytes) -> str | None:
    """The `errorCode` of a Salesforce-style error array, when it is a well-formed code
    (upper-case letters, digits and `_`, at most 64); None for anything else."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, list) and document and isinstance(document[0], Mapping):
        code = document[0].get("errorCode")
        if isinstance(code, str) and ERROR_CODE.fullmatch(code):
            return code
    return None
