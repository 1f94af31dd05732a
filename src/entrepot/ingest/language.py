"""The language of a page of text, decided by the scripts it is written in."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


def _script(ch: str) -> str | None:
    o = ord(ch)
    if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
        return "hangul"
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9D:
        return "kana"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
        return "han"
    if ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN"):
        return "latin"
    return None


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def is_traditional(text: str) -> bool:
    """Traditional script when converting to simplified changes a noticeable share of characters."""
    han = [ch for ch in text if _script(ch) == "han"][:2000]
    if not han:
        return False
    sample = "".join(han)
    converted = _t2s().convert(sample)  # type: ignore[attr-defined]
    changed = sum(a != b for a, b in zip(sample, converted, strict=False))
    return changed >= max(2, len(han) * 0.03)


def detect_language(text: str) -> str | None:
    """ko, ja, zh-Hans, zh-Hant or en; None for a page with no letters. Kana decides Japanese even in
    kanji-heavy text, where statistical detectors say Chinese."""
    counts = {"hangul": 0, "kana": 0, "han": 0, "latin": 0}
    for ch in text[:20000]:
        script = _script(ch)
        if script:
            counts[script] += 1
    total = sum(counts.values())
    if total == 0:
        return None
    if counts["hangul"] >= 0.2 * total:
        return "ko"
    if counts["kana"] >= 0.05 * total:
        return "ja"
    if counts["han"] >= 0.3 * total:
        return "zh-Hant" if is_traditional(text) else "zh-Hans"
    return "en" if counts["latin"] else None
