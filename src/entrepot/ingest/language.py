"""The language of a page of text, decided by the scripts it is written in."""

from __future__ import annotations

import re
from functools import lru_cache

#: Letters of each script, counted over a whole page at C speed.
_COUNTED = {
    "hangul": re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]"),
    "kana": re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d]"),
    "han": re.compile("[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]"),
    "latin": re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"),
}


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


#: Han character -> whether converting it alone to simplified script changes it; learnt as characters
#: are first seen (a few thousand in all), so a page costs set lookups, not a pure-Python conversion.
_CHANGED: dict[str, bool] = {}


def _learn(chars: set[str]) -> None:
    new = [c for c in chars if c not in _CHANGED]
    if not new:
        return
    converted = _t2s().convert("\n".join(new)).split("\n")  # type: ignore[attr-defined]
    if len(converted) != len(new):  # never seen; one at a time is slower but always aligned
        converted = [_t2s().convert(c) for c in new]  # type: ignore[attr-defined]
    _CHANGED.update((c, s != c) for c, s in zip(new, converted, strict=True))


def is_traditional(text: str) -> bool:
    """Traditional script when a noticeable share of the characters change in simplified script."""
    han = _COUNTED["han"].findall(text[:20000])[:2000]
    if not han:
        return False
    _learn(set(han))
    changed = sum(map(_CHANGED.__getitem__, han))
    return changed >= max(2, len(han) * 0.03)


def detect_language(text: str) -> str | None:
    """ko, ja, zh-Hans, zh-Hant or en; None for a page with no letters. Kana decides Japanese even in
    kanji-heavy text, where statistical detectors say Chinese."""
    sample = text[:20000]
    counts = {script: len(pattern.findall(sample)) for script, pattern in _COUNTED.items()}
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
