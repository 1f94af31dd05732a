"""Chinese analyser: OpenCC traditional->simplified folding, then jieba segmentation.

jieba runs through rjieba (the Rust port, identical output on Han text) when it is installed;
pure-Python jieba segments ~300 passages/s, too slow for the 500 passages/s index target.

Folding comes first so that a traditional query finds a simplified document (and the reverse)
and jieba, whose dictionary is simplified, segments both the same way. Kanji in Japanese text
are folded with the same table (see japanese.py) so Chinese and Japanese share Han tokens.

We do not use jieba's cut_for_search: it emits every dictionary word inside a longer word, so
"东京都" yields "京都" and a search for Kyoto would match Tokyo.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from .base import Lazy, dedupe
from .normalize import normalize, tokens_from
from .scripts import HAN_CLASS

__all__ = ["ChineseAnalyzer", "fold_traditional", "JIEBA", "CHINESE_QUERY_STOPWORDS"]

# Function words and question words that only add noise to an OR query (kept in the index).
CHINESE_QUERY_STOPWORDS = frozenset(
    """的 了 是 在 由 哪 哪个 哪些 哪里 哪儿 哪一 哪一个 什么 什么样 谁 何 何时 何地 多少 几
    几个 为 为何 与 和 及 之 其 于 被 将 对 从 等 也 都 而 或 这 那 个 一 有 以 就 吗 呢 啊
    吧 怎么 怎样 如何 为什么 所 把 给 向 跟 上 中 下 后 前 时 他 她 它 他们 我 你 是否 来 去
    到 说 又 并 则 即 该 此 各 位 名 称""".split()
)


def _load_folder() -> Callable[[str], str]:
    """A fast t2s function built from the OpenCC dictionaries (falls back to OpenCC itself).

    opencc-python-reimplemented converts ~170k chars/s, a bottleneck at index time; t2s is a
    character table plus ~280 phrases, so str.translate plus one phrase regex gives the same
    output (checked against OpenCC on the test corpus) at tens of MB/s.
    """
    try:
        base = resources.files("opencc") / "dictionary"
        chars = Path(str(base / "TSCharacters.txt")).read_text(encoding="utf-8")
        phrases = Path(str(base / "TSPhrases.txt")).read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError, TypeError):  # native OpenCC ships binary .ocd2 files
        import opencc

        converter = opencc.OpenCC("t2s")
        return converter.convert

    table: dict[int, str] = {}
    for line in chars.splitlines():
        key, _, vals = line.partition("\t")
        if len(key) == 1 and vals:
            table[ord(key)] = vals.split()[0]
    phrase_map: dict[str, str] = {}
    for line in phrases.splitlines():
        key, _, vals = line.partition("\t")
        if key and vals:
            phrase_map[key] = vals.split()[0]
    pattern = re.compile("|".join(map(re.escape, sorted(phrase_map, key=len, reverse=True))))

    def fold(text: str) -> str:
        out: list[str] = []
        pos = 0
        for m in pattern.finditer(text):
            out.append(text[pos : m.start()].translate(table))
            out.append(phrase_map[m.group()])
            pos = m.end()
        out.append(text[pos:].translate(table))
        return "".join(out)

    return fold


_FOLDER: Lazy[Callable[[str], str]] = Lazy(_load_folder)


_ANY_HAN = re.compile(f"[{HAN_CLASS}]")


def fold_traditional(text: str) -> str:
    """Traditional -> simplified Chinese (OpenCC t2s tables)."""
    # Every key of the tables is a Han character: text without one is returned as it is, without
    # the phrase scan (most snippets and Latin or Hangul passages).
    return _FOLDER.get()(text) if _ANY_HAN.search(text) else text


Span = tuple[str, int, int]


class _Segmenter:
    """jieba precise-mode and search-mode spans (word, start, end)."""

    hmm = True  # HMM guesses words for unknown runs (names); see ChineseAnalyzer.hmm

    def __init__(self) -> None:
        try:
            import rjieba  # jieba-rs: same algorithm and dictionary, ~20x faster

            rjieba.cut("")  # builds the dictionary once
            self.words: Callable[[str], list[Span]] = lambda t: rjieba.tokenize(
                t, mode="default", hmm=self.hmm
            )
            self.spans: Callable[[str], list[Span]] = lambda t: rjieba.tokenize(
                t, mode="search", hmm=self.hmm
            )
            self.plain: Callable[[str], list[Span]] = lambda t: rjieba.tokenize(t, mode="default", hmm=False)
            return
        except ImportError:
            pass
        import jieba

        logging.getLogger("jieba").setLevel(logging.WARNING)
        tok = jieba.Tokenizer()
        # jieba caches its prefix dictionary on first use; never in site-packages or the CWD.
        cache_dir = Path(tempfile.gettempdir()) / "entrepot-jieba"
        cache_dir.mkdir(parents=True, exist_ok=True)
        tok.tmp_dir = str(cache_dir)
        tok.initialize()
        self.words = lambda t: list(tok.tokenize(t, mode="default", HMM=self.hmm))
        self.spans = lambda t: list(tok.tokenize(t, mode="search", HMM=self.hmm))
        self.plain = lambda t: list(tok.tokenize(t, mode="default", HMM=False))


JIEBA: Lazy[_Segmenter] = Lazy(_Segmenter)


def _with_subwords(text: str, seg: _Segmenter) -> list[str]:
    """Precise-mode words, each word of 3+ characters followed by a tiling into sub-words.

    Search mode lists every dictionary word inside a long word (东京都 -> 东京, 京都); we keep
    a left-to-right tiling by the longest sub-word at each position (东京 + 都 -> 东京;
    中华人民共和国 -> 中华 + 人民 + 共和国), so sub-words add recall without ever producing
    京都 from 东京都.
    """
    words = seg.words(text)
    if all(e - s < 3 for _, s, e in words):
        return [w for w, _, _ in words]
    whole = {(s, e) for _, s, e in words}
    longest: dict[int, int] = {}
    for _, s, e in seg.spans(text):
        if (s, e) not in whole and e > longest.get(s, s):
            longest[s] = e
    out: list[str] = []
    for word, start, end in words:
        out.append(word)
        i = start
        while end - start >= 3 and i < end:
            e = longest.get(i, i)
            if i < e <= end:
                out.append(text[i:e])
                i = e
            else:
                i += 1
    return out


class ChineseAnalyzer:
    """jieba precise mode (HMM on, for names) over t2s-folded text."""

    name = "zh"

    def __init__(
        self,
        query_stopwords: frozenset[str] = CHINESE_QUERY_STOPWORDS,
        subwords: bool = False,
        plain_too: bool = True,
    ) -> None:
        self.query_stopwords = query_stopwords
        self.subwords = subwords
        self.plain_too = plain_too

    def segment(self, text: str, *, folded: bool = False) -> list[str]:
        """Tokens of already-normalised text (folds traditional to simplified unless folded)."""
        text = text if folded else fold_traditional(text)
        seg = JIEBA.get()
        words = _with_subwords(text, seg) if self.subwords else [w for w, _, _ in seg.words(text)]
        if self.plain_too and seg.hmm:
            # Words the HMM invented for unknown runs (堡于 in 史特拉斯堡于) are segmented
            # differently in other contexts; the dictionary-only split is added alongside.
            seen = set(words)
            words += [w for w, _, _ in seg.plain(text) if w not in seen]
        return tokens_from(words)

    def index_tokens(self, text: str) -> list[str]:
        return self.segment(normalize(text))

    def query_tokens(self, text: str) -> list[str]:
        return self.filter_query(self.segment(normalize(text)))

    def filter_query(self, tokens: list[str]) -> list[str]:
        kept = [t for t in tokens if t not in self.query_stopwords]
        return dedupe(kept or tokens)
