"""Latin-script words, numbers and codes (HS codes such as 8703.23 / 870323, ISO9001, e-mail).

Words are Snowball-stemmed (English: our Latin-script documents are English; other European
words pass through mostly unchanged). Stop words stay in the index so a query made only of
stop words ("The Who") can still match; the query side drops them unless nothing would remain.
"""

from __future__ import annotations

import functools
import re
import threading

import snowballstemmer

from .base import dedupe
from .normalize import normalize, token_pieces
from .scripts import segments

__all__ = ["LatinAnalyzer", "word_tokens", "ENGLISH_STOPWORDS"]

ENGLISH_STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren as at be because been before
    being below between both but by can could did do does doing don down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves s t d ll m re ve
    did does doesn isn wasn weren won wouldn shouldn""".split()
)

_JOINERS = re.compile(r"[.\-/&,]")
_APOSTROPHE = re.compile(r"['’]")
_CLITICS = frozenset({"s", "t", "d", "ll", "re", "ve", "m"})
_ALNUM_RUNS = re.compile(r"\d+|[^\W\d_]+")
_HAS_DIGIT = re.compile(r"\d")
_local = threading.local()  # snowballstemmer stemmers keep state: one per thread


@functools.lru_cache(maxsize=262144)
def _stem(word: str) -> str:
    # snowballstemmer runs the C stemmers of PyStemmer (a dependency) when installed, ~7 µs a word,
    # else pure Python at ~70 µs; word frequencies are Zipfian, so the cache removes most of either.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


def _part_tokens(part: str) -> list[str]:
    if part.isdigit():
        return [part]
    if not _HAS_DIGIT.search(part):
        return [_stem(part)] if part.isascii() or part.isalpha() else [part]
    # Mixed letters and digits (iso9001, a4, hs2022): the whole code plus its runs.
    runs = _ALNUM_RUNS.findall(part)
    return [part, *runs] if len(runs) > 1 else [part]


def word_tokens(word: str) -> list[str]:
    """Tokens for one normalised word-segment (letters/digits joined by . - / & , or apostrophes)."""
    return list(_word_tokens_cached(word))


@functools.lru_cache(maxsize=262144)
def _word_tokens_cached(word: str) -> tuple[str, ...]:
    # Clitics: "country's" -> "country", "don't" -> "dont"; other apostrophes just join.
    pieces = _APOSTROPHE.split(word)
    if len(pieces) > 1:
        head = pieces[0]
        for p in pieces[1:]:
            if p not in _CLITICS:
                head += p
            elif p == "t":  # negation: keep the word recognisable (dont, isnt)
                head += p
        word = head
    parts = [p for p in _JOINERS.split(word) if p]
    out: list[str] = []
    for p in parts:
        out.extend(_part_tokens(p))
    if len(parts) > 1:
        # 8703.23 -> also 870323 (HS codes are written both ways); e-mail -> email; u.s -> us.
        joined = "".join(parts)
        out.append(joined if _HAS_DIGIT.search(joined) else _stem(joined))
    return tuple(piece for tok in out for piece in token_pieces(tok))


class LatinAnalyzer:
    """Analyser for Latin-script text and numbers (ignores CJK runs; see MultilingualAnalyzer)."""

    name = "latin"

    def __init__(self, stopwords: frozenset[str] = ENGLISH_STOPWORDS) -> None:
        self.stopwords = stopwords
        self._stemmed_stop = frozenset(_stem(w) for w in stopwords) | stopwords

    def index_tokens(self, text: str) -> list[str]:
        return [t for seg in segments(normalize(text)) if seg.lang == "word" for t in word_tokens(seg.text)]

    def query_tokens(self, text: str) -> list[str]:
        words = [seg.text for seg in segments(normalize(text)) if seg.lang == "word"]
        return self.query_tokens_for_words(words)

    def is_stopword_token(self, token: str) -> bool:
        return token in self._stemmed_stop

    def query_tokens_for_words(self, words: list[str]) -> list[str]:
        kept = [t for w in words if w not in self.stopwords for t in word_tokens(w)]
        kept = [t for t in kept if t not in self._stemmed_stop]
        if not kept:  # only stop words: searching for them beats searching for nothing
            kept = [t for w in words for t in word_tokens(w)]
        return dedupe(kept)
