"""The ZQL tokenizer: identifiers, numbers, quoted strings, operators and punctuation.

Called by the ZQL parser only. Keywords are plain identifiers here; the parser decides
where a word is a keyword, so fields may be named like one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from mgmt.core.query.errors import QueryError, shown

MAX_ZQL_LENGTH = 4096


class Kind(Enum):
    IDENT = "identifier"
    NUMBER = "number"
    STRING = "string"
    OP = "operator"
    PUNCT = "punctuation"
    END = "end of input"


@dataclass(frozen=True)
class Token:
    """One token: ``text`` as written, ``value`` unescaped (strings), ``pos`` 0-based."""

    kind: Kind
    text: str
    value: str
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind is Kind.IDENT and self.value.lower() in words


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OPS = ("!=", ">=", "<=", "=", ">", "<")
_PUNCT = "(),."


def syntax_error(text: str, pos: int, what: str, near: str | None = None) -> QueryError:
    """A ``QueryError`` for ZQL ``text`` at 0-based ``pos``, quoting ``near`` (by default
    the text from there to the end of its line, cut short)."""
    if near is None:
        near = text[pos : pos + 20].split("\n", maxsplit=1)[0]
    where = f"near {shown(near)!r}" if near else "at the end"
    return QueryError(
        f"ZQL syntax error at position {pos + 1} {where}: {what}",
        token=near or "<end>",
        position=pos + 1,
    )


def tokenize(text: str) -> Iterator[Token]:
    """The tokens of ``text`` as they are read, ending with an ``END`` token; ``QueryError``
    on a bad one. Lazy, so a parser reports the first error in the text, whichever kind."""
    if len(text) > MAX_ZQL_LENGTH:
        raise QueryError(
            f"ZQL is {len(text)} characters long, more than {MAX_ZQL_LENGTH}",
            token=shown(text),
        )
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            yield Token(Kind.END, "", "", pos)
            return
        token = _one(text, pos)
        yield token
        pos += len(token.text)


def _one(text: str, pos: int) -> Token:
    char = text[pos]
    if char in "'\"":
        return _string(text, pos)
    ident = _IDENT.match(text, pos)
    if ident:
        return Token(Kind.IDENT, ident.group(), ident.group(), pos)
    number = _NUMBER.match(text, pos)
    if number:
        end = number.end()
        if end < len(text) and (text[end].isalnum() or text[end] in "_."):
            raise syntax_error(text, pos, "malformed number")
        return Token(Kind.NUMBER, number.group(), number.group(), pos)
    for op in _OPS:
        if text.startswith(op, pos):
            return Token(Kind.OP, op, op, pos)
    if char in _PUNCT:
        return Token(Kind.PUNCT, char, char, pos)
    raise syntax_error(text, pos, f"unexpected character {char!r}", char)


def _string(text: str, pos: int) -> Token:
    """A quoted string; the quote character doubled stands for itself."""
    quote = text[pos]
    parts: list[str] = []
    at = pos + 1
    while True:
        end = text.find(quote, at)
        if end < 0:
            raise syntax_error(text, pos, "unterminated string")
        parts.append(text[at:end])
        if text.startswith(quote * 2, end):
            parts.append(quote)
            at = end + 2
            continue
        return Token(Kind.STRING, text[pos : end + 1], "".join(parts), pos)
