"""Unicode script counting, simplified/traditional scoring and text clean-up."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


def _is_hangul(o: int) -> bool:
    return 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def _is_kana(o: int) -> bool:
    return 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9D


def _is_han(o: int) -> bool:
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F


def _is_latin(ch: str) -> bool:
    o = ord(ch)
    return ch.isascii() and ch.isalpha() or (0x00C0 <= o <= 0x024F and ch.isalpha())


@dataclass(frozen=True)
class ScriptCounts:
    hangul: int = 0
    kana: int = 0
    han: int = 0
    latin: int = 0

    @property
    def letters(self) -> int:
        return self.hangul + self.kana + self.han + self.latin

    def share(self, n: int) -> float:
        return n / self.letters if self.letters else 0.0


def count_scripts(text: str) -> ScriptCounts:
    h = k = c = la = 0
    for ch in text:
        o = ord(ch)
        if _is_hangul(o):
            h += 1
        elif _is_kana(o) and ch != "ー" and ch != "・":
            k += 1
        elif _is_han(o):
            c += 1
        elif _is_latin(ch):
            la += 1
    return ScriptCounts(h, k, c, la)


@lru_cache(maxsize=1)
def _converters():  # type: ignore[no-untyped-def]
    from opencc import OpenCC

    return OpenCC("t2s"), OpenCC("s2t")


@lru_cache(maxsize=8192)
def _char_kind(ch: str) -> int:
    """+1: traditional-only form, -1: simplified-only form, 0: shared or unknown."""
    t2s, s2t = _converters()
    if t2s.convert(ch) != ch:
        return 1
    if s2t.convert(ch) != ch:
        return -1
    return 0


def traditional_share(text: str) -> tuple[float, int, int]:
    """(T / (T + S), T, S) over Han characters: T traditional-only, S simplified-only forms."""
    t = s = 0
    for ch in text:
        if _is_han(ord(ch)):
            k = _char_kind(ch)
            if k > 0:
                t += 1
            elif k < 0:
                s += 1
    return (t / (t + s) if t + s else 0.5), t, s


_CJK = (
    r"\u1100-\u11ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uf900-\ufaff\uff00-\uffef"
)
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}]) +(?=[{_CJK}])")
_MULTI_SPACE = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str, language: str | None) -> str:
    """Tidy tesseract output: NFC, trim lines, collapse runs of blank lines; for Chinese and
    Japanese drop the spaces tesseract puts between CJK characters (they are not word breaks).
    Korean keeps its spaces (they are word breaks)."""
    text = unicodedata.normalize("NFC", text).replace("\x0c", "")
    lines = [_MULTI_SPACE.sub(" ", ln).strip() for ln in text.splitlines()]
    if language in ("zh-Hans", "zh-Hant", "ja"):
        lines = [_SPACE_BETWEEN_CJK.sub("", ln) for ln in lines]
    out = "\n".join(lines).strip()
    return _BLANK_LINES.sub("\n\n", out)


def variant_counts(symbols: list[tuple[str, float]], sure_conf: float) -> tuple[int, int, int, int, int]:
    """(traditional-only sure, traditional-only unsure, simplified-only sure, simplified-only
    unsure, all) Han symbols of a reading; sure: symbol confidence at least ``sure_conf``.

    Run on the Japanese model's reading of Chinese print, this is a cheap simplified/traditional
    signal: jpn knows many traditional forms (which Japanese shares) and few simplified-only
    ones, so it reads traditional print mostly as itself and simplified print as shared or
    Japanese forms. Its misreadings of simplified glyphs do come out as traditional-only
    characters too (开 as 乾), but with low confidence: per Han symbol on 220 tuning pages,
    sure traditional-only 0.035 on simplified and 0.176 on traditional print, unsure 0.039 and
    0.059; sure simplified-only 0.069 and 0.013, unsure 0.019 and 0.009.
    """
    counts = [0, 0, 0, 0]  # traditional sure, unsure, simplified sure, unsure
    n = 0
    for sym, conf in symbols:
        for ch in sym:
            if _is_han(ord(ch)):
                n += 1
                k = _char_kind(ch)
                if k:
                    counts[(0 if k > 0 else 2) + (conf < sure_conf)] += 1
    return counts[0], counts[1], counts[2], counts[3], n


def _flatten(symbols: list[tuple[str, float]]) -> list[tuple[str, float]]:
    return [(c, conf) for s, conf in symbols for c in s]


def variant_votes(sim: list[tuple[str, float]], tra: list[tuple[str, float]]) -> tuple[int, int]:
    """Compare chi_sim's and chi_tra's readings of the same lines, symbol by symbol.

    Where the two models read a simplified/traditional pair of the same character (chi_sim
    '说', chi_tra '說'), the model trained on the script actually printed is the surer one.
    Returns (votes for simplified, votes for traditional).
    """
    import difflib

    a = _flatten(sim)
    b = _flatten(tra)
    sa = "".join(c for c, _ in a)
    sb = "".join(c for c, _ in b)
    t2s, _ = _converters()
    vs = vt = 0
    matcher = difflib.SequenceMatcher(None, sa, sb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or i2 - i1 != j2 - j1:
            continue
        for k in range(i2 - i1):
            ca, xa = a[i1 + k]
            cb, xb = b[j1 + k]
            if t2s.convert(cb) == ca:
                if xa > xb:
                    vs += 1
                elif xb > xa:
                    vt += 1
    return vs, vt
