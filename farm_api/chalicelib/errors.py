"""Salesforce-shaped API errors raised by the farm's pure code and rendered by its routes."""

from __future__ import annotations

from typing import Any

import orjson


class FarmError(Exception):
    """An error answer: HTTP status plus a Salesforce `errorCode` and message."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> str:
        """The Salesforce error shape: `[{"errorCode": ..., "message": ...}]`."""
        return error_body(self.error_code, self.message)


def error_body(error_code: str, message: str) -> str:
    """Serialize one Salesforce error as the JSON array Salesforce answers with."""
    payload: list[dict[str, Any]] = [{"errorCode": error_code, "message": message}]
    return orjson.dumps(payload).decode()


def malformed_id(message: str) -> FarmError:
    """400 MALFORMED_ID."""
    return FarmError(400, "MALFORMED_ID", message)


def invalid_parameter(message: str) -> FarmError:
    """400 INVALID_QUERY_PARAMETER."""
    return FarmError(400, "INVALID_QUERY_PARAMETER", message)


def limit_exceeded(message: str) -> FarmError:
    """400 LIMIT_EXCEEDED."""
    return FarmError(400, "LIMIT_EXCEEDED", message)


def not_found(message: str) -> FarmError:
    """404 NOT_FOUND."""
    return FarmError(404, "NOT_FOUND", message)


def invalid_session() -> FarmError:
    """401 INVALID_SESSION_ID, the answer to a missing or wrong bearer token."""
    return FarmError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def server_unavailable() -> FarmError:
    """503 SERVER_UNAVAILABLE, the injected source-of-truth failure."""
    return FarmError(
        503, "SERVER_UNAVAILABLE", "The source of truth is temporarily unavailable (injected)"
    )
