"""Two `entrepot serve` processes on one PostgreSQL and one Redis: a message sent through one instance
reaches a client connected to the other, at once (not at the next heartbeat)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import websockets

from entrepot.accounts import tokens
from entrepot.actions import accounts, messaging
from entrepot.core.config import Settings
from entrepot.db import Database
from entrepot.db.tables import WebSession
from tests._processes import require_redis, start_entrepot, stop_all, wait_healthy
from tests.browser.conftest import _free_port
from tests.conftest import BACKEND, Users

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="scale-out runs on PostgreSQL")
REDIS = "redis://127.0.0.1:6379/14"


@pytest.fixture
def instances(settings: Settings, db: Database) -> Iterator[list[int]]:
    require_redis(REDIS)
    env = {**os.environ, "ENTREPOT_DATABASE_URL": settings.db_url, "ENTREPOT_DATA_DIR": str(settings.data_dir),
           "ENTREPOT_REDIS_URL": REDIS}
    ports = [_free_port(), _free_port()]
    procs = [start_entrepot(["serve", "--port", str(port)], env) for port in ports]
    try:
        for port in ports:
            wait_healthy(port)
        yield ports
    finally:
        stop_all(procs)


def _session(db: Database, user_id: int) -> str:
    token = tokens.new_token()
    with db.write() as s:
        s.add(WebSession(id=tokens.digest(token), user_id=user_id, csrf_token=tokens.new_token(), mfa_passed=True))
    return token


def test_message_crosses_instances(instances: list[int], db: Database, users: Users) -> None:
    alice, bob = users.make("alice", enterprise="hanbit"), users.make("bob", enterprise="hanbit")
    with db.write() as s:
        conv = messaging.start_conversation(s, accounts.principal_of(alice), [bob.id]).id
    ta, tb = _session(db, alice.id), _session(db, bob.id)

    async def run() -> tuple[dict, float]:
        a_url, b_url = (f"ws://127.0.0.1:{p}/ws?since=1" for p in instances)
        async with websockets.connect(a_url, additional_headers={"Cookie": f"entrepot_session={ta}"}) as wa, \
                websockets.connect(b_url, additional_headers={"Cookie": f"entrepot_session={tb}"}) as wb:
            await asyncio.sleep(0.3)
            started = time.monotonic()
            await wa.send(json.dumps({"type": "send", "client_id": "x1", "conversation_id": conv, "body": "hello"}))
            while True:
                frame = json.loads(await asyncio.wait_for(wb.recv(), 10))
                if frame["type"] == "event" and frame["event"] == "message":
                    return frame, time.monotonic() - started

    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        frame, seconds = pool.submit(lambda: asyncio.run(run())).result()
    assert frame["payload"]["body"] == "hello"
    assert seconds < 2.0  # woken through Redis, not by the 25-second heartbeat


def test_typing_and_delivery_receipts_cross_instances(instances: list[int], db: Database,
                                                      users: Users) -> None:
    """Typing notices travel on Redis itself (never stored); delivery receipts through the event logs."""
    alice, bob = users.make("alice", enterprise="hanbit"), users.make("bob", enterprise="hanbit")
    with db.write() as s:
        conv = messaging.start_conversation(s, accounts.principal_of(alice), [bob.id]).id
    ta, tb = _session(db, alice.id), _session(db, bob.id)

    async def until(ws: Any, match: Any) -> dict:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if match(frame):
                return frame

    async def run() -> tuple[dict, dict, dict]:
        a_url, b_url = (f"ws://127.0.0.1:{p}/ws?since=1" for p in instances)
        async with websockets.connect(a_url, additional_headers={"Cookie": f"entrepot_session={ta}"}) as wa, \
                websockets.connect(b_url, additional_headers={"Cookie": f"entrepot_session={tb}"}) as wb:
            await asyncio.sleep(0.3)
            await wb.send(json.dumps({"type": "typing", "conversation_id": conv}))
            typing = await until(wa, lambda f: f["type"] == "typing")
            await wa.send(json.dumps({"type": "send", "client_id": "t1", "conversation_id": conv,
                                      "body": "hello"}))
            event = await until(wb, lambda f: f["type"] == "event" and f["event"] == "message")
            await wb.send(json.dumps({"type": "ack", "seq": event["seq"]}))
            receipt = await until(wa, lambda f: f["type"] == "event" and f["event"] == "delivered")
            return typing, event, receipt

    with ThreadPoolExecutor(1) as pool:
        typing, event, receipt = pool.submit(lambda: asyncio.run(run())).result()
    assert typing == {"type": "typing", "conversation_id": conv, "user_id": bob.id, "name": "Bob"}
    assert receipt["payload"] == {"conversation_id": conv, "user_id": bob.id, "up_to": event["payload"]["id"]}
