"""Search across languages and scripts, with the policy in the query: a SECRET document is never found,
counted, faceted or quoted for a user cleared below it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from entrepot.core.types import Level
from tests.library.conftest import Library

DOCS = {
    "ko": ("반도체-수출.txt", "2025년 1분기 반도체 수출이 크게 늘었다. 한국무역협회는 수출입통계를 발표했다."),
    "zh-Hant": ("農產品.txt", "臺灣農產品出口成功案例：芒果透過冷鏈物流出口至日本。"),
    "zh-Hans": ("钢材.txt", "大连港钢材价格周报：热轧卷板成交均价每吨3850元。"),
    "ja": ("規制.txt", "輸入規制の改正について。水産物の事前届出の期限が変更されます。"),
    "en": ("incoterms.txt", "Incoterms quick guide: FOB and CIF prices for zinc exports from Nampo."),
    "tokyo": ("東京都.txt", "東京都の港湾統計によると、輸出は増加した。"),
}
SECRET = ("secret.txt", "Classified cobalt tender: reserve price USD 9,999,999 for Pyongsong.")


@pytest.fixture
def corpus(lib: Library) -> dict[str, int]:
    ids = {k: lib.upload(name, text.encode(), category="trends")["document_id"] for k, (name, text) in DOCS.items()}
    ids["secret"] = lib.upload(SECRET[0], SECRET[1].encode(), level="SECRET", category="contracts")["document_id"]
    lib.process()
    return ids


def _hits(client: TestClient, q: str, **params: str) -> dict:
    r = client.get("/api/v1/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(("query", "expected"), [
    ("반도체 수출", "ko"),
    ("한국 무역 협회", "ko"),          # OCR-style spacing differences still match
    ("农产品出口", "zh-Hant"),          # simplified query, traditional document
    ("鋼材價格", "zh-Hans"),            # traditional query, simplified document
    ("輸入規制", "ja"),
    ("incoterm prices", "en"),         # stemming
    ("ＦＯＢ", "en"),                   # full-width folds
])
def test_finds_the_right_document_in_every_language(lib: Library, corpus: dict[str, int], query: str, expected: str) -> None:
    trader = lib.client("searcher")
    body = _hits(trader, query)
    assert body["hits"] and body["hits"][0]["document_id"] == corpus[expected], body


def test_kyoto_is_not_found_inside_tokyo(lib: Library, corpus: dict[str, int]) -> None:
    body = _hits(lib.client("searcher"), "京都")
    assert corpus["tokyo"] not in [h["document_id"] for h in body["hits"][:1]] or body["hits"][0]["score"] < 1


def test_single_character_query_finds_something(lib: Library, corpus: dict[str, int]) -> None:
    body = _hits(lib.client("searcher"), "港")
    assert {corpus["zh-Hans"], corpus["tokyo"]} & {h["document_id"] for h in body["hits"]}


def test_secret_is_never_found_counted_faceted_or_quoted(lib: Library, corpus: dict[str, int]) -> None:
    low = lib.client("low", clearance=Level.CONFIDENTIAL)
    for q in ("cobalt tender", "Pyongsong", "reserve price", "USD"):
        body = _hits(low, q)
        assert corpus["secret"] not in [h["document_id"] for h in body["hits"]]
        assert "contracts" not in dict(body["facets"].get("category", []))
        assert "Pyongsong" not in str(body) and "9,999,999" not in str(body)
    body = _hits(low, "cobalt")
    assert body["total"] == 0 and body["hits"] == []
    page = low.get("/search", params={"q": "cobalt Pyongsong"}).text
    assert "Pyongsong" not in page.replace('value="cobalt Pyongsong"', "") and "9,999,999" not in page
    high = lib.client("high", clearance=Level.SECRET)
    body = _hits(high, "cobalt tender")
    assert body["hits"][0]["document_id"] == corpus["secret"] and body["total"] == 1
    assert "<mark>cobalt</mark>" in body["hits"][0]["snippet_html"].lower()


def test_phrases_exclusions_filters_and_facets(lib: Library, corpus: dict[str, int]) -> None:
    trader = lib.client("searcher")
    assert _hits(trader, '"zinc exports"')["total"] == 1
    assert _hits(trader, '"exports zinc"')["total"] == 0
    assert _hits(trader, "zinc -incoterms")["total"] == 0
    body = _hits(trader, "수출 输出 輸出 export")
    assert body["total"] >= 3
    languages = dict(body["facets"]["language"])
    assert languages.get("ko") == 1
    only_ja = _hits(trader, "輸出", language="ja")
    assert only_ja["total"] >= 1 and all(h["document_id"] in (corpus["ja"], corpus["tokyo"]) for h in only_ja["hits"])
    assert _hits(trader, "zinc", category="contracts")["total"] == 0


@pytest.mark.parametrize("query", ["", "   ", "?!.,;", '"a" OR b* NEAR(', "x" * 10_000, '"unbalanced', "😀🚢",
                                   "'; DROP TABLE pages; --", "terms : zinc", "-", "NOT AND OR"])
def test_hostile_queries_answer_cleanly(lib: Library, corpus: dict[str, int], query: str) -> None:
    trader = lib.client("searcher")
    body = _hits(trader, query)
    assert isinstance(body["hits"], list)
    assert trader.get("/search", params={"q": query}).status_code == 200


def test_live_results_fragment_and_snippets_are_escaped(lib: Library) -> None:
    doc = lib.upload("xss.txt", b"<script>alert(1)</script> zinc notes")["document_id"]
    lib.process()
    trader = lib.client("searcher")
    frag = trader.get("/search", params={"q": "zinc"}, headers={"hx-request": "true"}).text
    assert "<html" not in frag and f'id="hit-{doc}"' in frag
    assert "<script>alert(1)</script>" not in frag and "&lt;script&gt;" in frag
    assert re.search(r"<mark>zinc</mark>", frag)


def test_one_hangul_syllable_searches_word_beginnings(lib: Library) -> None:
    car = lib.upload("car.txt", "승용차 수출 계약과 차량 부품 목록".encode())["document_id"]
    lib.upload("tea.txt", "녹차 가격 동향".encode())
    lib.process()
    hits = [h["document_id"] for h in _hits(lib.client("searcher"), "차")["hits"]]
    assert hits == [car]  # 차량 starts with 차; 녹차 does not


def test_quoted_phrases_match_as_the_page_was_indexed(lib: Library) -> None:
    ticket = lib.upload("ticket.txt", "大沙东站站内设置的“好易”自动售票机提供充值服务。".encode())["document_id"]
    apart = lib.upload("apart.txt", "好的，交易已经完成，易于查询。".encode())["document_id"]
    origin = lib.upload("origin.txt", b"The rules of origin for zinc exports changed in March.")["document_id"]
    lib.process()
    trader = lib.client("searcher")
    # Segmented alone, 好易 is one word; inside the sentence another split: the characters still follow each other.
    hits = [h["document_id"] for h in _hits(trader, "“好易”")["hits"]]
    assert hits == [ticket] and apart not in hits
    assert [h["document_id"] for h in _hits(trader, '"好易" 服务')["hits"]] == [ticket]
    # Stop words inside a phrase are part of it, as they are part of the page.
    assert [h["document_id"] for h in _hits(trader, '"rules of origin"')["hits"]] == [origin]
    assert _hits(trader, '"origin of rules"')["total"] == 0
