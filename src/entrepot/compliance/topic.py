"""The off-topic rule: how much each message sounds like trade, and when a conversation has drifted.

A message's trade score is the share of its content words that are trade vocabulary, plus credit for
the shapes trade talk takes (quantities with units, prices with currencies, Incoterms, HS codes),
capped at 1. The vocabulary is the built-in list (trade_terms.py) plus, when the reference folder is
set, the HS nomenclature's words and the country and currency names in five languages, each weighted
by how much it says about trade (a country name says little: encyclopaedias are full of them).

Messages with fewer than `min_tokens` content words ("ok", "네 알겠습니다") are not scored: they
neither prove nor disprove anything. A conversation drifts when the mean score of its last `window`
scored messages falls below `threshold`; the rule flags once when a drift begins, and a new flag
needs the conversation to come back to trade first (the window mean back above `threshold` times
RECOVERY). One off-topic sentence, or a short digression, never fills a window.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from entrepot.compliance import trade_terms
from entrepot.compliance.lexicon import PhraseIndex, tokens_of, tokens_of_many
from entrepot.core.reference import Reference, load_reference
from entrepot.search.analyzers.chinese import CHINESE_QUERY_STOPWORDS
from entrepot.search.analyzers.korean import KOREAN_QUERY_STOPWORDS
from entrepot.search.analyzers.latin import ENGLISH_STOPWORDS, word_tokens

RECOVERY = 1.5
TERM_WEIGHT, WEAK_WEIGHT, HS_WEIGHT, COUNTRY_WEIGHT, CURRENCY_WEIGHT = 1.0, 0.5, 0.3, 0.2, 0.8
PATTERN_WEIGHT = 1.0
# Words the HS nomenclature uses to draft its headings, not to name goods.
HS_DRAFTING = frozenset(
    """head nec whether includ contain exclud part prepar use similar articl exceed
    thereof less form non kind made item chapter without like work base good subhead otherwis cover main
    put function matter mix fit cut print flat primari other than more not n e c g m mm cm kg""".split()
)
_MAJOR_CURRENCIES = (
    "USD EUR JPY CNY RMB KRW GBP CHF HKD SGD AUD CAD RUB INR THB VND MYR IDR PHP TWD AED SAR KPW MNT"
).split()
_UNITS = (
    r"t|mt|mts|tons?|tonnes?|kgs?|lbs?|cbm|m3|pcs|units?|containers?|ctns?|cartons?|bags?|drums?|teus?|"
    r"feus?|bbls?|barrels?|pallets?|톤|킬로|컨테이너|박스|吨|噸|公斤|千克|箱|柜|櫃|トン|キロ"
)
_NUMBER = r"\d[\d,.]*"
_SYMBOLS = r"US\$|\$|€|¥|￥|₩|£"
_DIGIT = re.compile(r"\d")  # every quantity, price and HS code has one
_CAPITAL = re.compile(r"[A-Z]")  # every Incoterm and currency code starts with one
_CJK_MONEY = r"달러|불|원|유로|위안|엔|美元|美金|元|欧元|日元|韩元|ドル|円|ユーロ|元"
_STOP = (
    frozenset(ENGLISH_STOPWORDS)
    | frozenset(t for w in ENGLISH_STOPWORDS for t in word_tokens(w))  # their stems too
    | CHINESE_QUERY_STOPWORDS
    | KOREAN_QUERY_STOPWORDS
)


@dataclass(frozen=True)
class TopicSettings:
    """The off-topic rule's parameters; `pattern` is how a rule version records them."""

    window: int = 8
    threshold: float = 0.12
    min_tokens: int = 4

    def pattern(self) -> str:
        return f"window={self.window} threshold={self.threshold:g} min_tokens={self.min_tokens}"


@dataclass(frozen=True)
class TopicScore:
    score: float
    tokens: int  # content words counted
    hits: tuple[str, ...]  # what counted as trade, for the reviewer


class TradeVocabulary:
    """Trade words and phrases (token sequences) with weights, and the patterns of trade talk."""

    def __init__(self, reference: Reference | None = None, currency_names: Sequence[str] = ()) -> None:
        self.index: PhraseIndex[float] = PhraseIndex()
        weighted: dict[tuple[str, ...], float] = {}

        def add(texts: Sequence[str], weight: float) -> None:
            for seq in tokens_of_many(list(texts)):
                key = tuple(seq)
                if key and weight > weighted.get(key, 0.0):
                    weighted[key] = weight

        reference = reference or Reference()
        currencies = sorted(set(_MAJOR_CURRENCIES) | set(reference.currencies))
        add(list(reference.country_names), COUNTRY_WEIGHT)
        add([w for w in _hs_words(tuple(sorted(reference.hs_codes.values())))], HS_WEIGHT)
        add(list(currency_names), CURRENCY_WEIGHT)
        terms = trade_terms.entries()
        add([t for _, t in terms if t.lower() in trade_terms.WEAK or t in trade_terms.WEAK], WEAK_WEIGHT)
        add(
            [t for _, t in terms if t.lower() not in trade_terms.WEAK and t not in trade_terms.WEAK],
            TERM_WEIGHT,
        )
        for key, weight in weighted.items():
            self.index.add(key, weight)
        codes = "|".join(sorted(set(currencies) | {"RMB"}))
        # Boundaries by hand: \b sees no edge between "DDP" and the kana in "DDPで".
        a, z = r"(?<![A-Za-z0-9])", r"(?![A-Za-z])"
        money = rf"(?:(?:{_SYMBOLS}|{a}(?:{codes}))\s?{_NUMBER}|{_NUMBER}\s?(?:(?:{codes}){z}|{_CJK_MONEY}))"
        # Each pattern with what a text must contain for it to match: most chat lines have no digit
        # or no capital letter, and a substring class test costs far less than the alternations.
        self.patterns: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
            (re.compile(rf"{_NUMBER}\s?(?:{_UNITS}){z}", re.IGNORECASE), _DIGIT),  # 25 t, 40톤
            (re.compile(money), _DIGIT),  # USD 2,710 / 2710美元 / $12
            (re.compile(rf"{a}(?:{'|'.join(re.escape(t) for t in trade_terms.INCOTERMS)}){z}"), _CAPITAL),
            (
                re.compile(
                    rf"{a}HS\s?(?:code\s?)?\d{{4}}|{a}\d{{4}}\.\d{{2}}(?:\.\d{{2}})?(?![0-9])",
                    re.IGNORECASE,
                ),
                _DIGIT,
            ),
        ]
        # Currency codes in capitals: any three capitals, then a set look-up (one alternation of 180
        # codes tried at every position cost more than the rest of the score).
        self.codes = frozenset(currencies) | {"RMB"}
        three = all(re.fullmatch("[A-Z]{3}", c) for c in self.codes)
        self.code_shape = re.compile(rf"{a}(?:{'[A-Z]{3}' if three else codes}){z}")

    def shapes(self, text: str) -> int:
        """How many quantities, prices, Incoterms, HS codes and currency codes the text has."""
        count = sum(
            1 for pattern, gate in self.patterns if gate.search(text) for _ in pattern.finditer(text)
        )
        if _CAPITAL.search(text):
            count += sum(1 for m in self.code_shape.finditer(text) if m.group() in self.codes)
        return count

    def score(self, text: str, tokens: Sequence[str] | None = None) -> TopicScore:
        toks = tokens_of(text) if tokens is None else tokens
        content = [t for t in toks if t not in _STOP and not t.isdigit()]
        covered: dict[int, float] = {}
        hits: list[str] = []
        for pos, length, weight in self.index.find(toks):
            for i in range(pos, pos + length):
                covered[i] = max(covered.get(i, 0.0), weight)
            hits.append(" ".join(toks[pos : pos + length]))
        shapes = self.shapes(text)
        weight = sum(w for i, w in covered.items() if toks[i] not in _STOP and not toks[i].isdigit())
        n = max(len(content), 1)
        return TopicScore(
            min(1.0, (weight + PATTERN_WEIGHT * shapes) / n), len(content), tuple(dict.fromkeys(hits))[:12]
        )


def _hs_words(descriptions: tuple[str, ...]) -> list[str]:
    """The nomenclature's words for goods (not its drafting words), each once."""
    words: set[str] = set()
    for seq in tokens_of_many(list(descriptions)):
        words.update(
            t for t in seq if len(t) > 2 and not t.isdigit() and t not in _STOP and t not in HS_DRAFTING
        )
    return sorted(words)


@lru_cache(maxsize=4)
def load_vocabulary(reference_dir: Path | None) -> TradeVocabulary:
    """The vocabulary for a reference folder (None: the built-in list only), built once per process."""
    return TradeVocabulary(load_reference(reference_dir), _currency_name_rows(reference_dir))


def _currency_name_rows(reference_dir: Path | None) -> list[str]:
    """Currency names in five languages (currency-names.csv), historic ones (with dates) left out."""
    path = reference_dir / "currency-names.csv" if reference_dir else None
    if path is None or not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = {
        v.strip() for r in rows for k, v in r.items() if k != "code" and v and "(" not in v and len(v) > 1
    }
    return sorted(names)


def drift_decision(
    scores: Sequence[float], drifting: bool, settings: TopicSettings
) -> tuple[str | None, float]:
    """("start" | "end" | None, window mean) for the newest `window` scores, oldest first."""
    if len(scores) < settings.window:
        return None, (sum(scores) / len(scores) if scores else 1.0)
    mean = sum(scores[-settings.window :]) / settings.window
    if not drifting and mean < settings.threshold:
        return "start", mean
    if drifting and mean >= settings.threshold * RECOVERY:
        return "end", mean
    return None, mean
