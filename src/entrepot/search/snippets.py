"""Snippets: the passage of a page's original text with the most query terms, terms marked.

Matching happens on a folded copy (NFKC, case, traditional to simplified) mapped back character by
character to the original, so the reader sees the page as written.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

from markupsafe import Markup, escape

from entrepot.search.analyzers import fold_traditional

WINDOW = 180


def _fold(text: str) -> tuple[str, Sequence[int]]:
    """The folded text and, for each of its characters, the index of the original character."""
    whole = unicodedata.normalize("NFKC", text).casefold()
    index: Sequence[int]
    if len(whole) == len(text):  # the usual case: one character for one, so positions are unchanged
        out, index = whole, range(len(text))
    else:
        parts: list[str] = []
        index = []
        for i, ch in enumerate(text):
            folded = unicodedata.normalize("NFKC", ch).casefold()
            parts.append(folded)
            index.extend([i] * len(folded))
        out = "".join(parts)
    simplified = fold_traditional(out)
    return (simplified if len(simplified) == len(out) else out), index


@functools.lru_cache(maxsize=256)
def _pattern(terms: frozenset[str]) -> re.Pattern[str] | None:
    """One alternation of the terms, built once for all the snippets of a result page."""
    alternatives = []
    for term in sorted(terms, key=lambda t: (-len(t), t))[:64]:  # longest first wins
        if term.isascii() and term.isalnum():
            alternatives.append(r"(?<![0-9a-z])" + re.escape(term) + r"[0-9a-z]*")  # Latin stems: whole words
        else:
            alternatives.append(re.escape(term))
    return re.compile("|".join(alternatives)) if alternatives else None


def _spans(folded: str, terms: list[str]) -> list[tuple[int, int]]:
    pattern = _pattern(frozenset(t for t in terms if t))
    if pattern is None:
        return []
    merged: list[tuple[int, int]] = []
    for m in pattern.finditer(folded):  # one pass; matches never overlap
        a, b = m.span()
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


#: markupsafe's escaping as a table: the snippet is assembled as one string and marked safe once
#: (a Markup object per span: 0.20 ms CPU a snippet, 0.13 ms so; bench/search.py questions).
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def _esc(text: str) -> str:
    return text.translate(_ESCAPES)


def _best_start(spans: list[tuple[int, int]], window: int) -> int:
    """Start of the hit whose window covers the most hits (two pointers over the sorted hits)."""
    best_start, best_count, j = spans[0][0], 0, 0
    for i, (a, _) in enumerate(spans):
        j = max(j, i)
        while j < len(spans) and spans[j][0] < a + window:
            j += 1
        if j - i > best_count:
            best_start, best_count = a, j - i
    return best_start


def snippet(text: str, terms: list[str], window: int = WINDOW) -> Markup:
    if not text:
        return Markup("")
    folded, index = _fold(text)
    spans = [(index[a], index[b - 1] + 1) for a, b in _spans(folded, terms) if b <= len(index)]
    if not spans:
        return escape(_clip(text, 0, window))
    start = max(0, _best_start(spans, window) - window // 4)
    end = min(len(text), start + window)
    parts, pos = ["… " if start > 0 else ""], start
    for a, b in spans:
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        parts += [_esc(text[pos:a]), "<mark>", _esc(text[a:b]), "</mark>"]
        pos = b
    parts += [_esc(text[pos:end]), " …" if end < len(text) else ""]
    return Markup("".join(parts))  # noqa: S704 # nosec B704 # every piece of the text went through _esc


def _clip(text: str, start: int, window: int) -> str:
    return text[start:start + window] + (" …" if len(text) > start + window else "")
