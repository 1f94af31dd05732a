"""Japanese analyser: SudachiPy (core dictionary) content words.

Split mode C keeps compounds whole (東京都, 国際連合), so "京都" is never produced from
"東京都"; the mode-A parts of a compound (東京 + 都) are added as extra tokens so a search for
"東京" still finds "東京都". normalized_form() folds spelling variants (コンピュータ ->
コンピューター, 見つけ -> 見付ける). Han characters are then folded with the Chinese t2s table
so a Chinese query for 东京 meets a Japanese 東京 (index and query are folded alike).
"""

from __future__ import annotations

import threading

from .base import Lazy, dedupe
from .chinese import fold_traditional
from .normalize import normalize, tokens_from

__all__ = ["JapaneseAnalyzer", "SUDACHI"]

_CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "接尾辞"})
# Light verbs and auxiliaries-in-disguise (する, いる, ある, なる...) carry no topic.
_SKIP_SUBTYPE = frozenset({"非自立可能"})


def _load_sudachi():  # -> (tokenizer, SplitMode)
    from sudachipy import Dictionary, SplitMode

    # The dictionary is shared; a Sudachi tokenizer is not meant to be used by two threads at
    # once, so JapaneseAnalyzer keeps one tokenizer per thread (they are cheap to create).
    return Dictionary(dict="core"), SplitMode


SUDACHI: Lazy = Lazy(_load_sudachi)


class JapaneseAnalyzer:
    name = "ja"

    def __init__(self, subwords: bool = True, fold_han: bool = True) -> None:
        self.subwords = subwords
        self.fold_han = fold_han
        self._local = threading.local()

    def _tokenizer(self):
        tok = getattr(self._local, "tok", None)
        if tok is None:
            dictionary, mode = SUDACHI.get()
            tok = self._local.tok = (dictionary.tokenizer(mode=mode.C), mode.A)
        return tok

    def segment(self, text: str) -> list[str]:
        """Content tokens of already-normalised Japanese text."""
        tok, mode_a = self._tokenizer()
        forms: list[str] = []
        for m in tok.tokenize(text):
            pos = m.part_of_speech()
            if pos[0] not in _CONTENT_POS or pos[1] in _SKIP_SUBTYPE:
                continue
            if pos[0] == "接尾辞" and pos[1] != "名詞的":
                continue
            forms.append(m.normalized_form())
            if self.subwords:
                parts = m.split(mode_a)
                if len(parts) > 1:
                    forms.extend(p.normalized_form() for p in parts)
        # One fold over the joined forms (t2s phrases never span the separating spaces).
        joined = " ".join(forms)
        return tokens_from([fold_traditional(joined) if self.fold_han else joined])

    def index_tokens(self, text: str) -> list[str]:
        text = normalize(text)
        return self.segment(text) if text else []

    def query_tokens(self, text: str) -> list[str]:
        return dedupe(self.index_tokens(text))
