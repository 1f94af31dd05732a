"""The shortcuts that make screening fast must not change what it finds: the analysis cache gives the
search analysers' tokens, a regular expression is skipped only on a text that cannot match it, and
the off-topic score's gated patterns count what the plain ones count."""

from __future__ import annotations

import re

import pytest
import regex

from entrepot.compliance import analysis
from entrepot.compliance.literals import required_literals
from entrepot.compliance.topic import TradeVocabulary
from entrepot.search.analyzers import AnalyzerConfig, MultilingualAnalyzer
from entrepot.search.tokens import fts_tokens

TEXTS = [
    "이번 선적은 밀수를 하자는 건 아니지요?",
    "감사합니다!",
    "fabrics, woven 단가는 컨테이너당 3,049 BUK입니다. 7/7까지 유효합니다.",
    "我們不能繞過制裁。",
    "rubber的裝運延後了，船28/6才開。",
    "東ティモールの税関から原産地証明書を求められました。HS 4407.13です。",
    "ＡＢＣ１２３ don't e-mail 8703.23",
    "한국무역협회는수출입통계를발표했다",
    "\u200b밀\u00ad수 走私 密輸した",
    "",
]


def test_cached_analysis_gives_the_search_analysers_tokens() -> None:
    reference = MultilingualAnalyzer(AnalyzerConfig(grams="none", chinese_plain_too=False))
    analysis.clear_cache()
    for _ in range(2):  # the second round comes from the cache
        for text in TEXTS:
            expected = fts_tokens(reference.index_batch([text])[0].terms)
            assert analysis.tokens_of(text) == expected, text
            assert analysis.tokens_of(text, cached=False) == expected, text
    assert analysis.tokens_of_many(TEXTS) == [analysis.tokens_of(t) for t in TEXTS]
    long_run = "가나다라마바사" * 20  # longer than a cached run: analysed every time, same tokens
    assert analysis.tokens_of(long_run) == analysis.tokens_of(long_run, cached=False)


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        (r"(?:wire|send)\s+cash", {"cash"}),
        (r"cash|bribe", {"cash", "bribe"}),
        (r"(?i)OFFSHORE", {"offshore"}),
        (r"현금\s*\d+", {"현금"}),
        (r"\bacc(?:ount)?\s*#?\d{6,}", {"acc"}),
        (r"\b\d{4}-\d{4}-\d{4}-\d{4}\b", None),  # no word at all
        (r"(\w)\1\1", None),
        (r"x|cash", None),  # one branch needs one letter only
        (r"(?:cash)?\s*\d+", None),  # optional
        (r"(?:contraband){e<=1}", None),  # regex's fuzzy matching: "contrabant" matches too
        (r"contraband{e<=1}", None),
        (r"[[:alpha:]]+cash", None),  # a POSIX class Python's parser reads otherwise
        (r"\p{Han}+走私", None),  # syntax only `regex` knows
        (r"([a-z", None),
    ],
)
def test_required_literals(pattern: str, needs: set[str] | None) -> None:
    assert required_literals(pattern) == (frozenset(needs) if needs else None)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(?:contraband){e<=1}", "contrabant goods"),
        (r"CASH\s?\d+", "ｃａｓｈ 300"),  # folded by NFKC before matching
        (r"strasse", "STRASSE 5"),
        (r"straße", "STRAẞE 5"),  # casefolding expands both sides alike
        (r"σοφία", "ΣΟΦΊΑ"),
    ],
)
def test_a_skipped_pattern_could_not_have_matched(pattern: str, text: str) -> None:
    import unicodedata

    from entrepot.compliance.lexicon import Lexicon, Rule

    rule = Rule(1, 1, "regex", pattern, None, "low", "flag", "")
    normalised = unicodedata.normalize("NFKC", text)
    expected = regex.search(pattern, normalised, regex.IGNORECASE | regex.UNICODE) is not None
    assert expected, "each case is one the pattern matches"
    assert [m.rule.id for m in Lexicon([rule]).match(text, None)] == [1]


def test_gated_trade_patterns_count_like_the_plain_ones() -> None:
    vocab = TradeVocabulary()
    plain = [p for p, _gate in vocab.patterns] + [
        re.compile(rf"(?<![A-Za-z0-9])(?:{'|'.join(sorted(vocab.codes))})(?![A-Za-z])")
    ]
    texts = [
        "USD 2,710 per t CIF Nampo, HS 7901.11",
        "usd 300 per ton",
        "2710美元 40톤 컨테이너 2대 FOBで",
        "ABCUSD USD EURX RMB 5",
        "The weather is nice today",
        "XUSD 3 and $12 and ₩300",
    ]
    for text in texts:
        assert vocab.shapes(text) == sum(1 for p in plain for _ in p.finditer(text)), text
