"""The words a regular expression cannot match without: a cheap test before running it.

`required_literals(pattern)` gives a set of strings, casefolded, at least one of which occurs in
every text the pattern matches (so `r"(?:wire|send)\\s+cash"` gives {"cash"}, and `r"cash|bribe"`
gives {"cash", "bribe"}), or None when no such set is known. A text whose casefolded form contains
none of them cannot match, and the pattern need not run on it: most messages contain none of a
rule set's words, and a substring test costs a fraction of a regular-expression search.

The pattern is read with Python's own parser. Rules are run by the `regex` module, whose syntax is a
superset, so anything the two could read differently gives None (the pattern then always runs):
fuzzy matching written as `{e<=1}`, POSIX classes `[[:alpha:]]`, escapes only `regex` knows.
Only letters and digits are kept in the strings (punctuation may be syntax only `regex` gives a
meaning to), and casefolding both sides is a looser test than the case-insensitive match itself.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

try:  # Python 3.11+: the parser is re._parser; sre_parse is its deprecated alias
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

MIN_LITERAL = 2  # a one-letter requirement passes nearly every text: not worth the test

_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)}
_ATOMIC = getattr(sre_parse, "ATOMIC_GROUP", None)
_BRACE = re.compile(r"\{")
_NUMERIC_REPEAT = re.compile(r"\{\d*(?:,\d*)?\}")  # any other brace may be `regex`'s fuzzy matching

Literals = frozenset[str]


def required_literals(pattern: str) -> Literals | None:
    """Casefolded strings of which every match contains at least one, or None (see the module)."""
    if "[:" in pattern or len(_BRACE.findall(pattern)) != len(_NUMERIC_REPEAT.findall(pattern)):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a FutureWarning means Python reads it unlike `regex` might
            parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except (re.error, Warning, RecursionError, OverflowError):
        return None
    found = _sequence(list(parsed))
    if not found or min(len(s) for s in found) < MIN_LITERAL:
        return None
    return found


def _better(a: Literals | None, b: Literals | None) -> Literals | None:
    """The more selective requirement: the one whose shortest string is longer, then the smaller set."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b, key=lambda s: (min(map(len, s)), -len(s)))


def _sequence(items: list[tuple[Any, Any]]) -> Literals | None:
    best: Literals | None = None
    run: list[str] = []

    def close() -> None:
        nonlocal best
        if run:
            best = _better(best, frozenset({"".join(run).casefold()}))
            run.clear()

    for op, av in items:
        if op is sre_parse.LITERAL and chr(av).isalnum():
            run.append(chr(av))
            continue
        close()
        best = _better(best, _item(op, av))
    close()
    return best


def _item(op: Any, av: Any) -> Literals | None:
    """What one non-literal element of a sequence requires on its own."""
    if op is sre_parse.SUBPATTERN:
        return _sequence(list(av[-1]))
    if _ATOMIC is not None and op is _ATOMIC:
        return _sequence(list(av))
    if op in _REPEATS:
        low, _high, body = av
        return _sequence(list(body)) if low >= 1 else None
    if op is sre_parse.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            need = _sequence(list(branch))
            if not need:
                return None  # a branch that needs nothing: the whole alternation needs nothing
            union |= need
        return frozenset(union)
    return None
