"""Credentials kept out of messages: URLs shown with their passwords and tokens masked."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
SECRET_QUERY_WORDS = ("password", "passwd", "token", "secret", "signature", "credential", "key")


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_QUERY_WORDS)


def redact_url(url: str) -> str:
    """`url` with a userinfo password and the values of secret-looking query parameters
    (`password`, `token`, `X-Amz-Signature`, ...) replaced by `***`; a URL that does not
    parse is not shown at all."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            host = netloc.rsplit("@", 1)[1]
            netloc = f"{parts.username or ''}:{MASK}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(_secret_name(name) for name, _ in pairs):
                query = urlencode(
                    [(name, MASK if _secret_name(name) else value) for name, value in pairs],
                    safe="*",
                )
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return "<unparsable url>"
