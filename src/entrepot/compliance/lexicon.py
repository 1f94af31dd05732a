"""Matching messages against lexicon rules.

Words and phrases are matched on the search analysers' tokens, so Korean particles ("밀수를" still
matches 밀수), Chinese without spaces and traditional/simplified variants match as a reader expects.
Regular expressions run on the normalised text with a time limit; a pattern that can run away is
refused when it is saved.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import regex

from entrepot.core.errors import InvalidInput
from entrepot.search.analyzers import get_analyzer
from entrepot.search.tokens import fts_tokens

REGEX_TIMEOUT_S = 0.05
SAVE_PROBES = ["a" * 5000 + "!", "가" * 3000 + "?", "x " * 3000, "0" * 5000]


@dataclass(frozen=True)
class Rule:
    id: int
    version: int
    kind: str
    pattern: str
    language: str | None
    severity: str
    action: str
    description: str


@dataclass(frozen=True)
class Match:
    rule: Rule
    matched: str
    start: int
    end: int


def _tokens(text: str) -> list[str]:
    return fts_tokens(get_analyzer("multilingual").analyze_query(text).terms)


def check_regex(pattern: str) -> None:
    """Refuse invalid patterns and ones that take too long on hostile input."""
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE | regex.UNICODE)
    except regex.error as exc:
        raise InvalidInput("This regular expression is not valid: %(why)s", field="pattern", why=str(exc)[:120]) from exc
    for probe in SAVE_PROBES:
        try:
            compiled.search(probe, timeout=REGEX_TIMEOUT_S)
        except TimeoutError as exc:
            raise InvalidInput("This regular expression can take too long; write it more simply.",
                               field="pattern") from exc


class Lexicon:
    """A compiled rule set; token rules indexed by their first token, so 1,000 rules cost little."""

    def __init__(self, rules: list[Rule]) -> None:
        self.by_first: dict[str, list[tuple[Rule, tuple[str, ...]]]] = defaultdict(list)
        self.regexes: list[tuple[Rule, regex.Pattern[str]]] = []
        for rule in rules:
            if rule.kind == "regex":
                self.regexes.append((rule, regex.compile(rule.pattern, regex.IGNORECASE | regex.UNICODE)))
            else:
                tokens = tuple(_tokens(rule.pattern))
                if tokens:
                    self.by_first[tokens[0]].append((rule, tokens))

    def match(self, text: str, language: str | None = None) -> list[Match]:
        found: list[Match] = []
        tokens = _tokens(text)
        for i, tok in enumerate(tokens):
            for rule, seq in self.by_first.get(tok, ()):
                if tokens[i:i + len(seq)] == list(seq) and rule.language in (None, language):
                    found.append(Match(rule, *_locate(text, seq)))
        normalised = unicodedata.normalize("NFKC", text)
        for rule, pattern in self.regexes:
            if rule.language not in (None, language):
                continue
            try:
                m = pattern.search(normalised, timeout=REGEX_TIMEOUT_S)
            except TimeoutError:
                continue  # cannot happen for saved rules; never let one message stall sending
            if m:
                found.append(Match(rule, m.group(0)[:500], m.start(), m.end()))
        unique = {(m.rule.id, m.start): m for m in found}
        return sorted(unique.values(), key=lambda m: (m.start, m.rule.id))


def _locate(text: str, seq: tuple[str, ...]) -> tuple[str, int, int]:
    """Where in the original text the matched words are, for the reviewer's highlight."""
    from entrepot.search.snippets import _fold, _spans

    folded, index = _fold(text)
    spans = [(index[a], index[b - 1] + 1) for a, b in _spans(folded, list(seq)) if b <= len(index)]
    if not spans:
        return " ".join(seq)[:500], 0, 0
    start, end = min(a for a, _ in spans), max(b for _, b in spans)
    if end - start > 500:
        end = spans[0][1]
    return text[start:end], start, end
