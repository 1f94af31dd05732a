"""In Chromium: a trader searches in each language from the search box, sees live results with marked
snippets, and opens a hit; a SECRET document never shows."""

from __future__ import annotations

from typing import Any

from entrepot.core.types import Level
from entrepot.db import Database
from entrepot.workers.loop import Worker
from tests.conftest import PASSWORD, Users, next_code
from tests.library.conftest import Library, lib  # noqa: F401 - the fixture

DOCS = [
    ("반도체.txt", "2025년 반도체 수출 동향 보고서", "반도체 수출"),
    ("钢材.txt", "大连港钢材价格周报", "钢材价格"),
    ("農產品.txt", "臺灣農產品出口成功案例", "农产品出口"),
    ("規制.txt", "輸入規制の改正について", "輸入規制"),
    ("incoterms.txt", "Incoterms quick guide for zinc exporters", "zinc exporter"),
]


def test_search_in_every_language_and_open_a_hit(browser: Any, server: str, lib: Library, db: Database,
                                                 users: Users) -> None:
    ids = {name: lib.upload(name, text.encode())["document_id"] for name, text, _ in DOCS}
    lib.upload("secret.txt", b"Secret cobalt reserve price for the zinc exporter", level="SECRET")
    Worker(db, lib.settings).run_until_idle()
    trader = users.make("finder", enterprise="hanbit", clearance=Level.CONFIDENTIAL)

    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(server + "/login")
    page.fill("input[name=username]", "finder")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.fill("input[name=code]", next_code(trader.totp_secret, None))  # type: ignore[arg-type]
    page.click("button[type=submit].primary")
    page.wait_for_url(server + "/")

    page.fill(".topsearch input[name=q]", DOCS[0][2])
    page.press(".topsearch input[name=q]", "Enter")
    page.wait_for_selector(f"#hit-{ids[DOCS[0][0]]}")
    for name, _text, query in DOCS[1:]:
        box = page.locator("#search-form input[name=q]")
        box.fill(query)  # results arrive as the user types (htmx, debounced)
        page.wait_for_selector(f"#search-results #hit-{ids[name]}")
        assert page.locator(f"#hit-{ids[name]} mark").count() >= 1
    assert "cobalt" not in page.content()
    page.click(f"#hit-{ids['incoterms.txt']} a.doctitle")
    page.wait_for_selector(".pagetext")
    assert "Incoterms" in page.inner_text(".pagetext")
    ctx.close()
