"""FTS5 query construction and ranking: hostile input must never reach FTS5 as syntax."""

from __future__ import annotations

import re
import sqlite3

import pytest

from entrepot.search.analyzers import (
    IndexedText,
    MultilingualAnalyzer,
    build_match_expression,
    create_fts_table,
    insert_documents,
    quote_token,
    search_fts,
)

DOCS = {
    1: "東京都に住んでいます。東京都庁は新宿にある。",
    2: "京都大学の研究者が京都で発表した。",
    3: "HS 8703.23 승용차 輸出 price list for passenger cars",
    4: "한국무역협회는수출입통계를발표했다",
    5: "欧洲梵语的学术研究，由德国学者陆特和汉斯雷顿开创。",
    6: "The Who played exported guitars; the band's exports rose.",
}

# A MATCH expression we build: quoted strings joined by OR, optionally grouped per column.
_QUOTED = re.compile(r'"(?:[^"]|"")+"')
_GROUP = r"(?:terms|grams) : \(Q(?: OR Q)*\)"
_SHAPE = re.compile(rf"^(?:{_GROUP}(?: OR {_GROUP})*|Q(?: OR Q)*|terms : \(Q\*\))$")


def _is_safe(expr: str) -> bool:
    return bool(_SHAPE.match(_QUOTED.sub("Q", expr)))


@pytest.fixture(scope="module")
def conn(analyzer: MultilingualAnalyzer) -> sqlite3.Connection:
    c = sqlite3.connect(":memory:")
    create_fts_table(c)
    insert_documents(c, analyzer, DOCS.items())
    return c


def test_quote_token_doubles_quotes() -> None:
    assert quote_token('a"b') == '"a""b"'
    assert build_match_expression(['x"y', "near"]) == '"x""y" OR "near"'


@pytest.mark.parametrize("query", ["", "   ", "!!!", "？。、", "😀🚢", "\x00\x01", "\u200b"])
def test_queries_without_content_give_no_expression(analyzer: MultilingualAnalyzer, query: str) -> None:
    assert build_match_expression(analyzer.analyze_query(query)) is None


@pytest.mark.parametrize(
    "query",
    [
        '"a" OR b* NEAR(',
        "title: x AND NOT y ^z",
        "col:(a OR b) {terms grams} : c",
        "NEAR(a b, 3) OR -x +y",
        '")) OR ((" 都',
        "x" * 10_000,
        "수출 " * 2_000,
        "東京" * 5_000,
        "a😀b 🚢 輸出",
    ],
)
def test_hostile_queries_are_safe(
    analyzer: MultilingualAnalyzer, conn: sqlite3.Connection, query: str
) -> None:
    expr = build_match_expression(analyzer.analyze_query(query))
    assert expr is not None
    assert _is_safe(expr), expr
    assert len(expr) < 20_000  # term count is capped
    conn.execute(
        "SELECT rowid FROM search_fts WHERE search_fts MATCH ?", (expr,)
    ).fetchall()  # no syntax error
    search_fts(conn, analyzer, query)


def test_fts_operators_in_input_are_plain_words(
    analyzer: MultilingualAnalyzer, conn: sqlite3.Connection
) -> None:
    # "OR"/"NEAR" are words here; an unquoted OR would have matched the guitar document.
    assert search_fts(conn, analyzer, "zebra OR NEAR") == []


def test_lone_hangul_syllable_is_a_prefix_query(analyzer: MultilingualAnalyzer) -> None:
    assert build_match_expression(analyzer.analyze_query("차")) == 'terms : ("차"*)'
    assert analyzer.analyze_query("차 수출").prefix is False


def test_match_expression_shape() -> None:
    expr = build_match_expression(IndexedText(["东京", "都"], ["都"]))
    assert expr == 'terms : ("东京" OR "都") OR grams : ("都")'
    assert build_match_expression(IndexedText([], [])) is None


def _top(conn: sqlite3.Connection, analyzer: MultilingualAnalyzer, query: str) -> list[int]:
    return [rowid for rowid, _ in search_fts(conn, analyzer, query)]


def test_single_cjk_character_queries_find_documents(
    analyzer: MultilingualAnalyzer, conn: sqlite3.Connection
) -> None:
    assert 1 in _top(conn, analyzer, "都")  # inside 東京都, a single segmenter token
    assert 5 in _top(conn, analyzer, "梵")
    assert 4 in _top(conn, analyzer, "수")  # a lone Hangul syllable is a prefix query: 수출입


def test_kyoto_ranks_kyoto_before_tokyo(analyzer: MultilingualAnalyzer, conn: sqlite3.Connection) -> None:
    assert _top(conn, analyzer, "京都")[0] == 2
    assert _top(conn, analyzer, "東京都")[0] == 1


def test_cross_script_and_cross_language(analyzer: MultilingualAnalyzer, conn: sqlite3.Connection) -> None:
    assert _top(conn, analyzer, "歐洲梵語學術研究")[0] == 5  # traditional query, simplified document
    assert _top(conn, analyzer, "东京都")[0] == 1  # Chinese query, Japanese document
    assert _top(conn, analyzer, "한국무역협회 통계")[0] == 4  # spaced query, unspaced OCR document
    assert _top(conn, analyzer, "870323")[0] == 3
    assert _top(conn, analyzer, "export")[0] == 6
    assert _top(conn, analyzer, "the who")[0] == 6  # stop words only


def test_bulk_analysis_in_worker_processes_matches_in_process(analyzer: MultilingualAnalyzer) -> None:
    from entrepot.search.analyzers.bulk import analyze_many

    docs = list(DOCS.items()) * 3
    local = dict(analyze_many(analyzer, docs, batch_size=2))
    parallel = dict(analyze_many(analyzer, docs, batch_size=2, processes=1))
    assert parallel == local
    assert local[1].lang == "ja" and local[4].lang == "ko" and local[5].lang == "zh" and local[6].lang == "en"


def test_batch_and_single_analysis_agree(analyzer: MultilingualAnalyzer) -> None:
    texts = list(DOCS.values())
    assert [a.terms for a in analyzer.index_batch(texts)] == [analyzer.index_tokens(t) for t in texts]
