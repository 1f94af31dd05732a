"""Group conversations over real WebSockets: the owner adds and removes members (the policy refuses
other enterprises, audited), a removed member stops receiving at once and cannot send, membership
changes sit in the conversation's archive chain, typing notices reach current members only and are
never stored, delivered and read receipts, replies, and the conversation list."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from entrepot.actions import accounts, members, messaging, sending
from entrepot.cli import main
from entrepot.core.config import Settings
from entrepot.core.types import Role
from entrepot.db import Database
from entrepot.db.messaging import Member, UserEvent
from entrepot.db.tables import ArchiveRecord, AuditRecord
from tests.conftest import Users, csrf_of
from tests.messaging.test_messenger import People, _conversation, _until, people  # noqa: F401 - fixture


def _h(c: TestClient) -> dict[str, str]:
    return {"x-csrf-token": csrf_of(c)}


def _send(c: TestClient, conv: int, cid: str, body: str, **extra: Any) -> dict[str, Any]:
    r = c.post(
        f"/api/v1/conversations/{conv}/messages",
        json={"client_id": cid, "body": body, **extra},
        headers=_h(c),
    )
    assert r.status_code == 201, r.text
    return r.json()


def _quiet(ws: Any, unwanted: str) -> list[dict[str, Any]]:
    """Frames up to a pong (a barrier), asserting none of them is of the unwanted kind."""
    ws.send_json({"type": "ping"})
    seen = []
    while (frame := ws.receive_json())["type"] != "pong":
        seen.append(frame)
        assert frame["type"] != unwanted and frame.get("event") != unwanted, frame
    return seen


def _chain(people: People, conv: int) -> list[ArchiveRecord]:
    with people.db.read() as s:
        return list(
            s.execute(
                select(ArchiveRecord)
                .where(ArchiveRecord.chain == f"conversation:{conv}")
                .order_by(ArchiveRecord.seq)
            ).scalars()
        )


def test_owner_adds_and_removes_members_and_removal_stops_delivery_at_once(
    people: People, settings: Settings
) -> None:
    a, b, c = people.client("alice"), people.client("bob"), people.client("carol")
    people.client("dmitri", "daedong")
    conv = _conversation(a, people.ids["bob"], title="Zinc desk")
    detail = a.get(f"/api/v1/conversations/{conv}").json()
    assert detail["kind"] == "group" and detail["title"] == "Zinc desk" and detail["can_manage"]
    assert {m["name"] for m in detail["members"]} == {"Alice", "Bob"}

    # Another enterprise: refused by the policy, audited, nobody added, nothing archived.
    r = a.post(
        f"/api/v1/conversations/{conv}/members",
        json={"user_ids": [people.ids["carol"], people.ids["dmitri"]]},
        headers=_h(a),
    )
    assert r.status_code == 403 and "own enterprise" in r.json()["error"]["message"]
    with people.db.read() as s:
        refused = s.execute(
            select(AuditRecord).where(AuditRecord.action == "conversation.member_refused")
        ).scalar_one()
        assert refused.target_id == str(people.ids["dmitri"]) and refused.details["conversation_id"] == conv
        assert s.get(Member, (conv, people.ids["carol"])) is None
    assert [r.action for r in _chain(people, conv)] == ["conversation.create"]
    # Only the owner changes members; a direct conversation has none to change.
    r = b.post(
        f"/api/v1/conversations/{conv}/members", json={"user_ids": [people.ids["carol"]]}, headers=_h(b)
    )
    assert r.status_code == 403 and "owner" in r.json()["error"]["message"]
    assert (
        a.post(f"/api/v1/conversations/{conv}/members", json={"user_ids": []}, headers=_h(a)).status_code
        == 422
    )

    r = a.post(
        f"/api/v1/conversations/{conv}/members", json={"user_ids": [people.ids["carol"]]}, headers=_h(a)
    )
    assert r.status_code == 200 and r.json()["added"] == [people.ids["carol"]]
    r = a.post(
        f"/api/v1/conversations/{conv}/members", json={"user_ids": [people.ids["carol"]]}, headers=_h(a)
    )
    assert r.status_code == 400 and "already" in r.json()["error"]["message"]
    assert {m["name"] for m in c.get(f"/api/v1/conversations/{conv}").json()["members"]} == {
        "Alice",
        "Bob",
        "Carol",
    }

    with b.websocket_connect("/ws") as wb:
        _quiet(wb, "message")
        # The owner cannot remove themselves; a member cannot remove another.
        r = a.delete(f"/api/v1/conversations/{conv}/members/{people.ids['alice']}", headers=_h(a))
        assert r.status_code == 403 and "cannot remove yourself" in r.json()["error"]["message"]
        assert (
            c.delete(f"/api/v1/conversations/{conv}/members/{people.ids['bob']}", headers=_h(c)).status_code
            == 403
        )
        assert (
            a.delete(f"/api/v1/conversations/{conv}/members/{people.ids['bob']}", headers=_h(a)).status_code
            == 200
        )
        assert _until(wb, "event", "conversation.removed")["payload"] == {"removed_from": conv}
        _send(a, conv, "after-1", "Bob is out now")
        _quiet(wb, "message")  # the socket is open, yet nothing of the conversation comes
        wb.send_json(
            {"type": "send", "client_id": "bob-late", "conversation_id": conv, "body": "still here?"}
        )
        assert "no longer a member" in _until(wb, "error")["message"]
    r = b.post(
        f"/api/v1/conversations/{conv}/messages", json={"client_id": "b2", "body": "hello?"}, headers=_h(b)
    )
    assert r.status_code == 403 and "no longer a member" in r.json()["error"]["message"]
    assert b.get(f"/api/v1/conversations/{conv}/messages").status_code == 403
    assert conv not in [row["id"] for row in b.get("/api/v1/conversations").json()]
    # Carol leaves on her own; the owner adds Bob back.
    assert (
        c.delete(f"/api/v1/conversations/{conv}/members/{people.ids['carol']}", headers=_h(c)).status_code
        == 200
    )
    assert (
        a.post(
            f"/api/v1/conversations/{conv}/members", json={"user_ids": [people.ids["bob"]]}, headers=_h(a)
        ).status_code
        == 200
    )
    assert [m["body"] for m in b.get(f"/api/v1/conversations/{conv}/messages").json()] == ["Bob is out now"]

    assert [r.action for r in _chain(people, conv)] == [
        "conversation.create",
        "conversation.member_add",
        "conversation.member_remove",
        "message.text",
        "conversation.member_leave",
        "conversation.member_add",
    ]
    ok = CliRunner().invoke(
        main,
        ["--data-dir", str(settings.data_dir), "audit", "verify"],
        env={"ENTREPOT_DATABASE_URL": settings.db_url},
    )
    assert ok.exit_code == 0 and f"chain conversation:{conv}: intact (6 records)" in ok.output


def test_direct_conversations_have_no_member_changes(people: People) -> None:
    a, _b, _c = people.client("alice"), people.client("bob"), people.client("carol")
    conv = _conversation(a, people.ids["bob"])
    r = a.post(
        f"/api/v1/conversations/{conv}/members", json={"user_ids": [people.ids["carol"]]}, headers=_h(a)
    )
    assert r.status_code == 403
    r = a.delete(f"/api/v1/conversations/{conv}/members/{people.ids['alice']}", headers=_h(a))
    assert r.status_code == 403 and "group" in r.json()["error"]["message"]
    assert a.delete("/api/v1/conversations/999999/members/1", headers=_h(a)).status_code == 404


def test_reviewers_and_inactive_users_cannot_be_added(people: People, users: Any) -> None:
    a, _b = people.client("alice"), people.client("bob")
    reviewer = users.make("rex", Role.REVIEWER, enterprise="hanbit")
    idle = users.make("ivan", enterprise="hanbit", active=False)
    conv = _conversation(a, people.ids["bob"], title="Desk")
    for uid, why in (
        (reviewer.id, "Compliance reviewers"),
        (idle.id, "cannot receive messages"),
        (10**6, "own enterprise"),
    ):
        r = a.post(f"/api/v1/conversations/{conv}/members", json={"user_ids": [uid]}, headers=_h(a))
        assert r.status_code == 403 and why in r.json()["error"]["message"]
    r = a.post("/api/v1/conversations", json={"user_ids": [reviewer.id]}, headers=_h(a))
    assert r.status_code == 403 and "Compliance reviewers" in r.json()["error"]["message"]
    assert len(a.get(f"/api/v1/conversations/{conv}").json()["members"]) == 2


def test_typing_reaches_current_members_only_and_is_never_stored(people: People) -> None:
    a, b, c = people.client("alice"), people.client("bob"), people.client("carol")
    outsider = people.client("dmitri", "daedong")
    conv = _conversation(a, people.ids["bob"], people.ids["carol"], title="Freight")
    a.delete(f"/api/v1/conversations/{conv}/members/{people.ids['carol']}", headers=_h(a))
    with people.db.read() as s:
        events_before = s.execute(select(func.count()).select_from(UserEvent)).scalar_one()
        archived_before = s.execute(select(func.count()).select_from(ArchiveRecord)).scalar_one()
    with (
        a.websocket_connect("/ws") as wa,
        b.websocket_connect("/ws") as wb,
        c.websocket_connect("/ws") as wc,
        outsider.websocket_connect("/ws") as wo,
    ):
        wa.send_json({"type": "typing", "conversation_id": conv})
        got = _until(wb, "typing")
        assert got == {
            "type": "typing",
            "conversation_id": conv,
            "user_id": people.ids["alice"],
            "name": "Alice",
        }
        _quiet(wc, "typing")  # removed
        _quiet(wo, "typing")  # another enterprise
        _quiet(wa, "typing")  # not echoed to the typist
        # A flood: one clear error, no more notices, and the others are not bothered.
        for _ in range(30):
            wa.send_json({"type": "typing", "conversation_id": conv})
        frames = _quiet(wa, "typing")
        errors = [f for f in frames if f["type"] == "error"]
        assert len(errors) == 1 and "Typing notices are limited" in errors[0]["message"]
        assert not [f for f in _quiet(wb, "never") if f["type"] == "typing"]
        # Typing where one may not write: the same clear errors as sending.
        wc.send_json({"type": "typing", "conversation_id": conv})
        assert "no longer a member" in _until(wc, "error")["message"]
        wo.send_json({"type": "typing", "conversation_id": conv})
        assert "No such conversation" in _until(wo, "error")["message"]
        wo.send_json({"type": "typing", "conversation_id": "x"})
        assert _until(wo, "error")["message"] == "Malformed frame."
    with people.db.read() as s:
        assert s.execute(select(func.count()).select_from(UserEvent)).scalar_one() == events_before
        assert s.execute(select(func.count()).select_from(ArchiveRecord)).scalar_one() == archived_before


def test_sent_delivered_read(people: People) -> None:
    a, b, c = people.client("alice"), people.client("bob"), people.client("carol")
    conv = _conversation(a, people.ids["bob"], people.ids["carol"], title="Receipts")
    with a.websocket_connect("/ws") as wa, b.websocket_connect("/ws") as wb, c.websocket_connect("/ws") as wc:
        _until(wb, "event", "conversation")
        _until(wc, "event", "conversation")
        wa.send_json({"type": "send", "client_id": "r1", "conversation_id": conv, "body": "Receipt check"})
        message_id = _until(wa, "sent")["message_id"]
        got = _until(wb, "event", "message")
        _until(wc, "event", "message")  # Carol's page has it but never acknowledges: not delivered to her
        members = {m["name"]: m for m in a.get(f"/api/v1/conversations/{conv}").json()["members"]}
        assert members["Bob"]["delivered_up_to"] == 0
        wb.send_json({"type": "ack", "seq": got["seq"]})
        delivered = _until(wa, "event", "delivered")["payload"]
        assert delivered == {"conversation_id": conv, "user_id": people.ids["bob"], "up_to": message_id}
        members = {m["name"]: m for m in a.get(f"/api/v1/conversations/{conv}").json()["members"]}
        assert members["Bob"]["delivered_up_to"] == message_id and members["Bob"]["read_up_to"] == 0
        assert members["Carol"]["delivered_up_to"] == 0
        wb.send_json({"type": "read", "conversation_id": conv, "up_to": message_id})
        read = _until(wa, "event", "read")["payload"]
        assert read["user_id"] == people.ids["bob"] and read["up_to"] == message_id
        # A read mark beyond the newest message is held to it.
        wb.send_json({"type": "read", "conversation_id": conv, "up_to": 10**12})
        _quiet(wb, "never")
    members = {m["name"]: m for m in a.get(f"/api/v1/conversations/{conv}").json()["members"]}
    assert members["Bob"]["read_up_to"] == message_id and members["Carol"]["delivered_up_to"] == 0
    # The receipt goes to the sender only.
    with people.db.read() as s:
        to_bob = s.execute(
            select(UserEvent).where(UserEvent.user_id == people.ids["bob"], UserEvent.type == "delivered")
        ).first()
    assert to_bob is None


def test_replies_quote_their_parent_within_the_conversation(people: People) -> None:
    a, b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    other = _conversation(a, people.ids["bob"], title="Elsewhere")
    parent = _send(a, conv, "p1", "Can you do 2,700?")
    with b.websocket_connect("/ws") as wb:
        wb.send_json(
            {
                "type": "send",
                "client_id": "r1",
                "conversation_id": conv,
                "body": "Yes",
                "reply_to_id": parent["id"],
            }
        )
        while (reply := _until(wb, "event", "message")["payload"])["client_id"] != "r1":
            pass
    assert reply["reply_to"] == {
        "id": parent["id"],
        "sender": "Alice",
        "excerpt": "Can you do 2,700?",
        "deleted": False,
    }
    history = a.get(f"/api/v1/conversations/{conv}/messages").json()
    assert history[-1]["reply_to"]["excerpt"] == "Can you do 2,700?"
    r = b.post(
        f"/api/v1/conversations/{other}/messages",
        json={"client_id": "x", "body": "no", "reply_to_id": parent["id"]},
        headers=_h(b),
    )
    assert r.status_code == 400 and "reply to does not exist" in r.json()["error"]["message"]
    a.delete(f"/api/v1/messages/{parent['id']}", headers=_h(a))
    history = a.get(f"/api/v1/conversations/{conv}/messages").json()
    assert history[-1]["reply_to"] == {"id": parent["id"], "sender": "Alice", "excerpt": "", "deleted": True}


def test_conversation_list_by_last_activity_with_unread_counts(people: People) -> None:
    a, b, _c = people.client("alice"), people.client("bob"), people.client("carol")
    first = _conversation(a, people.ids["bob"])
    second = _conversation(a, people.ids["carol"])
    group = _conversation(a, people.ids["bob"], people.ids["carol"], title="Desk")
    for i in range(3):
        _send(a, first, f"f{i}", f"first {i}")
    _send(a, group, "g1", "group")
    listed = b.get("/api/v1/conversations").json()
    assert [(r["id"], r["unread"]) for r in listed] == [(group, 1), (first, 3)]
    assert second not in [r["id"] for r in listed]
    deleted = _send(a, first, "f3", "first 3")
    a.delete(f"/api/v1/messages/{deleted['id']}", headers=_h(a))  # deleted messages are not unread
    listed = b.get("/api/v1/conversations").json()
    assert [(r["id"], r["unread"]) for r in listed] == [(first, 3), (group, 1)]
    page = b.get("/messages").text
    assert page.index(f'data-id="{first}"') < page.index(f'data-id="{group}"')


@pytest.mark.parametrize("recent_ids", [members.RECENT_IDS, 0])  # 0: every range read on its own
def test_delivery_receipts_of_many_members_at_once(db: Database, users: Users, recent_ids: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """One mark_delivered for several members and conversations (as the receipt writer calls it):
    each sender hears once per member and conversation, of the messages others sent; a mark that
    does not rise, or a conversation the member is not in, changes nothing."""
    monkeypatch.setattr(members, "RECENT_IDS", recent_ids)
    a, b, c = (accounts.principal_of(users.make(n, enterprise="hanbit")) for n in ("ann", "ben", "cid"))
    with db.write() as s:
        desk = messaging.start_conversation(s, a, [b.user_id, c.user_id], "Desk").id
        pair = messaging.start_conversation(s, a, [b.user_id]).id
        m1 = sending.send_message(s, a, desk, "m1", "one")[0].id
        m2 = sending.send_message(s, c, desk, "m2", "two")[0].id
        m3 = sending.send_message(s, b, desk, "m3", "three, Ben's own")[0].id
        m4 = sending.send_message(s, a, pair, "m4", "four")[0].id
    with db.write() as s:
        members.mark_delivered(s, [(b, {desk: m3, pair: m4}), (c, {desk: m1, pair: m4})])
    with db.write() as s:
        members.mark_delivered(s, [(b, {desk: m2})])  # lower than Ben's mark: nothing
    with db.read() as s:
        told = sorted((e.user_id, e.payload["conversation_id"], e.payload["user_id"], e.payload["up_to"])
                      for e in s.execute(select(UserEvent).where(UserEvent.type == "delivered")).scalars())
        marks = {(m.conversation_id, m.user_id): m.delivered_up_to for m in s.execute(select(Member)).scalars()}
    assert told == sorted([(a.user_id, desk, b.user_id, m3), (c.user_id, desk, b.user_id, m3),
                           (a.user_id, pair, b.user_id, m4), (a.user_id, desk, c.user_id, m1)])
    assert marks[(desk, b.user_id)] == m3 and marks[(pair, b.user_id)] == m4 and marks[(desk, c.user_id)] == m1
    assert (pair, c.user_id) not in marks


def test_a_read_mark_after_receipts_in_one_transaction_keeps_the_higher_delivery(db: Database,
                                                                                users: Users) -> None:
    """Receipts raise delivery marks without loading the memberships; a read mark later in the same
    transaction (the group writer's batch) must see the raised mark, not write back the one it read
    before."""
    a, b = (accounts.principal_of(users.make(n, enterprise="hanbit")) for n in ("ann", "ben"))
    with db.write() as s:
        pair = messaging.start_conversation(s, a, [b.user_id]).id
        m1, m2, m3 = (sending.send_message(s, a, pair, f"m{i}", f"message {i}")[0].id for i in (1, 2, 3))
    with db.write() as s:
        messaging.mark_read(s, b, pair, m1)
        held = s.get(Member, (pair, b.user_id))  # Ben's membership, still held (by other work of a batch)
        members.mark_delivered(s, [(b, {pair: m3})])
        messaging.mark_read(s, b, pair, m2)
        assert held is not None and held.delivered_up_to == m3
    with db.read() as s:
        mine = s.get(Member, (pair, b.user_id))
        assert mine is not None and (mine.read_up_to, mine.delivered_up_to) == (m2, m3)
