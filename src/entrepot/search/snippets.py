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
    whole = unicodedata.normalize("NFKC", text).casefold()
    if len(whole) == len(text):  # the usual case: one character for one, so positions are unchanged
        out, index = whole, list(range(len(text)))
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


def _spans(folded: str, terms: list[str]) -> list[tuple[int, int]]:
    alternatives = []
    for term in sorted({t for t in terms if t}, key=len, reverse=True)[:64]:  # longest first wins
        if term.isascii() and term.isalnum():
            alternatives.append(r"(?<![0-9a-z])" + re.escape(term) + r"[0-9a-z]*")  # Latin stems: whole words
        else:
            alternatives.append(re.escape(term))
    if not alternatives:
        return []
    merged: list[tuple[int, int]] = []
    for m in re.finditer("|".join(alternatives), folded):  # one pass; matches never overlap
        a, b = m.span()
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
    return Markup(prefix) + Markup("").join(parts) + Markup(suffix)  # nosec B704 # constants around escaped parts


def _clip(text: str, start: int, window: int) -> str:
    return text[start:start + window] + (" …" if len(text) > start + window else "")
