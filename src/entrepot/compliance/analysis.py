"""Text analysis for screening: the search analysers, run once per message and only where needed.

A message's tokens are the same as the search analysers give (see MultilingualAnalyzer.index_batch,
without search's extra grams), so Korean particles, Chinese without spaces and traditional/simplified
variants match as a reader expects. What differs is the cost:

- the text is split into script runs once, and each run goes only to its own analyser: a message
  without Hangul never reaches Kiwi, one without kana never reaches Sudachi;
- the tokens of a short Chinese, Japanese or Korean run are kept in a bounded cache. Chat repeats
  itself ("감사합니다", "明天回复您", "입니다" between two numbers), and Kiwi spends about half a
  millisecond on a run however short it is, so repeated runs cost a dictionary look-up instead;
- Kiwi runs in the calling thread: its batch mode hands each call to a worker thread, which costs
  more than the analysis itself for one short run (and far more when the machine is busy).

The cache holds tokens only (never the message), is bounded in entries and in run length, and
gives the same answer as analysing again: `tokens_of(text, cached=False)` is the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from entrepot.search.analyzers import AnalyzerConfig, Lazy, MultilingualAnalyzer
from entrepot.search.analyzers.korean import KIWI, _content
from entrepot.search.analyzers.latin import word_tokens
from entrepot.search.analyzers.normalize import normalize, tokens_from

#: Runs longer than this are analysed every time: long passages rarely repeat and would crowd the cache.
CACHED_RUN_CHARS = 64
CACHED_RUNS = 20_000  # about 10 MB at most


def _matching_analyzer() -> MultilingualAnalyzer:
    # Search's analysers without its search-only extras (single-character grams, the dictionary-only
    # second split of Chinese words): the token stream keeps the text's order, so phrases stay adjacent.
    return MultilingualAnalyzer(AnalyzerConfig(grams="none", chinese_plain_too=False))


_ANALYZER: Lazy[MultilingualAnalyzer] = Lazy(_matching_analyzer)


def _run_tokens(lang: str, run: str) -> tuple[str, ...]:
    """Tokens of one normalised Chinese, Japanese or Korean run (Chinese runs come folded already)."""
    analyzer = _ANALYZER.get()
    if lang == "zh":
        return tuple(analyzer.chinese.segment(run, folded=True))
    if lang == "ja":
        return tuple(analyzer.japanese.segment(run))
    return tuple(_content(KIWI.get().tokenize(run)))


_cached_run_tokens = lru_cache(maxsize=CACHED_RUNS)(_run_tokens)


def tokens_of(text: str, *, cached: bool = True) -> list[str]:
    """The text's tokens in order, repeats kept (rules and messages go through the same function),
    split where the search index's tokenizer would split them."""
    norm = normalize(text)
    if not norm:
        return []
    terms: list[str] = []
    for seg in MultilingualAnalyzer._segments(norm, normalized=True):
        if seg.lang == "word":
            terms.extend(word_tokens(seg.text))  # cached by the Latin analyser itself
        elif cached and len(seg.text) <= CACHED_RUN_CHARS:
            terms.extend(_cached_run_tokens(seg.lang, seg.text))
        else:
            terms.extend(_run_tokens(seg.lang, seg.text))
    return tokens_from(terms)


def tokens_of_many(texts: Sequence[str]) -> list[list[str]]:
    """tokens_of for many texts (rule sets, vocabularies): one Kiwi call for all their Korean."""
    return [tokens_from(doc.terms) for doc in _ANALYZER.get().index_batch(list(texts))]


def clear_cache() -> None:
    """Forget the cached runs (benchmarks measure a cold start with it)."""
    _cached_run_tokens.cache_clear()


def warm() -> None:
    """Load every analyser now (seconds), not on the first message that needs it."""
    tokens_of("warm 한국어 中文 日本語です", cached=False)
