"""Searching messages with the library's analysers: members find Korean and Chinese messages of their
current conversations only; a deletion leaves the members' index and an edit replaces the text, while
reviewers find the originals in the archive; both backends keep the index in the same transaction."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from entrepot.core.types import Role
from entrepot.db import Database
from entrepot.db.messaging import Message
from entrepot.search import messages as message_search
from entrepot.search.service import analyse
from tests.conftest import csrf_of
from tests.messaging.test_messenger import People, _conversation, people  # noqa: F401 - fixture

KOREAN = "부산항 선적 일정을 다음 주로 미뤄야 합니다"
CHINESE = "請確認鋅錠的裝運日期和信用證條款"  # traditional script; searched in simplified below


def _send(c: TestClient, conv: int, cid: str, body: str) -> dict[str, Any]:
    r = c.post(
        f"/api/v1/conversations/{conv}/messages",
        json={"client_id": cid, "body": body},
        headers={"x-csrf-token": csrf_of(c)},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _found(c: TestClient, q: str) -> list[int]:
    r = c.get("/api/v1/messages/search", params={"q": q})
    assert r.status_code == 200, r.text
    return [h["message_id"] for h in r.json()["hits"]]


def _archive(c: TestClient, q: str) -> str:
    r = c.get("/review/search", params={"q": q})
    assert r.status_code == 200, r.text
    return r.text


def test_members_find_their_messages_in_korean_and_chinese_only(people: People) -> None:
    a, b, c = people.client("alice"), people.client("bob"), people.client("carol")
    outsider = people.client("dmitri", "daedong")
    conv = _conversation(a, people.ids["bob"], people.ids["carol"], title="Shipping")
    ko = _send(a, conv, "k1", KOREAN)
    zh = _send(b, conv, "z1", CHINESE)
    _send(a, conv, "e1", "Zinc ingots ready for loading")
    other = _conversation(people.client("erin"), people.ids["alice"])  # Erin and Alice only
    assert other != conv

    assert _found(b, "선적") == [ko["id"]]  # a morpheme of the Korean sentence
    assert _found(b, "선적 일정") == [ko["id"]]
    assert _found(a, "装运") == [zh["id"]]  # simplified query, traditional message
    assert _found(a, "信用证") == [zh["id"]]
    hit = b.get("/api/v1/messages/search", params={"q": "선적"}).json()["hits"][0]
    assert (
        hit["conversation_id"] == conv
        and hit["conversation"] == "Shipping"
        and "<mark>" in hit["snippet_html"]
    )
    assert _found(outsider, "선적") == [] and _found(outsider, "装运") == []
    erin = TestClient(people.app, client=("127.0.0.1", 5000))
    from tests.conftest import sign_in

    sign_in(erin, people.db, "erin")
    assert _found(erin, "선적") == []  # same enterprise, not a member
    # Removed members stop finding the conversation's messages.
    a.delete(
        f"/api/v1/conversations/{conv}/members/{people.ids['carol']}", headers={"x-csrf-token": csrf_of(a)}
    )
    assert _found(c, "선적") == []
    assert _found(b, "") == [] and b.get("/api/v1/messages/search", params={"q": ""}).json()["notice"]
    # The messenger page's live results: links open the conversation at the message.
    frag = b.get("/messages/search", params={"q": "선적"}, headers={"hx-request": "true"}).text
    assert f'href="/messages?conversation={conv}&amp;message={ko["id"]}"' in frag
    assert b.get("/messages/search", params={"q": "x"}, follow_redirects=False).status_code == 303


def test_edits_replace_deletions_remove_and_reviewers_find_originals(people: People) -> None:
    a, b = people.client("alice"), people.client("bob")
    reviewer = people.client("rita", "centre", Role.REVIEWER)
    conv = _conversation(a, people.ids["bob"])
    h = {"x-csrf-token": csrf_of(a)}
    edited = _send(a, conv, "m1", "锌锭报价 2700 美元")
    gone = _send(a, conv, "m2", "밀수 경로는 따로 알려 드리겠습니다")
    assert _found(b, "报价") == [edited["id"]] and _found(b, "밀수") == [gone["id"]]
    assert (
        a.patch(
            f"/api/v1/messages/{edited['id']}", json={"body": "铜板报价 9100 美元"}, headers=h
        ).status_code
        == 200
    )
    assert a.delete(f"/api/v1/messages/{gone['id']}", headers=h).status_code == 200
    assert _found(b, "锌锭") == [] and _found(b, "铜板") == [edited["id"]]
    assert _found(b, "밀수") == [] and _found(a, "밀수") == []  # the sender cannot find it either

    # Reviewers search the whole archive: the original of the edit and the deleted message.
    page = _archive(reviewer, "锌锭")
    assert f"/review/conversations/{conv}#msg-{edited['id']}" in page and 'data-later="edited"' in page
    page = _archive(reviewer, "밀수")
    assert f"#msg-{gone['id']}" in page and 'data-later="deleted"' in page and "<mark>밀수</mark>" in page
    assert "铜板" in _archive(reviewer, "铜板")  # the edit's new text too
    assert 'id="archive-hits"' in _archive(
        reviewer, "nothing-like-this"
    ) and "archive-search-notice" in _archive(reviewer, "nothing-like-this")
    # Not for traders: the route's policy, and the clause inside the query.
    assert b.get("/review/search", params={"q": "밀수"}).status_code == 403
    with people.db.read() as s:
        trader = people.ids["bob"]
        from entrepot.actions.accounts import get_user, principal_of

        assert message_search.search_archive(s, principal_of(get_user(s, trader)), "밀수").hits == []


def test_index_rows_follow_the_messages(people: People, db: Database) -> None:
    """The index holds exactly the live messages' rows, on either backend, and a rebuild agrees."""
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    ids = [_send(a, conv, f"i{i}", f"cargo manifest number {i}")["id"] for i in range(5)]
    a.delete(f"/api/v1/messages/{ids[0]}", headers={"x-csrf-token": csrf_of(a)})

    def indexed() -> set[int]:
        with db.read() as s:
            query, _ = analyse("manifest")
            scored = message_search.message_index(s).scored_pages(s, query)
            assert scored is not None
            return {row[0] for row in s.execute(scored)}

    assert indexed() == set(ids[1:])
    assert message_search.reindex(db) == (4, 5)  # live messages; records with text (the 5 as sent)
    assert indexed() == set(ids[1:])
    with db.write() as s:  # removing rows (a retention job) takes them out of the index too
        s.execute(Message.__table__.delete().where(Message.id == ids[1]))
    assert indexed() == set(ids[2:])
    with db.read() as s:
        assert s.execute(select(Message.id).where(Message.id == ids[1])).first() is None
