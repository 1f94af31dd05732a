"""Index tokens as FTS5's tokenizer would see them, so both backends index exactly the same stream."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

_KEEP = ("L", "N", "M")


def _token_char(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in _KEEP or cat == "Co"


def fts_tokens(tokens: Iterable[str]) -> list[str]:
    """Split tokens wherever FTS5 (unicode61, categories L* N* M* Co) would: "8703.23" -> "8703", "23"."""
    out: list[str] = []
    for token in tokens:
        # isalnum() is true exactly when every character is L* or N*: nearly every token, at C speed.
        if token.isalnum() or all(_token_char(ch) for ch in token):
            if token:
                out.append(token)
            continue
        part = []
        for ch in token:
            if _token_char(ch):
                part.append(ch)
            elif part:
                out.append("".join(part))
                part = []
        if part:
            out.append("".join(part))
    return out
