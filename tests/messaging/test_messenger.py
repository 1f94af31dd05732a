"""The messenger over real WebSockets: delivery after commit, replay after reconnect, retries that never
duplicate, read receipts, enterprise isolation, suspension, hostile frames."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect

from entrepot.actions import accounts
from entrepot.core.types import Role
from entrepot.db import Database
from entrepot.db.messaging import Message
from entrepot.db.tables import AuditRecord
from tests.conftest import Users, csrf_of, sign_in


class People:
    def __init__(self, app: Any, db: Database, users: Users) -> None:
        self.app, self.db, self.users = app, db, users
        self.ids: dict[str, int] = {}

    def client(self, name: str, enterprise: str = "hanbit", *roles: Role) -> TestClient:
        self.ids[name] = self.users.make(name, *(roles or (Role.TRADER,)), enterprise=enterprise).id
        c = TestClient(self.app, client=("127.0.0.1", 5000))
        sign_in(c, self.db, name)
        return c


@pytest.fixture
def people(app: Any, db: Database, users: Users, enterprises: dict[str, int]) -> People:
    return People(app, db, users)


def _conversation(c: TestClient, *user_ids: int, title: str | None = None) -> int:
    r = c.post("/api/v1/conversations", json={"user_ids": list(user_ids), "title": title},
               headers={"x-csrf-token": csrf_of(c)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _until(ws: Any, kind: str, event: str | None = None) -> dict[str, Any]:
    while True:
        frame = ws.receive_json()
        if frame["type"] == kind and (event is None or frame.get("event") == event):
            return frame


def test_send_deliver_replay_and_no_duplicates(people: People) -> None:
    a, b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    with a.websocket_connect("/ws") as wa, b.websocket_connect("/ws") as wb:
        assert _until(wb, "event", "conversation")["payload"]["id"] == conv
        wa.send_json({"type": "send", "client_id": "c-1", "conversation_id": conv, "body": "Zinc at 2,710?"})
        sent = _until(wa, "sent")
        got = _until(wb, "event", "message")
        assert got["payload"]["id"] == sent["message_id"] and got["payload"]["body"] == "Zinc at 2,710?"
        wa.send_json({"type": "send", "client_id": "c-1", "conversation_id": conv, "body": "Zinc at 2,710?"})
        assert _until(wa, "sent")["message_id"] == sent["message_id"]  # a retry, not a new message
        wb.send_json({"type": "read", "conversation_id": conv, "up_to": sent["message_id"]})
        receipt = _until(wa, "event", "read")
        assert receipt["payload"]["user_id"] == people.ids["bob"]
        last_b = got["seq"]
    with people.db.read() as s:
        assert s.execute(select(func.count()).select_from(Message)).scalar_one() == 1
    # Bob is away while Alice sends three more; on reconnect he gets exactly those, in order.
    with a.websocket_connect("/ws") as wa:
        for i in range(3):
            wa.send_json({"type": "send", "client_id": f"c-{i + 2}", "conversation_id": conv, "body": f"m{i}"})
            _until(wa, "sent")
    with b.websocket_connect(f"/ws?since={last_b}") as wb:
        bodies = []
        while len(bodies) < 3:
            frame = _until(wb, "event")
            if frame["event"] == "message":
                bodies.append(frame["payload"]["body"])
    assert bodies == ["m0", "m1", "m2"]
    history = b.get(f"/api/v1/conversations/{conv}/messages").json()
    assert [m["body"] for m in history] == ["Zinc at 2,710?", "m0", "m1", "m2"]


def test_other_enterprises_cannot_be_messaged_or_read(people: People) -> None:
    a, outsider = people.client("alice"), people.client("carol", "daedong")
    people.client("bob")
    r = a.post("/api/v1/conversations", json={"user_ids": [people.ids["carol"]]}, headers={"x-csrf-token": csrf_of(a)})
    assert r.status_code == 403 and "own enterprise" in r.json()["error"]["message"]
    with people.db.read() as s:
        assert s.execute(select(AuditRecord).where(AuditRecord.action == "message.refused")).first() is not None
    conv = _conversation(a, people.ids["bob"])
    assert outsider.get(f"/api/v1/conversations/{conv}/messages").status_code == 404
    r = outsider.post(f"/api/v1/conversations/{conv}/messages", json={"client_id": "x", "body": "hi"},
                      headers={"x-csrf-token": csrf_of(outsider)})
    assert r.status_code == 404
    with outsider.websocket_connect("/ws") as wc:
        wc.send_json({"type": "send", "client_id": "x1", "conversation_id": conv, "body": "let me in"})
        assert "No such conversation" in _until(wc, "error")["message"]
    assert outsider.get("/api/v1/conversations").json() == []


def test_suspension_stops_delivery_at_once(people: People, users: Users) -> None:
    a, b = people.client("alice"), people.client("bob")
    admin = users.make("root", Role.ADMIN)
    conv = _conversation(a, people.ids["bob"])
    with b.websocket_connect("/ws") as wb:
        _until(wb, "event", "conversation")
        with people.db.write() as s:
            accounts.change_status(s, accounts.principal_of(admin), people.ids["bob"], "suspend", "test")
        r = a.post(f"/api/v1/conversations/{conv}/messages", json={"client_id": "s1", "body": "still there?"},
                   headers={"x-csrf-token": csrf_of(a)})
        assert r.status_code == 201
        with pytest.raises(WebSocketDisconnect) as closed:
            _until(wb, "event", "message")
        assert closed.value.code == 4401


def test_hostile_frames_and_floods_get_clear_errors(people: People) -> None:
    a, _b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    with a.websocket_connect("/ws") as wa:
        wa.send_text("{not json")
        assert _until(wa, "error")["message"] == "Malformed frame."
        wa.send_json({"type": "teleport"})
        assert "Unknown frame" in _until(wa, "error")["message"]
        wa.send_json({"type": "send", "conversation_id": conv, "body": "no client id"})
        assert "client id" in _until(wa, "error")["message"]
        wa.send_json({"type": "send", "client_id": "big", "conversation_id": conv, "body": "x" * 9000})
        assert "too long" in _until(wa, "error")["message"]
        wa.send_text("x" * 70_000)
        assert "too large" in _until(wa, "error")["message"]
        for huge in ({"type": "send", "client_id": "h1", "conversation_id": 2**70, "body": "x"},
                     {"type": "send", "client_id": "h2", "conversation_id": conv, "body": "x", "reply_to_id": 2**64},
                     {"type": "typing", "conversation_id": -(2**65)}, {"type": "ack", "seq": 10**30}):
            wa.send_json(huge)  # ids no database column holds
            assert _until(wa, "error")["message"] == "Malformed frame."
        errors = 0
        for _ in range(40):
            wa.send_json({"type": "read", "conversation_id": conv, "up_to": 0})
        wa.send_json({"type": "ping"})
        while (frame := wa.receive_json())["type"] != "pong":
            errors += frame["type"] == "error" and "slow down" in frame["message"]
        assert errors > 0
        wa.send_json({"type": "send", "client_id": "xss", "conversation_id": conv,
                      "body": "<script>alert(1)</script>"})  # stored as text; the page renders it as text


def test_reviewers_and_strangers_get_no_socket(people: People, app: Any) -> None:
    reviewer = people.client("rev", "centre", Role.REVIEWER)
    assert reviewer.get("/messages").status_code == 403
    for client in (reviewer, TestClient(app, client=("127.0.0.1", 5000))):
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws") as ws:
            ws.receive_json()
        assert closed.value.code == 4401
    a = people.client("alice")
    with pytest.raises(WebSocketDisconnect), a.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
        ws.receive_json()


def test_edit_and_delete_show_as_such(people: People) -> None:
    a, b = people.client("alice"), people.client("bob")
    conv = _conversation(a, people.ids["bob"])
    h = {"x-csrf-token": csrf_of(a)}
    msg = a.post(f"/api/v1/conversations/{conv}/messages", json={"client_id": "e1", "body": "Price 2,700"}, headers=h).json()
    with b.websocket_connect("/ws?since=1") as wb:
        _until(wb, "event", "message")
        assert a.patch(f"/api/v1/messages/{msg['id']}", json={"body": "Price 2,710"}, headers=h).status_code == 200
        edited = _until(wb, "event", "message.edited")["payload"]
        assert edited["edited"] and edited["body"] == "Price 2,710"
        assert b.patch(f"/api/v1/messages/{msg['id']}", json={"body": "mine now"},
                       headers={"x-csrf-token": csrf_of(b)}).status_code == 403
        assert a.delete(f"/api/v1/messages/{msg['id']}", headers=h).status_code == 200
        deleted = _until(wb, "event", "message.deleted")["payload"]
        assert deleted["deleted"] and deleted["body"] == ""
    history = b.get(f"/api/v1/conversations/{conv}/messages").json()
    assert history[0]["deleted"] and history[0]["body"] == ""
