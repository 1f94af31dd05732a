"""Script detection and splitting of (normalised) text into script runs.

Language identification by script counts is reliable for the languages we serve and, unlike
statistical detectors (lingua and friends call kanji-only Japanese "Chinese"), it works on a
two-character query. Rules: Hangul -> Korean; Han/Kana -> Japanese when the text has kana
(any real amount), otherwise Chinese; letters of other scripts and digits -> the "word"
analyser (Latin stemming, numbers, HS codes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Script",
    "Segment",
    "script_counts",
    "dominant_language",
    "segments",
    "HAN_CLASS",
    "HANGUL_CLASS",
    "KANA_CLASS",
    "CJK_CHAR",
]

HANGUL_CLASS = "\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff"
KANA_CLASS = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\U0001b000-\U0001b16f"
# 々 (iteration mark), 〆 and 〇 behave like Han inside words.
HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff\u3005-\u3007\u303b"

_KANA = re.compile(f"[{KANA_CLASS}]")
_HAN = re.compile(f"[{HAN_CLASS}]")
_HANGUL = re.compile(f"[{HANGUL_CLASS}]")
_LATIN = re.compile("[a-z\u00c0-\u024f\u1e00-\u1eff]")
_LETTER = re.compile(r"[^\W\d_]")
CJK_CHAR = re.compile(f"[{HANGUL_CLASS}{KANA_CLASS}{HAN_CLASS}]")

_CJ = KANA_CLASS + HAN_CLASS
_NOT_CJK_WORD = f"(?:(?![{HANGUL_CLASS}{_CJ}])[^\\W_])"
# One pass over the text; alternatives are disjoint so the regex never backtracks badly.
# Punctuation and spaces do not end a Hangul or Han/Kana segment (the analysers need sentence
# context); digits and Latin letters do (they go to the shared word analyser).
_SEGMENT = re.compile(
    f"(?P<ko>[{HANGUL_CLASS}]+(?:[\\W_]*[{HANGUL_CLASS}]+)*)"
    f"|(?P<cj>[{_CJ}]+(?:[\\W_]*[{_CJ}]+)*)"
    f"|(?P<word>{_NOT_CJK_WORD}+(?:(?:[.\\-/'’&]|,(?=\\d)){_NOT_CJK_WORD}+)*)"
)


class Script(StrEnum):
    HANGUL = "hangul"
    HAN = "han"
    KANA = "kana"
    LATIN = "latin"
    OTHER = "other"


def script_counts(text: str) -> dict[Script, int]:
    """Letters per script (digits, punctuation and spaces are not counted)."""
    hangul = len(_HANGUL.findall(text))
    han = len(_HAN.findall(text))
    kana = len(_KANA.findall(text))
    latin = len(_LATIN.findall(text.casefold()))
    letters = len(_LETTER.findall(text))
    other = max(letters - hangul - han - kana - latin, 0)
    return {
        Script.HANGUL: hangul,
        Script.HAN: han,
        Script.KANA: kana,
        Script.LATIN: latin,
        Script.OTHER: other,
    }


def _is_japanese(kana: int, han: int) -> bool:
    # Any real amount of kana means Japanese; a stray "の" in a long Chinese text does not.
    return kana > 0 and kana * 20 >= han


def dominant_language(text: str) -> str:
    """Best single language code for the text: ko, ja, zh, en (Latin) or und."""
    c = script_counts(text)
    if c[Script.HAN] + c[Script.KANA] > 0 and _is_japanese(c[Script.KANA], c[Script.HAN]):
        cj = c[Script.HAN] + c[Script.KANA]
        if cj >= c[Script.HANGUL]:
            return "ja"
    best = max(c, key=lambda s: c[s])
    if c[best] == 0:
        return "und"
    return {Script.HANGUL: "ko", Script.HAN: "zh", Script.KANA: "ja", Script.LATIN: "en"}.get(best, "und")


@dataclass(frozen=True, slots=True)
class Segment:
    lang: str  # "ko", "ja", "zh" or "word"
    text: str
    start: int


def segments(text: str) -> Iterator[Segment]:
    """Split normalised text into script runs, tagged with the analyser that should handle them."""
    japanese = (
        _is_japanese(len(_KANA.findall(text)), len(_HAN.findall(text))) if _KANA.search(text) else False
    )
    for m in _SEGMENT.finditer(text):
        kind = m.lastgroup
        if kind == "cj":
            seg = m.group()
            # A kana-bearing run is Japanese even inside a Chinese text; kanji-only runs follow the text.
            lang = "ja" if japanese or _KANA.search(seg) else "zh"
            yield Segment(lang, seg, m.start())
        else:
            yield Segment(kind or "word", m.group(), m.start())
