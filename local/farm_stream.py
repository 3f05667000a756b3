"""HTTP client for the farm's toxic stream (`GET /api/stream`), one page per call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from local.events import StreamRecord
from sidecar_fn.redaction import redact_url
from sidecar_fn.secrets import visible_token

MAX_PAGE = 1000


class FarmError(Exception):
    """The farm answered, but not with a usable page (bad request, bad shape)."""


class FarmUnavailable(FarmError):
    """The farm could not be reached or answered with a server error; worth retrying."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the stream and the cursor of the next one."""

    records: list[StreamRecord]
    next_cursor: int


def _error_detail(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
        first = body[0]
        return f"{first['errorCode']}: {first['message']}"
    except (orjson.JSONDecodeError, LookupError, TypeError):
        return response.text[:200]


def parse_page(body: Any) -> Page:
    """Validate a decoded `/api/stream` answer and turn it into a Page."""
    if not isinstance(body, dict):
        raise FarmError("stream page is not a JSON object")
    raw_records = body.get("records")
    next_cursor = body.get("next_cursor")
    if not isinstance(raw_records, list) or not isinstance(next_cursor, int):
        raise FarmError("stream page lacks 'records' (list) or 'next_cursor' (integer)")
    records = []
    for item in raw_records:
        if not isinstance(item, dict):
            raise FarmError("stream record is not a JSON object")
        sequence, data = item.get("sequence"), item.get("data")
        if not isinstance(sequence, int) or not isinstance(data, str):
            raise FarmError("stream record lacks 'sequence' (integer) or 'data' (string)")
        records.append(StreamRecord(sequence, data))
    return Page(records, next_cursor)


class FarmStream:
    """Reads pages of the toxic stream for one (seed, chaos) pair."""

    def __init__(
        self,
        base_url: str,
        *,
        chaos: bool,
        seed: int,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {visible_token(token, 'FARM_API_TOKEN')}"
        self.base_url = base_url.rstrip("/")
        self._chaos = "true" if chaos else "false"
        self._seed = str(seed)
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
        )

    def fetch(self, cursor: int, limit: int) -> Page:
        """The page of up to `limit` records starting at `cursor`."""
        params = {
            "chaos": self._chaos,
            "seed": self._seed,
            "cursor": str(cursor),
            "limit": str(limit),
        }
        try:
            response = self._client.get("/api/stream", params=params)
        except httpx.ProtocolError as exc:
            raise FarmUnavailable(
                f"farm at {redact_url(self.base_url)} broke the HTTP protocol "
                f"({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise FarmUnavailable(
                f"farm unreachable at {redact_url(self.base_url)}: {exc}"
            ) from exc
        if response.status_code != 200:
            problem = f"farm at {self.base_url} answered {response.status_code}"
            problem += f": {_error_detail(response)}"
            if response.status_code >= 500:
                raise FarmUnavailable(problem)
            raise FarmError(problem)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise FarmError(f"farm at {self.base_url} answered a page that is not JSON") from exc
        return parse_page(body)

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()
