"""Token-level behaviour of the multilingual analysers."""

from __future__ import annotations

import threading
import time

import pytest

from entrepot.search.analyzers import (
    Analyzer,
    ChineseAnalyzer,
    JapaneseAnalyzer,
    KoreanAnalyzer,
    LatinAnalyzer,
    Lazy,
    MultilingualAnalyzer,
    Script,
    available_analyzers,
    dominant_language,
    fold_traditional,
    get_analyzer,
    normalize,
    script_counts,
    segments,
)


# -- normalisation -----------------------------------------------------------------------------
def test_nfkc_folds_full_and_half_width_forms() -> None:
    assert normalize("ＡＢＣ１２３") == "abc123"
    assert normalize("ｶﾀｶﾅ") == "カタカナ"
    assert normalize("Straße") == "strasse"


def test_control_and_format_characters_are_stripped() -> None:
    assert normalize("ex\u00adport\u200b") == "export"  # soft hyphen / zero-width space join
    assert normalize("a\x00b\tc\r\nd") == "a b c d"
    assert normalize("") == ""


def test_full_width_query_finds_half_width_document(analyzer: MultilingualAnalyzer) -> None:
    assert analyzer.query_tokens("ＨＳ　８７０３") == analyzer.query_tokens("hs 8703")
    assert analyzer.index_tokens("ｺﾝﾋﾟｭｰﾀｰ") == analyzer.index_tokens("コンピューター")


# -- scripts -----------------------------------------------------------------------------------
def test_script_counts_and_language() -> None:
    c = script_counts("東京都に住む abc 서울")
    assert c[Script.HAN] == 4 and c[Script.KANA] == 2 and c[Script.LATIN] == 3 and c[Script.HANGUL] == 2
    assert dominant_language("東京都に住んでいます") == "ja"
    assert dominant_language("東京都") == "zh"  # kanji only: nothing says Japanese
    assert dominant_language("한국무역협회") == "ko"
    assert dominant_language("passenger cars") == "en"
    assert dominant_language("!!!") == "und"


def test_mixed_script_text_is_split_into_runs() -> None:
    segs = [(s.lang, s.text) for s in segments(normalize("HS 8703 승용차 輸出 price"))]
    assert segs == [("word", "hs"), ("word", "8703"), ("ko", "승용차"), ("zh", "輸出"), ("word", "price")]


def test_mixed_script_query_uses_every_analyser(analyzer: MultilingualAnalyzer) -> None:
    tokens = analyzer.query_tokens("HS 8703 승용차 輸出 price")
    assert set(tokens) == {"hs", "8703", "승용차", "输出", "price"}


# -- Korean --------------------------------------------------------------------------------------
def test_korean_content_morphemes() -> None:
    tokens = KoreanAnalyzer().index_tokens("한국무역협회는 수출입 통계를 발표했다")
    assert tokens == ["한국무역협회", "수출입", "통계", "발표"]


def test_korean_without_spaces_matches_spaced_text() -> None:
    ko = KoreanAnalyzer()
    assert ko.index_tokens("한국무역협회는수출입통계를발표했다") == ko.index_tokens(
        "한국무역협회는 수출입 통계를 발표했다"
    )


def test_korean_verb_stems_and_numbers(analyzer: MultilingualAnalyzer) -> None:
    tokens = analyzer.index_tokens("1989년 2월 15일 시위를 주도했다가 예쁜 꽃을 먹었다")
    assert {"1989", "15", "시위", "주도", "꽃", "먹", "예쁘"} <= set(tokens)
    assert "를" not in tokens and "었" not in tokens


# -- Chinese -------------------------------------------------------------------------------------
def test_traditional_and_simplified_give_the_same_tokens() -> None:
    zh = ChineseAnalyzer()
    trad = zh.index_tokens("歐洲梵語的學術研究，由德國學者開創")
    simp = zh.index_tokens("欧洲梵语的学术研究，由德国学者开创")
    assert trad == simp
    assert {"欧洲", "梵语", "德国", "学者"} <= set(simp)


def test_fold_traditional_matches_opencc() -> None:
    opencc = pytest.importorskip("opencc")
    text = "印歐語系因為哪一門語言而被發現？乾隆皇帝與頭髮"
    assert fold_traditional(text) == opencc.OpenCC("t2s").convert(text)


def test_chinese_query_drops_function_words_but_never_everything() -> None:
    zh = ChineseAnalyzer()
    assert zh.query_tokens("战国无双是由哪两个公司开发的？") == ["战国", "无双", "两个", "公司", "开发"]
    assert zh.query_tokens("的") == ["的"]


# -- Japanese ------------------------------------------------------------------------------------
def test_japanese_content_words_are_normalised() -> None:
    tokens = JapaneseAnalyzer().index_tokens("研究者はコンピュータを使って方法を見つけた")
    assert {"研究者", "コンピューター", "使う", "方法"} <= set(tokens)
    assert "は" not in tokens and "を" not in tokens


@pytest.mark.parametrize("text", ["東京都", "東京都に住んでいます", "东京都"])
def test_kyoto_is_not_found_inside_tokyo_to(analyzer: MultilingualAnalyzer, text: str) -> None:
    analysed = analyzer.index_batch([text])[0]
    assert "京都" not in analysed.terms and "京都" not in analysed.grams
    assert "东京都" in analysed.terms


def test_kyoto_university_contains_kyoto(analyzer: MultilingualAnalyzer) -> None:
    assert "京都" in analyzer.index_tokens("京都大学の研究者")


# -- Latin, numbers, codes ------------------------------------------------------------------------
def test_english_stemming_and_stop_words() -> None:
    en = LatinAnalyzer()
    assert en.index_tokens("Exported exports") == ["export", "export"]
    assert en.query_tokens("What was the price of oil in March of 1974?") == ["price", "oil", "march", "1974"]


def test_stop_word_only_query_falls_back_to_its_words() -> None:
    assert LatinAnalyzer().query_tokens("The Who") == ["the", "who"]


def test_hs_codes_are_searchable_both_ways() -> None:
    en = LatinAnalyzer()
    dotted = en.index_tokens("HS 8703.23")
    assert {"8703", "870323"} <= set(dotted)
    assert "870323" in en.query_tokens("870323")
    assert {"iso9001", "iso", "9001"} <= set(en.index_tokens("ISO9001"))


# -- registry ------------------------------------------------------------------------------------
def test_registry_shares_one_instance() -> None:
    assert {"ko", "zh", "ja", "en", "multilingual"} <= set(available_analyzers())
    assert get_analyzer("multilingual") is get_analyzer("multilingual")
    for name in ("ko", "zh", "ja", "en", "multilingual"):
        assert isinstance(get_analyzer(name), Analyzer)
    with pytest.raises(KeyError):
        get_analyzer("klingon")


def test_lazy_builds_once_under_concurrency() -> None:
    calls = []

    def factory() -> object:
        calls.append(1)
        time.sleep(0.05)
        return object()

    lazy = Lazy(factory)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(lazy.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_analysers_are_thread_safe(analyzer: MultilingualAnalyzer) -> None:
    texts = [
        "東京都に住んでいます",
        "한국무역협회는 수출입 통계를 발표했다",
        "歐洲梵語的學術研究",
        "exported cars",
    ]
    expected = [analyzer.index_tokens(t) for t in texts]
    errors: list[str] = []

    def work() -> None:
        for _ in range(20):
            if [analyzer.index_tokens(t) for t in texts] != expected:
                errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
