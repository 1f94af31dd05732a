"""The multilingual analyser used for indexing and querying: script runs -> language analysers.

Every text is normalised, split into script runs (scripts.segments) and each run goes to its
analyser: Hangul -> Kiwi, kana-bearing Han/Kana -> Sudachi, other Han -> OpenCC t2s + jieba,
Latin/digits/other letters -> Snowball words and number/code tokens. So "HS 8703 승용차 輸出
price" is analysed by four analysers and a query in any language meets documents in any other
where they share a word form (Han characters are folded to simplified for zh and ja alike).

Two token streams come out (see IndexedText):
- terms: the morphological tokens (the main FTS5 column);
- grams: single Han and Hangul characters (Han folded); a low-weight column. It lets
  one-character queries (都, 차) find documents although segmenters keep 東京都 whole, and
  gives Chinese/Japanese queries partial credit when query and document were segmented
  differently. Overlapping bigrams were measured too (bench/search.py --grams): they lowered
  zh-Hant MRR (0.950 -> 0.934..0.943) and would re-create the "京都 inside 東京都" match we
  must avoid, so they are off.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
_HANGUL_CHAR = re.compile(f"[{HANGUL_CLASS}]")


@dataclass(frozen=True, slots=True)
class AnalyzerConfig:
    grams: str = "unigram"  # "none" | "unigram" | "bigram" | "unigram+bigram"
    # Scripts whose characters are indexed as grams. Han unigrams gained zh-Hans 0.975 -> 0.986;
    # Hangul unigrams cost Korean MRR (0.971 -> 0.964 queried, 0.957 -> 0.950 only indexed).
    gram_scripts: frozenset[str] = frozenset({"han"})
    # Scripts whose grams a multi-character query uses; a one-character Han query (都) is always
    # looked up in the gram column. A one-syllable Hangul query (차) becomes a prefix query on
    # terms instead: indexing Hangul grams, even unqueried, cost ko MRR 0.957 -> 0.950 (FTS5
    # counts a term's document frequency over all columns).
    query_gram_scripts: frozenset[str] = frozenset({"han"})
    query_grams: str = "terms"  # "always" | "terms" (grams of kept terms) | "fallback" | "never"
    japanese_subwords: bool = True
    japanese_fold_han: bool = True
    chinese_subwords: bool = False  # measured: zh-Hant MRR 0.959 -> 0.955 with sub-words
    # Also index the dictionary-only split of HMM-guessed words: zh-Hant 0.9495 -> 0.9516.
    chinese_plain_too: bool = True
    max_query_terms: int = 64  # a 10,000-character paste must not become a 2,000-term OR


@dataclass(slots=True)
class IndexedText:
    terms: list[str] = field(default_factory=list)
    grams: list[str] = field(default_factory=list)
    lang: str = "und"  # dominant language by script counts: ko, zh, ja, en or und
    prefix: bool = False  # query only: match terms by prefix (a lone Hangul syllable: 차 -> 차량)

    def joined(self) -> tuple[str, str]:
        """Column values for the FTS5 row: tokens joined by single spaces."""
        return " ".join(self.terms), " ".join(self.grams)


def _segments_language(segs: list[Segment]) -> str:
    """Dominant language from segment lengths (cheaper than re-counting scripts in the text)."""
    sizes: dict[str, int] = {}
    for s in segs:
        sizes[s.lang] = sizes.get(s.lang, 0) + len(s.text)
    if not sizes:
        return "und"
    best = max(sizes, key=sizes.__getitem__)
    return "en" if best == "word" else best


class MultilingualAnalyzer:
    name = "multilingual"

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        self.config = config or AnalyzerConfig()
        self.korean = KoreanAnalyzer()
        self.chinese = ChineseAnalyzer(
            subwords=self.config.chinese_subwords, plain_too=self.config.chinese_plain_too
        )
        self.japanese = JapaneseAnalyzer(
            subwords=self.config.japanese_subwords, fold_han=self.config.japanese_fold_han
        )
        self.latin = LatinAnalyzer()
        chars = "".join(_GRAM_CLASS[s] for s in sorted(self.config.gram_scripts))
        self._gram_run = re.compile(f"[{chars}]+") if chars else None
        self._gram_run_has_hangul = "hangul" in self.config.gram_scripts
        qchars = "".join(
            _GRAM_CLASS[s] for s in sorted(self.config.query_gram_scripts & self.config.gram_scripts)
        )
        self._query_gram_char = re.compile(f"[{qchars}]") if qchars else None

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
        # All Korean runs of the batch go to Kiwi in one call (per-call overhead dominates short
        # runs). Kiwi's result conversion holds the GIL, so a helper thread measured no faster;
        # bulk.analyze_many uses processes for the second core instead.
        ko_texts = [s.text for segs in segs_per_doc for s in segs if s.lang == "ko"]
        parts: list[list[list[str] | None]] = []
        results = [IndexedText(lang=_segments_language(segs)) for segs in segs_per_doc]
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
        ko_iter = iter(self.korean.tokens_batch(ko_texts))
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
        return [
            Segment(s.lang, fold_traditional(s.text), s.start) if s.lang == "zh" else s
            for s in segments(norm)
        ]

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
        if not terms and len(norm) == 1 and CJK_CHAR.match(norm):
            # A one-character query the analyser drops (수 is a bound noun to Kiwi) still counts.
            terms = [fold_traditional(norm)]
        mode = self.config.query_grams
        if mode == "terms" and terms:
            # Grams of the kept terms only: 的/是/哪 and other stop characters never reach the
            # gram column, which keeps it precise and its posting lists short.
            qre = self._query_gram_char
            grams = [ch for t in terms for ch in (qre.findall(t) if qre else ())]
            if len(terms) == 1 and len(terms[0]) == 1 and CJK_CHAR.match(terms[0]):
                # A one-character query (都) must reach characters inside longer words.
                grams.append(terms[0])
        grams = dedupe(g for g in grams if "unigram" in self.config.grams or len(g) > 1)
        if mode == "never" and terms:
            grams = []
        elif mode == "fallback" and terms:
            # Keep single characters that are a whole query term (都, 차): they need the gram column.
            single = {t for t in terms if len(t) == 1 and CJK_CHAR.match(t)}
            grams = [g for g in grams if g in single]
        lone_syllable = len(terms) == 1 and len(terms[0]) == 1 and _HANGUL_CHAR.match(terms[0]) is not None
        if lone_syllable and not self._gram_run_has_hangul:
            return IndexedText(terms, [], dominant_language(norm), prefix=True)
        return IndexedText(terms, grams[: self.config.max_query_terms], dominant_language(norm))
