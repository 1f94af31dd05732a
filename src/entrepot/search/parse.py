"""The search box's little syntax: "quoted phrases", -excluded words, everything else free text.

Unbalanced quotes close at the end; over-long input is cut (the caller says so); nothing here is ever
passed to the database as syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_CHARS = 500
_PHRASE = re.compile(r'"([^"]*)"?')


@dataclass(frozen=True)
class ParsedQuery:
    free: str
    phrases: tuple[str, ...]
    excluded: tuple[str, ...]
    truncated: bool


def parse_query(raw: str) -> ParsedQuery:
    # CJK corner brackets (「」) are ordinary quotation marks in questions, not phrase syntax: read as
    # phrases, they cut recall (bench/search.py: 7% of the traditional-Chinese questions have them).
    text = (raw or "").replace("“", '"').replace("”", '"')
    truncated = len(text) > MAX_QUERY_CHARS
    text = text[:MAX_QUERY_CHARS]
    phrases = tuple(p.strip() for p in _PHRASE.findall(text) if p.strip())
    rest = _PHRASE.sub(" ", text)
    excluded, free = [], []
    for word in rest.split():
        if word.startswith("-") and len(word) > 1:
            excluded.append(word[1:])
        else:
            free.append(word)
    return ParsedQuery(" ".join(free), phrases, tuple(excluded), truncated)
