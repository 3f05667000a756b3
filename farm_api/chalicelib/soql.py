"""A parser for the SOQL subset a lookup needs: `SELECT f, ... FROM o WHERE f IN ('a', ...)`.

Grammar (keywords in any case, whitespace is space, tab, CR or LF):

    SELECT field [, field]* FROM object WHERE field = 'value'
    SELECT field [, field]* FROM object WHERE field IN ('value' [, 'value']*)

String literals take SOQL's escapes (`\\'`, `\\"`, `\\\\`, `\\n`, `\\r`, `\\t`, `\\b`,
`\\f`, `\\_`, `\\%`); any other backslash, a comment, a semicolon, a number or any other
token outside a literal is MALFORMED_QUERY, as Salesforce answers. Names are checked by the
caller (INVALID_TYPE, INVALID_FIELD): this module only knows the shape.
Hand-written rather than a parser library: the subset is eight kinds of token, and the error
messages name the column of the first bad token, as Salesforce's do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.errors import FarmError

MAX_QUERY_LENGTH = 100_000
_LEXEME = re.compile(
    r"(?P<space>[ \t\r\n]+)|(?P<name>[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)"
    r"|(?P<punct>[,()=])|(?P<string>')"
)
_ESCAPES = {
    "'": "'", '"': '"', "\\": "\\", "n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t",
    "T": "\t", "b": "\b", "B": "\b", "f": "\f", "F": "\f", "_": "\\_", "%": "\\%",
}  # fmt: skip


@dataclass(frozen=True)
class Lookup:
    """A parsed lookup: selected fields and the filter, names as written."""

    fields: tuple[str, ...]
    sobject: str
    filter_field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class _Lexeme:
    kind: str
    text: str
    column: int


def malformed_query(message: str) -> FarmError:
    """400 MALFORMED_QUERY."""
    return FarmError(400, "MALFORMED_QUERY", message)


def parse_lookup(query: str) -> Lookup:
    """Parse `query`; FarmError 400 MALFORMED_QUERY for anything outside the subset."""
    if len(query) > MAX_QUERY_LENGTH:
        raise malformed_query(
            f"SOQL statements cannot be longer than {MAX_QUERY_LENGTH:,} characters"
        )
    lexemes = _Lexemes(_lex(query))
    lexemes.keyword("SELECT")
    fields = [lexemes.name("a field name")]
    while lexemes.accept(","):
        fields.append(lexemes.name("a field name"))
    lexemes.keyword("FROM")
    sobject = lexemes.name("an object name")
    lexemes.keyword("WHERE")
    filter_field = lexemes.name("a field name")
    if lexemes.accept("="):
        values = [lexemes.string()]
    else:
        lexemes.keyword("IN")
        lexemes.expect("(")
        values = [lexemes.string()]
        while lexemes.accept(","):
            values.append(lexemes.string())
        lexemes.expect(")")
    lexemes.end()
    return Lookup(tuple(fields), sobject, filter_field, tuple(values))


def _lex(query: str) -> list[_Lexeme]:
    lexemes: list[_Lexeme] = []
    position = 0
    while position < len(query):
        match = _LEXEME.match(query, position)
        if match is None:
            raise _unexpected(repr(query[position : position + 20]), position)
        kind = match.lastgroup or ""
        if kind == "string":
            text, position = _literal(query, position + 1)
            lexemes.append(_Lexeme("string", text, match.start()))
            continue
        if kind != "space":
            lexemes.append(_Lexeme(kind, match.group(), position))
        position = match.end()
    return lexemes


def _literal(query: str, position: int) -> tuple[str, int]:
    """The value of the literal whose opening quote precedes `position`, and where it ends."""
    start = position - 1
    chars: list[str] = []
    while position < len(query):
        char = query[position]
        if char == "'":
            return "".join(chars), position + 1
        if char == "\\":
            escaped = _ESCAPES.get(query[position + 1 : position + 2])
            if escaped is None:
                raise malformed_query(
                    f"Invalid string literal escape at column {position + 1}: "
                    "a backslash must be followed by one of ' \" \\ n r t b f _ %"
                )
            chars.append(escaped)
            position += 2
            continue
        chars.append(char)
        position += 1
    raise malformed_query(f"Unterminated string literal starting at column {start + 1}")


def _unexpected(shown: str, position: int) -> FarmError:
    return malformed_query(f"unexpected token: {shown} at column {position + 1}")


class _Lexemes:
    """A cursor over lexemes with the few expectations the grammar needs."""

    def __init__(self, lexemes: list[_Lexeme]) -> None:
        self._lexemes = lexemes
        self._index = 0

    def _peek(self) -> _Lexeme | None:
        return self._lexemes[self._index] if self._index < len(self._lexemes) else None

    def _fail(self, wanted: str) -> FarmError:
        lexeme = self._peek()
        if lexeme is None:
            return malformed_query(f"unexpected token: <EOF>, expected {wanted}")
        shown = lexeme.text if len(lexeme.text) <= 40 else lexeme.text[:40] + "..."
        return malformed_query(
            f"unexpected token: {shown!r} at column {lexeme.column + 1}, expected {wanted}"
        )

    def keyword(self, word: str) -> None:
        lexeme = self._peek()
        if lexeme is None or lexeme.kind != "name" or lexeme.text.upper() != word:
            raise self._fail(word)
        self._index += 1

    def name(self, wanted: str) -> str:
        lexeme = self._peek()
        if lexeme is None or lexeme.kind != "name":
            raise self._fail(wanted)
        self._index += 1
        return lexeme.text

    def string(self) -> str:
        lexeme = self._peek()
        if lexeme is None or lexeme.kind != "string":
            raise self._fail("a string literal")
        self._index += 1
        return lexeme.text

    def accept(self, punct: str) -> bool:
        lexeme = self._peek()
        if lexeme is not None and lexeme.kind == "punct" and lexeme.text == punct:
            self._index += 1
            return True
        return False

    def expect(self, punct: str) -> None:
        if not self.accept(punct):
            raise self._fail(repr(punct))

    def end(self) -> None:
        if self._peek() is not None:
            raise self._fail("the end of the query")
