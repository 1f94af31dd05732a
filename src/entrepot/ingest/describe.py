"""Metadata found in a document's text, offered to the librarian to confirm: issuing dates, HS codes,
amounts with currencies and countries named in any of the four languages."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from functools import lru_cache
from typing import Any

from entrepot.core.reference import Reference

_DATE_PATTERNS = [
    re.compile(r"(?<!\d)(20\d{2}|19\d{2})[-./](\d{1,2})[-./](\d{1,2})(?!\d)"),
    re.compile(r"(20\d{2}|19\d{2})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]"),
]
_HS = re.compile(
    r"(?:HS|H\.S\.|HSK|hs\s*code|税则号|稅則號|품목번호|세번)[\s:：#.-]*(\d{4})[.\s]?(\d{2})(?:[.\s]?\d{2,4})?",
    re.IGNORECASE,
)
_CURRENCY_SIGNS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "₩": "KRW", "¥": "CNY", "￥": "CNY"}
_CURRENCY_WORDS = {"달러": "USD", "美元": "USD", "원": "KRW", "韩元": "KRW", "元": "CNY", "人民币": "CNY",
                   "위안": "CNY", "円": "JPY", "엔": "JPY", "日元": "JPY", "欧元": "EUR", "유로": "EUR"}
_NUMBER = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_AMOUNT_CODE_FIRST = re.compile(r"\b([A-Z]{3})\s?" + _NUMBER)
_AMOUNT_CODE_AFTER = re.compile(_NUMBER + r"\s?([A-Z]{3})\b")
_AMOUNT_SIGN = re.compile(r"(US\$|\$|€|£|₩|¥|￥)\s?" + _NUMBER)
_AMOUNT_WORD = re.compile(_NUMBER + r"\s?(만|万|억|亿)?\s?(달러|美元|원|韩元|人民币|元|위안|円|엔|日元|欧元|유로)")
MAX_SUGGESTIONS = 10


def _dates(text: str) -> list[str]:
    found: Counter[str] = Counter()
    for pattern in _DATE_PATTERNS:
        for y, m, d in pattern.findall(text):
            try:
                found[date(int(y), int(m), int(d)).isoformat()] += 1
            except ValueError:
                continue
    return [d for d, _ in found.most_common(MAX_SUGGESTIONS)]


def _hs_codes(text: str, ref: Reference) -> list[str]:
    found: Counter[str] = Counter()
    for heading, sub in _HS.findall(text):
        code = heading + sub
        if ref.hs_valid(code):
            found[code] += 1
    return [c for c, _ in found.most_common(MAX_SUGGESTIONS)]


def _amounts(text: str, ref: Reference) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(number: str, currency: str, scale: str = "") -> None:
        value = float(number.replace(",", "")) * {"만": 1e4, "万": 1e4, "억": 1e8, "亿": 1e8}.get(scale, 1)
        item = {"amount": value, "currency": currency}
        if item not in out:
            out.append(item)

    known = ref.currencies or None
    for code, number in _AMOUNT_CODE_FIRST.findall(text):
        if known is None or code in known:
            add(number, code)
    for number, code in _AMOUNT_CODE_AFTER.findall(text):
        if known is None or code in known:
            add(number, code)
    for sign, number in _AMOUNT_SIGN.findall(text):
        add(number, _CURRENCY_SIGNS[sign])
    for number, scale, word in _AMOUNT_WORD.findall(text):
        add(number, _CURRENCY_WORDS[word], scale)
    return out[:MAX_SUGGESTIONS]


@lru_cache(maxsize=4)
def _country_pattern(ref: Reference) -> re.Pattern[str]:
    """One alternation of every name, longest first. Latin names need word boundaries ("Oman" is not
    in "woman"); CJK names have none to need."""
    latin = sorted((n for n in ref.country_names if n.isascii() and len(n) > 3), key=len, reverse=True)
    cjk = sorted((n for n in ref.country_names if not n.isascii() and len(n) >= 2), key=len, reverse=True)
    parts = []
    if latin:
        parts.append(r"\b(?:" + "|".join(map(re.escape, latin)) + r")\b")
    if cjk:
        parts.append("|".join(map(re.escape, cjk)))
    return re.compile("|".join(parts) or r"(?!x)x")


def _countries(text: str, ref: Reference) -> list[str]:
    if not ref.country_names:
        return []
    found: Counter[str] = Counter(ref.country_names[m.group(0)] for m in _country_pattern(ref).finditer(text.lower()))
    return [c for c, _ in found.most_common(MAX_SUGGESTIONS)]


def suggest(text: str, ref: Reference) -> dict[str, Any]:
    """Suggestions only: nothing here changes a document until a librarian accepts it."""
    sample = text[:500_000]
    return {"dates": _dates(sample), "hs_codes": _hs_codes(sample, ref), "amounts": _amounts(sample, ref),
            "countries": _countries(sample, ref)}
