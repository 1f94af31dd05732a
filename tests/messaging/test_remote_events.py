"""Events between instances through Redis: one instance publishes a committed batch, numbered and
encoded; the other's fan-out hands each to its own connections of those users, with every
connection's session checked again at that moment, as for its own batches."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from entrepot.accounts import tokens
from entrepot.actions import accounts, auth
from entrepot.core.config import Settings
from entrepot.core.types import Principal, Role
from entrepot.db import Database
from entrepot.db.tables import WebSession
from entrepot.realtime.bus import RedisBus
from entrepot.realtime.fanout import Fanout
from tests._processes import require_redis
from tests.conftest import Users

REDIS = "redis://127.0.0.1:6379/14"


class Seat:
    """What the fan-out knows of a connection: its user, its session and where events go."""

    def __init__(self, principal: Principal, session_id: str) -> None:
        self.principal, self.session_id = principal, session_id
        self.offers: list[tuple[Principal | None, list[Any]]] = []
        self.offered = threading.Event()

    def offer(self, principal: Principal | None, batch: list[Any]) -> None:
        self.offers.append((principal, batch))
        self.offered.set()


def _session(db: Database, user_id: int) -> str:
    session_id = tokens.digest(tokens.new_token())
    with db.write() as s:
        s.add(WebSession(id=session_id, user_id=user_id, csrf_token=tokens.new_token(), mfa_passed=True))
    return session_id


def test_events_published_by_one_instance_reach_the_connections_of_another(db: Database, users: Users,
                                                                           settings: Settings) -> None:
    require_redis(REDIS)
    alice, bob, carol = (users.make(n, enterprise="hanbit") for n in ("alice", "bob", "carol"))
    seats = {u.id: Seat(accounts.principal_of(u), _session(db, u.id)) for u in (bob, carol)}
    admin = accounts.principal_of(users.make("root", Role.ADMIN))
    with db.write() as s:
        accounts.change_status(s, admin, carol.id, "suspend", "test")  # her session no longer counts
    payload = {"id": 7, "conversation_id": 3, "sender_id": alice.id, "body": "hi 你好"}
    encoded = json.dumps(payload, ensure_ascii=False)

    async def run() -> None:
        here, there = RedisBus(REDIS), RedisBus(REDIS)
        await here.start()
        await there.start()
        try:
            fanout = Fanout(db, there, lambda s, ids: auth.session_principals(s, settings, ids))
            for seat in seats.values():
                fanout.attach(seat)  # type: ignore[arg-type]  # a connection as the fan-out sees it
            await asyncio.sleep(0.5)  # both subscribed
            here.publish_events([("message", encoded, {alice.id: 9, bob.id: 3, carol.id: 5})])
            for seat in seats.values():
                assert await asyncio.to_thread(seat.offered.wait, 10)
        finally:
            await here.stop()
            await there.stop()

    with ThreadPoolExecutor(1) as pool:  # the browser tests' Playwright keeps an event loop in this thread
        pool.submit(lambda: asyncio.run(run())).result()
    [(principal, batch)] = seats[bob.id].offers
    assert principal is not None and principal.user_id == bob.id
    assert batch == [(3, "message", payload, encoded)]
    assert [principal for principal, _batch in seats[carol.id].offers] == [None]  # suspended: closed, not served
