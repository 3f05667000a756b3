"""Salesforce's `Sforce-Limit-Info: api-usage=N/LIMIT` header, read into numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

WARN_SHARE = 0.8
_USAGE = re.compile(r"(?:^|[,;\s])api-usage=([0-9]{1,12})/([0-9]{1,12})(?:$|[,;\s])", re.ASCII)


@dataclass(frozen=True)
class ApiUsage:
    """Calls used of the org's daily allowance."""

    used: int
    limit: int

    @property
    def share(self) -> float:
        """The used share of the limit (1.0 when the limit is zero)."""
        return self.used / self.limit if self.limit else 1.0

    @property
    def near_limit(self) -> bool:
        """True past 80 % of the limit."""
        return self.share > WARN_SHARE


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """The `api-usage` part of a `Sforce-Limit-Info` value; None when absent or garbled."""
    if not header:
        return None
    match = _USAGE.search(header[:512])
    if match is None:
        return None
    return ApiUsage(int(match.group(1)), int(match.group(2)))
