"""Korean analyser: Kiwi (kiwipiepy) content morphemes.

Kiwi segments text without spaces well (OCR often drops them): "한국무역협회는수출입통계를발표했다"
yields the same morphemes as the spaced sentence. We keep content morphemes only: nouns,
numerals, roots, verb/adjective stems, foreign words, hanja and numbers; particles, endings
and suffixes would only add noise to BM25.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from .base import Lazy, dedupe
from .normalize import normalize, tokens_from

__all__ = ["KoreanAnalyzer", "KIWI", "CONTENT_TAGS", "KOREAN_QUERY_STOPWORDS"]

# NNG/NNP common/proper nouns, NR numerals, XR roots, VV/VA verb/adjective stems (also the
# irregular variants VV-I, VA-R, ...), SL foreign, SH hanja, SN numbers.
CONTENT_TAGS = ("NNG", "NNP", "NR", "XR", "VV", "VA", "SL", "SH", "SN")

# Light verbs and the stems of question patterns ("무엇이라고 불리는가", "어떻게 되는가"):
# dropped from queries only, and only while other terms remain.
KOREAN_QUERY_STOPWORDS = frozenset(
    "하 되 있 없 않 보 어떻 같 그렇 이렇 때 불리 부르 이르 말 경우 가지 대하 위하 통하 의하".split()
)


def _load_kiwi():  # -> kiwipiepy.Kiwi
    from kiwipiepy import Kiwi

    # num_workers=1: batch calls (a list of texts) need Kiwi's worker mode; 2 workers measured
    # no faster on 2 cores (result conversion to Python objects is the serial part).
    # The typo dictionary is off: it costs ~10% speed and our input is edited text or OCR.
    kiwi = Kiwi(num_workers=1, load_typo_dict=False)
    kiwi.tokenize("")  # Kiwi initialises lazily; pay the ~2 s here, once
    return kiwi


KIWI: Lazy = Lazy(_load_kiwi)


def _content(tokens) -> list[str]:
    return tokens_from([tok.form for tok in tokens if tok.tag.startswith(CONTENT_TAGS)])


class KoreanAnalyzer:
    name = "ko"

    def index_tokens(self, text: str) -> list[str]:
        text = normalize(text)
        return _content(KIWI.get().tokenize(text)) if text else []

    def query_tokens(self, text: str) -> list[str]:
        return self.filter_query(self.index_tokens(text))

    @staticmethod
    def filter_query(tokens: list[str]) -> list[str]:
        kept = [t for t in tokens if t not in KOREAN_QUERY_STOPWORDS]
        return dedupe(kept or tokens)

    def tokens_batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Content morphemes for many normalised texts in one Kiwi call (far less overhead)."""
        if not texts:
            return []
        return [_content(toks) for toks in KIWI.get().tokenize(list(texts))]


_HANGUL_WORD = re.compile(r"^[\uac00-\ud7a3]{4,12}$")


@lru_cache(maxsize=50_000)
def compound_parts(word: str) -> tuple[str, ...]:
    """The parts of a long Korean noun written without spaces (한국무역협회 -> 한국 무역 협회), from
    Kiwi's next-best analyses. Indexed beside the word, so a query spaced either way finds it."""
    if not _HANGUL_WORD.match(word):
        return ()
    for tokens, _score in KIWI.get().analyze(word, top_n=3)[1:]:
        forms = [t.form for t in tokens]
        if len(forms) > 1 and "".join(forms) == word and all(
                len(f) >= 2 and t.tag.startswith("NN") for f, t in zip(forms, tokens, strict=True)):
            return tuple(forms)
    return ()
