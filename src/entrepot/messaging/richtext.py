"""Chat formatting: *bold*, _italic_, `code`, line breaks and http(s) links, as a tree of plain data.

The page builds elements from this tree with createElement and textContent only, so nothing a user
types is ever parsed as HTML. Links are made from http and https URLs only (never javascript:, data:
or anything else) and open with rel="noopener noreferrer".

A tree is a list of nodes; a node is a string (text) or a dict: {"t": "b" | "i" | "code", "c": [nodes]},
{"t": "a", "href": url, "c": [text]} or {"t": "br"}.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

Node = str | dict[str, Any]

MAX_DEPTH = 3
MAX_URL = 2000
_URL = re.compile(r"https?://[^\s<>\"'`\u3000-\u303f\uff01-\uff0f]+", re.IGNORECASE)
_CODE = re.compile(r"`([^`\n]+)`")
# Markers hug their text (no space inside) and stand apart from words outside; the text between
# holds no marker of the same kind, so matching stays linear in the line's length.
_BOLD = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])?\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]*?[^\s_])?_(?![\w_])")
_TRAILING = ".,;:!?'\")]}*_"
_PATTERNS = (("code", _CODE), ("a", _URL), ("b", _BOLD), ("i", _ITALIC))


def safe_href(url: str) -> str | None:
    """The URL if it is an absolute http(s) URL with a host, else None."""
    if len(url) > MAX_URL:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _trim_url(url: str) -> str:
    """Drop sentence punctuation after a URL, keeping a closing bracket that closes one inside it."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _inline(text: str, depth: int) -> list[Node]:
    out: list[Node] = []
    pos = 0
    upcoming: dict[str, re.Match[str] | None] = {}
    while pos < len(text):
        best: tuple[str, re.Match[str]] | None = None
        for kind, rx in _PATTERNS:
            if depth >= MAX_DEPTH and kind in ("b", "i"):
                continue
            m = upcoming.get(kind)
            if kind not in upcoming or (m is not None and m.start() < pos):
                m = rx.search(text, pos)
                upcoming[kind] = m
            if m is not None and (best is None or m.start() < best[1].start()):
                best = (kind, m)
        if best is None:
            break
        kind, m = best
        start, end = m.start(), m.end()
        node: dict[str, Any] | None = None
        if kind == "a":
            url = _trim_url(m.group(0))
            href = safe_href(url)
            end = start + len(url)
            node = {"t": "a", "href": href, "c": [url]} if href and url else None
        elif kind == "code":
            node = {"t": "code", "c": [m.group(1)]}
        else:
            node = {"t": kind, "c": _inline(m.group(0)[1:-1], depth + 1)}
        if node is None:  # not a link after all: keep the text and look further on
            end = max(end, start + 1)
            _append(out, text[pos:end])
        else:
            _append(out, text[pos:start])
            out.append(node)
        pos = end
    _append(out, text[pos:])
    return out


def _append(out: list[Node], text: str) -> None:
    if not text:
        return
    if out and isinstance(out[-1], str):
        out[-1] += text
    else:
        out.append(text)


def rich(text: str | None) -> list[Node] | None:
    """The tree for `text`, or None when it is plain text (the page then shows it as it is)."""
    if not text:
        return None
    out: list[Node] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            out.append({"t": "br"})
        out.extend(_inline(line, 0))
    if len(out) == 1 and out[0] == text:
        return None
    return out
