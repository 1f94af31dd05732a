"""Matching messages against lexicon rules.

Words and phrases are matched on the search analysers' tokens, so Korean particles ("밀수를" still
matches 밀수), Chinese without spaces and traditional/simplified variants match as a reader expects.
Every word and phrase rule sits in one index keyed by its first token: a message's tokens are looked
up once each and only the rules found there are checked for the rest of their phrase, so the cost
hardly grows with the number of rules. Regular expressions run on the normalised text with a time
limit, and most never run at all: a pattern that cannot match without one of a few words (literals.py)
runs only on a text that contains one. Those that need no word and can share a pass are joined into
a few alternations that tell, in one search, whether any of their members can match; only then are
the members run one by one. A pattern that can run away is refused when it is saved.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import regex

from entrepot.compliance.analysis import tokens_of, tokens_of_many
from entrepot.compliance.literals import required_literals
from entrepot.core.errors import InvalidInput
from entrepot.search.analyzers import fold_traditional

REGEX_TIMEOUT_S = 0.05
SAVE_PROBES = ["a" * 5000 + "!", "가" * 3000 + "?", "x " * 3000, "0" * 5000]
REGEX_CHUNK = 64  # members per joined pattern: bigger chunks mean fewer passes but costlier fallbacks
TOKEN_KINDS = ("word", "phrase")
_FLAGS = regex.IGNORECASE | regex.UNICODE
# Constructs that change meaning when a pattern is embedded in a larger one: back-references and
# group names (numbers shift, names collide), recursion, and inline flags that apply to the whole.
_NOT_JOINABLE = regex.compile(r"\\[1-9]|\\g|\(\?P?[<=&>]|\(\?[0-9R]|\(\?[a-zA-Z]+\)|\(\?\(")

T = TypeVar("T")


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


def language_family(language: str | None) -> str | None:
    """zh-Hans and zh-Hant are one language for rules: folding makes either script match the other."""
    return "zh" if language and language.startswith("zh") else language


def check_regex(pattern: str) -> None:
    """Refuse invalid patterns and ones that take too long on hostile input."""
    try:
        compiled = regex.compile(pattern, _FLAGS)
    except regex.error as exc:
        raise InvalidInput(
            "This regular expression is not valid: %(why)s", field="pattern", why=str(exc)[:120]
        ) from exc
    for probe in SAVE_PROBES:
        try:
            compiled.search(probe, timeout=REGEX_TIMEOUT_S)
        except TimeoutError as exc:
            raise InvalidInput(
                "This regular expression can take too long; write it more simply.", field="pattern"
            ) from exc


class PhraseIndex(Generic[T]):
    """Token sequences keyed by their first token: finds every occurrence of every entry in one pass."""

    def __init__(self) -> None:
        self._first: dict[str, list[tuple[tuple[str, ...], T]]] = {}

    def add(self, tokens: Sequence[str], payload: T) -> None:
        if tokens:
            self._first.setdefault(tokens[0], []).append((tuple(tokens), payload))

    def __len__(self) -> int:
        return sum(len(v) for v in self._first.values())

    def find(self, tokens: Sequence[str]) -> Iterator[tuple[int, int, T]]:
        """(position, length, payload) of each occurrence, in text order."""
        first = self._first
        if first.keys().isdisjoint(tokens):  # most texts hold no entry's first word: one pass in C
            return
        n = len(tokens)
        for i, tok in enumerate(tokens):
            candidates = first.get(tok)
            if candidates is None:
                continue
            for seq, payload in candidates:
                k = len(seq)
                if k == 1 or (i + k <= n and all(tokens[i + j] == seq[j] for j in range(1, k))):
                    yield i, k, payload


@dataclass(frozen=True)
class _Node:
    """Regex rules as a tree of joined patterns: a node's pattern matches somewhere iff one of its
    members does, so a text that matches none costs one search per root, and a hit is traced down to
    its rules in a few more."""

    pattern: regex.Pattern[str]
    rule: Rule | None = None  # a leaf: one rule's own pattern
    children: tuple[_Node, ...] = ()

    def search(self, text: str, out: dict[int, Match]) -> None:
        m = _search(self.pattern, text)
        if m is None:
            return
        if self.rule is not None:
            if m:
                out[self.rule.id] = Match(self.rule, m.group(0)[:500], m.start(), m.end())
            return
        for child in self.children:  # a hit, or a timeout: look closer
            child.search(text, out)


def _tree(members: Sequence[tuple[Rule, regex.Pattern[str]]]) -> _Node:
    if len(members) == 1:
        rule, pattern = members[0]
        return _Node(pattern, rule)
    mid = len(members) // 2
    children = (_tree(members[:mid]), _tree(members[mid:]))
    try:
        joined = regex.compile("|".join(f"(?:{r.pattern})" for r, _ in members), _FLAGS)
    except regex.error:  # a combination the engine refuses: always look at both halves
        joined = regex.compile("", _FLAGS)
    return _Node(joined, None, children)


def _roots(rules: list[tuple[Rule, regex.Pattern[str]]]) -> list[_Node]:
    joinable = [(r, p) for r, p in rules if not _NOT_JOINABLE.search(r.pattern)]
    alone = [_tree([(r, p)]) for r, p in rules if _NOT_JOINABLE.search(r.pattern)]
    return [_tree(joinable[i : i + REGEX_CHUNK]) for i in range(0, len(joinable), REGEX_CHUNK)] + alone


def _search(pattern: regex.Pattern[str], text: str) -> regex.Match[str] | None | Literal[False]:
    """The match, None, or False when the time limit ran out (saved rules pass the probes, so rarely)."""
    try:
        return pattern.search(text, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        return False


class Lexicon:
    """A compiled rule set: one token index for words and phrases; for regexes, a substring test on the
    words each needs (see literals.py) and joined passes for those that need none."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.index: PhraseIndex[Rule] = PhraseIndex()
        by_language: dict[str | None, list[tuple[Rule, regex.Pattern[str]]]] = {}
        gated: dict[str | None, dict[str, list[tuple[Rule, regex.Pattern[str]]]]] = {}
        self.rules: list[Rule] = []
        for rule in rules:
            if rule.kind == "regex":
                compiled = regex.compile(rule.pattern, _FLAGS)
                family = language_family(rule.language)
                needs = required_literals(rule.pattern)
                if needs is None:
                    by_language.setdefault(family, []).append((rule, compiled))
                else:
                    for literal in needs:
                        gated.setdefault(family, {}).setdefault(literal, []).append((rule, compiled))
            elif rule.kind in TOKEN_KINDS:
                self.index.add(tokens_of(rule.pattern), rule)
            else:
                continue  # other kinds (the off-topic rule) are not text patterns
            self.rules.append(rule)
        self.regex_roots = {lang: _roots(members) for lang, members in by_language.items()}
        self.regex_gated = {lang: list(by_literal.items()) for lang, by_literal in gated.items()}

    def __len__(self) -> int:
        return len(self.rules)

    def match(
        self, text: str, language: str | None = None, tokens: Sequence[str] | None = None
    ) -> list[Match]:
        """Each matching rule once, at its first occurrence, ordered by position. `tokens` (from
        tokens_of) saves analysing the text again when the caller has them already."""
        family = language_family(language)
        found: dict[int, Match] = {}
        toks = tokens_of(text) if tokens is None else tokens
        folded: tuple[str, Sequence[int]] | None = None
        for pos, length, rule in self.index.find(toks):
            if rule.id in found or (rule.language is not None and language_family(rule.language) != family):
                continue
            folded = folded or fold(text)
            found[rule.id] = Match(rule, *locate(text, toks[pos : pos + length], folded))
        if self.regex_roots or self.regex_gated:
            normalised = text if text.isascii() else unicodedata.normalize("NFKC", text)  # ASCII: unchanged
            self._match_regexes(normalised, family, found)
        return sorted(found.values(), key=lambda m: (m.start, m.rule.id))

    def _match_regexes(self, normalised: str, family: str | None, found: dict[int, Match]) -> None:
        lowered: str | None = None
        for key in dict.fromkeys((None, family)):
            for root in self.regex_roots.get(key, ()):
                root.search(normalised, found)
            gated = self.regex_gated.get(key)
            if not gated:
                continue
            lowered = normalised.casefold() if lowered is None else lowered
            for literal, members in gated:
                if literal not in lowered:
                    continue
                for rule, pattern in members:
                    if rule.id not in found:
                        _Node(pattern, rule).search(normalised, found)


@functools.lru_cache(maxsize=8192)
def _locators(seq: tuple[str, ...]) -> tuple[regex.Pattern[str], ...]:
    """The whole sequence (words up to 8 characters apart), then each word alone."""
    gap = r"[\s\S]{0,8}?"
    return tuple(
        regex.compile(p)
        for p in (gap.join(_token_pattern(t) for t in seq), *(_token_pattern(t) for t in seq))
    )


def _token_pattern(token: str) -> str:
    if token.isascii() and token.isalnum():
        return r"(?<![0-9a-z])" + regex.escape(token) + r"[0-9a-z]*"  # Latin stems: the whole word
    return regex.escape(token)


def fold(text: str) -> tuple[str, Sequence[int]]:
    """The text as the analysers see it (NFKC, case folded, simplified Chinese) and, for each folded
    character, the index of the original one."""
    if text.isascii():
        return text.lower(), list(range(len(text)))
    whole = unicodedata.normalize("NFKC", text).casefold()
    if len(whole) == len(text):  # nothing changed length: the characters still line up one to one
        simplified = fold_traditional(whole)
        return (simplified if len(simplified) == len(whole) else whole), list(range(len(text)))
    from entrepot.search.snippets import _fold

    return _fold(text)


def locate(
    text: str, seq: Sequence[str], folded: tuple[str, Sequence[int]] | None = None
) -> tuple[str, int, int]:
    """Where in the original text the matched words first occur, for the reviewer's highlight.
    Words may be separated by spaces, punctuation or (Korean) particles; a stem the text does not
    contain literally (irregular verbs) falls back to the first word that can be found."""
    folded_text, index = folded or fold(text)
    for pattern in _locators(tuple(seq)):
        m = pattern.search(folded_text)
        if m and m.end() <= len(index) and m.end() > m.start():
            start, end = index[m.start()], index[m.end() - 1] + 1
            end = min(end, start + 500)
            return text[start:end], start, end
    return " ".join(seq)[:500], 0, 0


__all__ = [
    "Lexicon",
    "Match",
    "PhraseIndex",
    "Rule",
    "check_regex",
    "fold",
    "language_family",
    "locate",
    "tokens_of",
    "tokens_of_many",
]
