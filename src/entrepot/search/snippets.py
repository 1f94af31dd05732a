"""Snippets: the passage of a page's original text with the most query terms, terms marked.

Matching happens on a folded copy (NFKC, case, traditional to simplified) mapped back character by
character to the original, so the reader sees the page as written.
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup, escape

from entrepot.search.analyzers import fold_traditional

WINDOW = 180


def _fold(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, the index of the original character."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch).casefold()
        out.append(folded)
        index.extend([i] * len(folded))
    joined = "".join(out)
    simplified = fold_traditional(joined)
    return (simplified if len(simplified) == len(joined) else joined), index


def _spans(folded: str, terms: list[str]) -> list[tuple[int, int]]:
    spans = []
    for term in sorted(set(terms), key=len, reverse=True)[:64]:
        if not term:
            continue
        if term.isascii() and term.isalnum():
            pattern = r"(?<![0-9a-z])" + re.escape(term) + r"[0-9a-z]*"  # Latin stems match whole words
        else:
            pattern = re.escape(term)
        spans.extend(m.span() for m in re.finditer(pattern, folded))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def snippet(text: str, terms: list[str], window: int = WINDOW) -> Markup:
    if not text:
        return Markup("")
    folded, index = _fold(text)
    spans = [(index[a], index[b - 1] + 1) for a, b in _spans(folded, terms) if b <= len(index)]
    if not spans:
        return escape(_clip(text, 0, window))
    best_start, best_count = spans[0][0], 0
    for i, (a, _) in enumerate(spans):  # the window starting at each hit that covers the most hits
        count = sum(1 for s, _ in spans[i:] if s < a + window)
        if count > best_count:
            best_start, best_count = a, count
    start = max(0, best_start - window // 4)
    end = min(len(text), start + window)
    parts, pos = [], start
    for a, b in spans:
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        parts.append(escape(text[pos:a]))
        parts.append(Markup("<mark>") + escape(text[a:b]) + Markup("</mark>"))
        pos = b
    parts.append(escape(text[pos:end]))
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    return Markup(prefix) + Markup("").join(parts) + Markup(suffix)


def _clip(text: str, start: int, window: int) -> str:
    return text[start:start + window] + (" …" if len(text) > start + window else "")
