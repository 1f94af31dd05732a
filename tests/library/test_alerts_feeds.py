"""Saved searches raise in-app alerts for new matches; Atom feeds per saved search and category,
behind a personal token; neither ever carries a document above the reader's clearance."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from fastapi.testclient import TestClient

from entrepot.core.types import Level
from entrepot.workers.loop import ALERTS_JOB, Worker
from tests.conftest import csrf_of
from tests.library.conftest import Library

ATOM = "{http://www.w3.org/2005/Atom}"


def test_saved_search_alerts_and_feeds(lib: Library) -> None:
    lib.upload("old.txt", b"Zinc ingot prices, January.")
    lib.process()
    trader = lib.client("alerted", clearance=Level.RESTRICTED)
    r = trader.post("/search/save", data={"q": "zinc", "name": "Zinc watch", "csrf_token": csrf_of(trader)})
    assert r.status_code == 200 and "Zinc watch" in r.text
    fresh = lib.upload("new.txt", b"Zinc ingot prices fell in March.")["document_id"]
    lib.upload("secret.txt", b"Zinc reserve tender, secret.", level="SECRET")
    lib.upload("other.txt", b"Copper cathode prices.")
    lib.process()
    worker = Worker(lib.db, lib.settings)
    with lib.db.write() as s:
        from entrepot import jobs

        jobs.enqueue(s, ALERTS_JOB)
    worker.run_until_idle()
    home = trader.get("/").text
    assert re.search(r'id="alert-count">1<', home)
    page = trader.get("/alerts").text
    assert f'href="/documents/{fresh}"' in page and "secret" not in page.lower().replace("saved searches", "")
    assert 'id="alert-count"' not in trader.get("/").text  # seen now

    token = re.search(r'id="feed-token">([^<]+)<', trader.post(
        "/account/feed-token", data={"csrf_token": csrf_of(trader)}).text).group(1)  # type: ignore[union-attr]
    reader = TestClient(lib.app, client=("127.0.0.1", 5000))  # a feed reader: no session
    with lib.db.read() as s:
        from sqlalchemy import select

        from entrepot.db.library import SavedSearch

        saved_id = s.execute(select(SavedSearch.id)).scalar_one()
    feed = reader.get(f"/feeds/saved/{saved_id}.atom", params={"token": token})
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(feed.content).iter(f"{ATOM}entry")]
    assert sorted(titles) == ["Zinc ingot prices fell in March.", "Zinc ingot prices, January."]
    category = reader.get("/feeds/category/trade_news.atom", params={"token": token})
    assert category.status_code == 200 and b"secret" not in category.content.lower()
    assert reader.get(f"/feeds/saved/{saved_id}.atom", params={"token": "feed_forged"}).status_code == 401
    other = lib.client("someone-else")
    other_token = re.search(r'id="feed-token">([^<]+)<', other.post(
        "/account/feed-token", data={"csrf_token": csrf_of(other)}).text).group(1)  # type: ignore[union-attr]
    assert reader.get(f"/feeds/saved/{saved_id}.atom", params={"token": other_token}).status_code == 404
