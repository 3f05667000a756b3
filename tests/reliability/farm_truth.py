"""The farm's own source of truth, read over HTTP and cached, as an oracle for checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from .evil_sot import invoice_number

BATCH_PATH = "/api/source/salesforce/invoices"


class FarmTruth:
    """Callable `invoice_id -> pristine invoice | None`, backed by the farm's batch route."""

    def __init__(self, base_url: str, token: str | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=base_url, headers=headers, timeout=30)
        self._cache: dict[str, Mapping[str, Any] | None] = {}

    def prefetch(self, ids: Iterable[str]) -> None:
        """Fetch every id not cached yet, 200 per request, retrying injected 503s."""
        wanted = sorted({i for i in ids if i not in self._cache and invoice_number(i) is not None})
        for start in range(0, len(wanted), 200):
            chunk = wanted[start : start + 200]
            for _ in range(50):
                response = self._client.get(BATCH_PATH, params={"ids": ",".join(chunk)})
                if response.status_code != 503:
                    break
            response.raise_for_status()
            self._cache.update(zip(chunk, response.json(), strict=True))

    def __call__(self, invoice_id: str) -> Mapping[str, Any] | None:
        if invoice_id not in self._cache:
            if invoice_number(invoice_id) is None:
                return None
            self.prefetch([invoice_id])
        return self._cache[invoice_id]

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
