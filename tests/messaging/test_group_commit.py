"""Group commit and the fan-out: many sends in one transaction, each in its own savepoint; events handed
to the connections after commit, still checked by the policy at delivery; nothing acknowledged is lost
when the server is killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketDisconnect

from entrepot import audit
from entrepot.accounts import tokens
from entrepot.actions import accounts, compliance, messaging, screening, sending
from entrepot.actions.sending import TextSend
from entrepot.core.config import Settings
from entrepot.core.errors import InvalidInput, NotFound
from entrepot.core.types import Role
from entrepot.db import Database
from entrepot.db.compliance import Flag
from entrepot.db.messaging import Conversation, Message, UserEvent
from entrepot.db.tables import ArchiveRecord, WebSession
from entrepot.realtime.writer import GroupWriter
from tests.browser.conftest import _free_port
from tests.conftest import Users, csrf_of
from tests.messaging.test_messenger import (
    People,
    _conversation,
    _until,
    people,  # noqa: F401 - fixture
)
from tests.messaging.test_screening import GENERAL, TRADE


class Boom(Exception):
    pass


def test_a_batch_commits_each_send_alone(db: Database, users: Users) -> None:
    alice, bob = users.make("alice", enterprise="hanbit"), users.make("bob", enterprise="hanbit")
    outsider = users.make("carol", enterprise="daedong")
    a, c = accounts.principal_of(alice), accounts.principal_of(outsider)
    with db.write() as s:
        conv = messaging.start_conversation(s, a, [bob.id]).id
    handed: list[Any] = []
    writer = GroupWriter(db, handed.extend)

    def send(principal: Any, cid: str, body: str, fail_after: bool = False) -> Any:
        def work(s: Session) -> int:
            msg, _ = sending.send_message(s, principal, conv, cid, body)
            if fail_after:  # after the message, its archive record and its events were written
                raise Boom()
            return msg.id
        return work

    works = [send(a, "k1", "one"), send(a, "k2", "two", fail_after=True), send(c, "k3", "not a member"),
             send(a, "k1", "one again"), send(a, "k4", "four")]
    futures: list[Future[Any]] = [Future() for _ in works]
    writer._commit(list(zip(works, futures, strict=True)))  # one batch, deterministically

    first = futures[0].result()
    assert isinstance(futures[1].exception(), Boom)
    assert isinstance(futures[2].exception(), NotFound)
    assert futures[3].result() == first  # a retry in the same batch finds the first
    fourth = futures[4].result()
    with db.read() as s:
        bodies = list(s.execute(select(Message.body).where(Message.conversation_id == conv)
                                .order_by(Message.id)).scalars())
        seqs = list(s.execute(select(UserEvent.seq).where(UserEvent.user_id == bob.id)
                              .order_by(UserEvent.seq)).scalars())
        assert audit.verify_chain(s, f"conversation:{conv}").ok
        archived = [(r.action, (r.details or {}).get("body")) for r in s.execute(
            select(ArchiveRecord).where(ArchiveRecord.chain == f"conversation:{conv}").order_by(ArchiveRecord.seq)
        ).scalars()]
        indexed = set(s.execute(text("SELECT message_id FROM message_search" if s.get_bind().dialect.name == "postgresql"
                                     else "SELECT rowid FROM message_fts")).scalars())
        plain = s.execute(select(func.count()).where(Message.conversation_id == conv, Message.attachment.is_(None),
                                                     Message.quote.is_(None), Message.reply_to_id.is_(None))).scalar()
        touched = s.get(Conversation, conv).last_activity_at  # type: ignore[union-attr]
        last_sent = s.get(Message, fourth).created_at  # type: ignore[union-attr]
    assert bodies == ["one", "four"]
    assert archived == [("conversation.create", None), ("message.text", "one"), ("message.text", "four")]
    assert indexed == {first, fourth}
    assert plain == 2  # what a text message lacks is SQL NULL (a JSON column could have stored 'null')
    assert touched >= last_sent  # the batch moved the conversation up the list
    assert seqs == [1, 2, 3]  # the failed send's number was rolled back with it: no gap
    # only committed events reach the fan-out, in commit order
    ids = [payload["id"] for type_, payload, _seqs in handed if type_ == "message"]
    assert ids == [first, fourth]
    assert handed[-1][2] == {alice.id: 3, bob.id: 3}


def test_concurrent_sends_keep_numbers_dense(db: Database, users: Users) -> None:
    """Many senders at once through one writer: every event number once, per user, no gaps."""
    names = [f"trader{i}" for i in range(6)]
    people_ = [users.make(n, enterprise="hanbit") for n in names]
    ps = [accounts.principal_of(u) for u in people_]
    with db.write() as s:
        conv = messaging.start_conversation(s, ps[0], [u.id for u in people_[1:]], "Desk").id
    writer = GroupWriter(db)

    def one(i: int) -> int:
        work = lambda s: sending.send_message(s, ps[i % 6], conv, f"c{i}", f"m{i}")[0].id  # noqa: E731
        return writer.submit(work).result()

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(one, range(120)))
    assert len(set(ids)) == 120
    with db.read() as s:
        for u in people_:
            seqs = list(s.execute(select(UserEvent.seq).where(UserEvent.user_id == u.id)
                                  .order_by(UserEvent.seq)).scalars())
            assert seqs == list(range(1, 122))
        assert audit.verify_chain(s, f"conversation:{conv}").ok


def _run_batch(writer: GroupWriter, works: list[Any]) -> list[Future[Any]]:
    futures: list[Future[Any]] = [Future() for _ in works]
    writer._commit(list(zip(works, futures, strict=True)))  # one batch, deterministically
    return futures


def test_text_sends_of_a_batch_are_decided_one_by_one(db: Database, users: Users) -> None:
    """A batch's text sends share their statements, yet each is answered as if sent alone, in order."""
    alice, bob = users.make("alice", enterprise="hanbit"), users.make("bob", enterprise="hanbit")
    a, b = accounts.principal_of(alice), accounts.principal_of(bob)
    c = accounts.principal_of(users.make("carol", enterprise="daedong"))
    rev = accounts.principal_of(users.make("rev", Role.REVIEWER))
    with db.write() as s:
        conv = messaging.start_conversation(s, a, [bob.id]).id
        desk = messaging.start_conversation(s, a, [bob.id], "Desk").id
        earlier = sending.send_message(s, a, conv, "k0", "sent before")[0].id
        compliance.save_rule(s, rev, name="no weapons", kind="word", pattern="weapons", severity="high",
                             action="block", description="weapons")
        cash = compliance.save_rule(s, rev, name="cash", kind="word", pattern="cash", severity="low").id
    handed: list[Any] = []
    writer = GroupWriter(db, handed.extend)
    futures = _run_batch(writer, [
        TextSend(a, conv, "k0", "a retry of a send committed before"),
        TextSend(a, conv, " ", "no client id"),
        TextSend(a, conv, "k1", "one"),
        TextSend(c, conv, "k2", "not a member"),
        TextSend(b, conv, "k3", "selling weapons"),
        TextSend(a, conv, "k1", "one, sent again"),
        TextSend(b, conv, "k4", "pay in cash", reply_to_id=earlier),
        TextSend(b, desk, "k5", "a reply from another conversation", reply_to_id=earlier),
        TextSend(a, conv, "k6", " \u200b "),
        TextSend(b, desk, "k7", "desk news"),
    ])
    assert futures[0].result() == earlier
    assert isinstance(futures[1].exception(), InvalidInput)
    one = futures[2].result()
    assert isinstance(futures[3].exception(), NotFound)
    assert isinstance(futures[4].exception(), screening.Blocked)
    assert futures[5].result() == one  # the same client id later in the batch: the same message
    paid = futures[6].result()
    assert isinstance(futures[7].exception(), InvalidInput)
    assert isinstance(futures[8].exception(), InvalidInput)  # nothing left once cleaned
    news = futures[9].result()
    with db.read() as s:
        stored = [(m.id, m.body, m.reply_to_id) for m in s.execute(
            select(Message).where(Message.conversation_id.in_([conv, desk])).order_by(Message.id)).scalars()]
        flags = list(s.execute(select(Flag)).scalars())
        assert audit.verify_chain(s, f"conversation:{conv}").ok and audit.verify_chain(s, f"conversation:{desk}").ok
        bob_seqs = list(s.execute(select(UserEvent.seq).where(UserEvent.user_id == bob.id)
                                  .order_by(UserEvent.seq)).scalars())
    assert stored == [(earlier, "sent before", None), (one, "one", None), (paid, "pay in cash", earlier),
                      (news, "desk news", None)]
    assert [(f.message_id, f.rule_id) for f in flags] == [(paid, cash)]
    assert [m["body"] for m in flags[0].context] == ["sent before", "one"]  # what came before, in order
    assert bob_seqs == list(range(1, len(bob_seqs) + 1))
    assert [p["id"] for t, p, _seqs in handed if t == "message"] == [one, paid, news]
    assert handed[1][1]["reply_to"]["excerpt"] == "sent before"


def test_a_failing_text_send_does_not_fail_its_batch(db: Database, users: Users) -> None:
    """A send that fails otherwise than by a refusal (here an id the database cannot hold) fails
    alone: the batch is tried again one send at a time."""
    alice, bob = users.make("alice", enterprise="hanbit"), users.make("bob", enterprise="hanbit")
    a = accounts.principal_of(alice)
    with db.write() as s:
        conv = messaging.start_conversation(s, a, [bob.id]).id
    writer = GroupWriter(db)
    futures = _run_batch(writer, [TextSend(a, conv, "k1", "one"), TextSend(a, conv, "k2", "two", reply_to_id=2**70),
                                  TextSend(a, conv, "k3", "three")])
    assert futures[1].exception() is not None and not isinstance(futures[1].exception(), InvalidInput)
    with db.read() as s:
        assert list(s.execute(select(Message.id).where(Message.conversation_id == conv)
                              .order_by(Message.id)).scalars()) == [futures[0].result(), futures[2].result()]
        assert audit.verify_chain(s, f"conversation:{conv}").ok


def test_off_topic_in_one_batch_flags_as_one_by_one(db: Database, users: Users) -> None:
    """The off-topic rule reads each conversation's window once per batch and decides each message in
    order: the flags are those the same messages raise one transaction at a time."""
    alice, bob = users.make("alice", enterprise="hanbit"), users.make("bob", enterprise="hanbit")
    a, b = accounts.principal_of(alice), accounts.principal_of(bob)
    with db.write() as s:
        alone, together = (messaging.start_conversation(s, a, [bob.id], title).id for title in ("One", "Two"))
    script = [TRADE[i] for i in range(3)] + GENERAL * 2 + TRADE * 2 + GENERAL[:9]
    writer = GroupWriter(db)
    for i, body in enumerate(script):
        _run_batch(writer, [TextSend(a if i % 2 else b, alone, f"alone{i}", body)])
    for f in _run_batch(writer, [TextSend(a if i % 2 else b, together, f"together{i}", body)
                                 for i, body in enumerate(script)]):
        f.result()
    with db.read() as s:
        position = {mid: i for conv in (alone, together) for i, mid in enumerate(s.execute(
            select(Message.id).where(Message.conversation_id == conv).order_by(Message.id)).scalars())}
        flags = list(s.execute(select(Flag).order_by(Flag.id)).scalars())
    by_conv = {conv: [(position[f.message_id], [position[w["message_id"]] for w in (f.details or {})["window"]],
                       (f.details or {})["mean"]) for f in flags if f.conversation_id == conv]
               for conv in (alone, together)}
    assert len(by_conv[alone]) == 2  # two drifts, one flag each
    assert by_conv[together] == by_conv[alone]


def test_pushed_events_still_ask_the_policy(people: People, users: Users) -> None:  # noqa: F811
    """Sends over the socket go through the writer and the fan-out: a suspended recipient's socket
    closes instead of delivering, and a member removed from a group no longer gets its messages."""
    a, b = people.client("alice"), people.client("bob")
    people.client("carol")
    group = _conversation(a, people.ids["bob"], people.ids["carol"], title="Desk")
    direct = _conversation(a, people.ids["bob"])
    with a.websocket_connect("/ws") as wa, b.websocket_connect("/ws") as wb:
        _until(wb, "event", "conversation")
        _until(wb, "event", "conversation")
        wa.send_json({"type": "send", "client_id": "g1", "conversation_id": group, "body": "to the desk"})
        assert _until(wb, "event", "message")["payload"]["body"] == "to the desk"
        r = a.delete(f"/api/v1/conversations/{group}/members/{people.ids['bob']}",
                     headers={"x-csrf-token": csrf_of(a)})
        assert r.status_code == 200
        wa.send_json({"type": "send", "client_id": "g2", "conversation_id": group, "body": "not for bob"})
        _until(wa, "sent")
        wa.send_json({"type": "send", "client_id": "d1", "conversation_id": direct, "body": "for bob"})
        _until(wa, "sent")
        got = []
        while not got or got[-1]["event"] != "message":
            got.append(_until(wb, "event"))
        assert [f["payload"].get("body") for f in got if f["event"] == "message"] == ["for bob"]
        assert "conversation.removed" in [f["event"] for f in got]

        admin = users.make("root", Role.ADMIN)
        with people.db.write() as s:
            accounts.change_status(s, accounts.principal_of(admin), people.ids["bob"], "suspend", "test")
        wa.send_json({"type": "send", "client_id": "d2", "conversation_id": direct, "body": "still there?"})
        _until(wa, "sent")
        with pytest.raises(WebSocketDisconnect) as closed:
            _until(wb, "event", "message")
        assert closed.value.code == 4401


def _session(db: Database, user_id: int) -> str:
    token = tokens.new_token()
    with db.write() as s:
        s.add(WebSession(id=tokens.digest(token), user_id=user_id, csrf_token=tokens.new_token(),
                         mfa_passed=True))
    return token


def test_acknowledged_sends_survive_kill_9(settings: Settings, db: Database, users: Users) -> None:
    alice, bob = users.make("alice", enterprise="hanbit"), users.make("bob", enterprise="hanbit")
    with db.write() as s:
        conv = messaging.start_conversation(s, accounts.principal_of(alice), [bob.id]).id
    token = _session(db, alice.id)
    port = _free_port()
    env = {**os.environ, "ENTREPOT_DATABASE_URL": settings.db_url,
           "ENTREPOT_DATA_DIR": str(settings.data_dir)}
    env.pop("ENTREPOT_REDIS_URL", None)
    command = [sys.executable, "-m", "entrepot", "serve", "--port", str(port), "--no-migrate"]
    server_log = open(settings.data_dir / "server.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(command, env=env, stdout=server_log,  # noqa: S603 - our own server
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(1200):  # a busy machine loads the analysers slowly
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

        async def run() -> set[int]:
            acked: set[int] = set()
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws?since=1",
                                          additional_headers={"Cookie": f"entrepot_session={token}"},
                                          close_timeout=1) as ws:
                for i in range(20):  # within the socket's burst allowance
                    await ws.send(json.dumps({"type": "send", "client_id": f"k{i}", "conversation_id": conv,
                                              "body": f"m{i}"}))
                deadline = time.monotonic() + 20
                while len(acked) < 10 and time.monotonic() < deadline:
                    try:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    except websockets.ConnectionClosed:
                        break  # the assertion below shows the server's log
                    if frame["type"] == "sent":
                        acked.add(int(frame["message_id"]))
                os.killpg(proc.pid, signal.SIGKILL)  # mid-load, some sends still unanswered
            return acked

        with ThreadPoolExecutor(1) as pool:
            acked = pool.submit(lambda: asyncio.run(run())).result()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(15)
        server_log.close()
    assert len(acked) >= 10, (settings.data_dir / "server.log").read_text(errors="replace")[-3000:]
    with db.read() as s:
        stored = set(s.execute(select(Message.id).where(Message.conversation_id == conv)).scalars())
        assert s.execute(select(func.count()).select_from(Message)).scalar_one() == len(stored)
        assert audit.verify_chain(s, f"conversation:{conv}").ok
    assert acked <= stored
