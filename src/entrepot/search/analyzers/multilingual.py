"""The multilingual analyser used for indexing and querying: script runs -> language analysers.

Every text is normalised, split into script runs (scripts.segments) and each run goes to its
analyser: Hangul -> Kiwi, kana-bearing Han/Kana -> Sudachi, other Han -> OpenCC t2s + jieba,
Latin/digits/other letters -> Snowball words and number/code tokens. So "HS 8703 승용차 輸出
price" is analysed by four analysers and a query in any language meets documents in any other
where they share a word form (Han characters are folded to simplified for zh and ja alike).

Two token streams come out (see IndexedText):
- terms: the morphological tokens (the main FTS5 column);
- grams: single CJK characters (folded); a low-weight column. It lets one-character queries
  (都, 차) find documents although segmenters keep 東京都 whole, and gives partial credit when
  query and document were segmented differently. Overlapping bigrams were measured too
  (bench/search.py --grams) and did not pay their index cost; they also re-create the
  "京都 inside 東京都" match we want to avoid, so they are off by default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .base import dedupe
from .chinese import ChineseAnalyzer, fold_traditional
from .japanese import JapaneseAnalyzer
from .korean import KoreanAnalyzer
from .latin import LatinAnalyzer, word_tokens
from .normalize import normalize
from .scripts import CJK_CHAR, HAN_CLASS, HANGUL_CLASS, KANA_CLASS, Segment, dominant_language, segments

__all__ = ["IndexedText", "MultilingualAnalyzer", "AnalyzerConfig"]

_GRAM_CLASS = {"hangul": HANGUL_CLASS, "kana": KANA_CLASS, "han": HAN_CLASS}
_KANA = re.compile(f"[{KANA_CLASS}]")


@dataclass(frozen=True, slots=True)
class AnalyzerConfig:
    grams: str = "unigram"  # "none" | "unigram" | "bigram" | "unigram+bigram"
    # Scripts that get gram tokens: Han only by default. Hangul unigrams cost Korean MRR
    # (0.971 -> 0.964 on 600 questions); Han unigrams gained zh-Hans 0.975 -> 0.986.
    gram_scripts: frozenset[str] = frozenset({"han"})
    query_grams: str = "always"  # "always" | "terms" (grams of kept terms) | "fallback" | "never"
    japanese_subwords: bool = True
    japanese_fold_han: bool = True
    chinese_subwords: bool = False  # measured: zh-Hant MRR 0.959 -> 0.955 with sub-words
    max_query_terms: int = 64  # a 10,000-character paste must not become a 2,000-term OR


@dataclass(slots=True)
class IndexedText:
    terms: list[str] = field(default_factory=list)
    grams: list[str] = field(default_factory=list)
    lang: str = "und"  # dominant language by script counts: ko, zh, ja, en or und

    def joined(self) -> tuple[str, str]:
        """Column values for the FTS5 row: tokens joined by single spaces."""
        return " ".join(self.terms), " ".join(self.grams)


class MultilingualAnalyzer:
    name = "multilingual"

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        self.config = config or AnalyzerConfig()
        self.korean = KoreanAnalyzer()
        self.chinese = ChineseAnalyzer(subwords=self.config.chinese_subwords)
        self.japanese = JapaneseAnalyzer(
            subwords=self.config.japanese_subwords, fold_han=self.config.japanese_fold_han
        )
        self.latin = LatinAnalyzer()
        # One helper thread feeds Kiwi (C++, releases the GIL) while this thread runs jieba/Sudachi.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiwi")
        chars = "".join(_GRAM_CLASS[s] for s in sorted(self.config.gram_scripts))
        self._gram_run = re.compile(f"[{chars}]+") if chars else None

    # -- Analyzer protocol ---------------------------------------------------------------
    def index_tokens(self, text: str) -> list[str]:
        return self.index_batch([text])[0].terms

    def query_tokens(self, text: str) -> list[str]:
        return self.analyze_query(text).terms

    # -- grams ---------------------------------------------------------------------------
    def _grams(self, lang: str, seg: str, *, folded: bool = False) -> list[str]:
        mode = self.config.grams
        if mode == "none" or self._gram_run is None:
            return []
        if (lang == "zh" or (lang == "ja" and self.config.japanese_fold_han)) and not folded:
            seg = fold_traditional(seg)
        out: list[str] = []
        for run in self._gram_run.findall(seg):
            if "unigram" in mode:
                out.extend(run)
            if "bigram" in mode:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        return out

    # -- documents -----------------------------------------------------------------------
    def index_batch(self, texts: Sequence[str]) -> list[IndexedText]:
        """Analyse many documents; Korean runs of all documents go to Kiwi in one call."""
        norms = [normalize(t) for t in texts]
        segs_per_doc = [self._segments(t, normalized=True) for t in norms]
        ko_texts = [s.text for segs in segs_per_doc for s in segs if s.lang == "ko"]
        ko_future = self._pool.submit(self.korean.tokens_batch, ko_texts) if ko_texts else None
        parts: list[list[list[str] | None]] = []
        results = [IndexedText(lang=dominant_language(t)) for t in norms]
        for doc, segs in zip(results, segs_per_doc, strict=True):
            doc_parts: list[list[str] | None] = []
            for s in segs:
                if s.lang == "word":
                    doc_parts.append(self._word_index(s.text))
                    continue
                folded = s.lang == "zh"  # _segments folded Chinese runs already
                doc.grams.extend(self._grams(s.lang, s.text, folded=folded))
                if s.lang == "zh":
                    doc_parts.append(self.chinese.segment(s.text, folded=True))
                elif s.lang == "ja":
                    doc_parts.append(self.japanese.segment(s.text))
                else:
                    doc_parts.append(None)  # filled from Kiwi below, keeping document order
            parts.append(doc_parts)
        ko_iter = iter(ko_future.result() if ko_future else [])
        for doc, doc_parts in zip(results, parts, strict=True):
            for p in doc_parts:
                doc.terms.extend(next(ko_iter) if p is None else p)
        return results

    def _word_index(self, word: str) -> list[str]:
        return word_tokens(word)

    @staticmethod
    def _segments(text: str, *, normalized: bool = False) -> list[Segment]:
        """Script runs of the text; Chinese runs come back folded to simplified."""
        norm = text if normalized else normalize(text)
        if not _KANA.search(norm):
            # No kana: every Han run is Chinese, so fold the whole text in one pass (t2s only
            # rewrites Han characters, so run boundaries do not move).
            return list(segments(fold_traditional(norm)))
        return [Segment(s.lang, fold_traditional(s.text), s.start) if s.lang == "zh" else s for s in segments(norm)]

    # -- queries -------------------------------------------------------------------------
    def analyze_query(self, text: str) -> IndexedText:
        """Query tokens: stop words dropped per language (unless nothing else is left), deduped."""
        terms: list[str] = []
        ko_terms: list[str] = []
        zh_terms: list[str] = []
        grams: list[str] = []
        words: list[str] = []
        norm = normalize(text)
        for s in self._segments(norm, normalized=True):
            if s.lang == "word":
                words.append(s.text)
                continue
            grams.extend(self._grams(s.lang, s.text, folded=s.lang == "zh"))
            if s.lang == "ko":
                ko_terms.extend(self.korean.tokens_batch([s.text])[0])
            elif s.lang == "zh":
                zh_terms.extend(self.chinese.segment(s.text, folded=True))
            else:
                terms.extend(self.japanese.segment(s.text))
        # Stop words are judged over the whole query, not per script run.
        if ko_terms:
            terms.extend(self.korean.filter_query(ko_terms))
        if zh_terms:
            terms.extend(self.chinese.filter_query(zh_terms))
        if words:
            latin = self.latin.query_tokens_for_words(words)
            if terms:  # with CJK content present, Latin stop words add nothing
                latin = [t for t in latin if not self.latin.is_stopword_token(t)]
            terms.extend(latin)
        terms = dedupe(terms)[: self.config.max_query_terms]
        mode = self.config.query_grams
        if mode == "terms" and terms:
            # Grams of the kept terms only: 的/是/哪 and other stop characters never reach the
            # gram column, which keeps it precise and its posting lists short.
            grams = [g for t in terms for g in self._grams("ko", t, folded=True)]
        grams = dedupe(g for g in grams if "unigram" in self.config.grams or len(g) > 1)
        if mode == "never" and terms:
            grams = []
        elif mode == "fallback" and terms:
            # Keep single characters that are a whole query term (都, 차): they need the gram column.
            single = {t for t in terms if len(t) == 1 and CJK_CHAR.match(t)}
            grams = [g for g in grams if g in single]
        return IndexedText(terms, grams[: self.config.max_query_terms], dominant_language(norm))

    def close(self) -> None:
        self._pool.shutdown(wait=False)
