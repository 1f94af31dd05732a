"""One browser tab's WebSocket: replays the user's events after the last number the page has, then
delivers new ones as the bus wakes it; takes sends, read marks and acks; heartbeats find dead links.

Frames (JSON): page -> server: send {client_id, conversation_id, body, reply_to_id?}, read
{conversation_id, up_to}, ack {seq}, ping. server -> page: event {seq, event, payload}, sent
{client_id, message_id} (only after commit), error {message, client_id?}, ping, pong.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from entrepot.actions import messaging, quotes
from entrepot.core.errors import EntrepotError
from entrepot.core.types import Principal
from entrepot.db import Database
from entrepot.queries import messaging as q
from entrepot.realtime.bus import LocalBus

HEARTBEAT_S = 25.0
IDLE_LIMIT_S = 70.0
MAX_FRAME = 64 * 1024
BURST, RATE = 20, 10.0  # writes: a short burst, then this many a second
WRITES = frozenset({"send", "quote", "read"})


class State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"


class Connection:
    def __init__(self, ws: WebSocket, db: Database, bus: LocalBus, principal: Principal,
                 recheck: Any, since: int, translate: Any) -> None:
        self.ws, self.db, self.bus, self.principal = ws, db, bus, principal
        self.recheck = recheck  # () -> Principal | None, asked before every delivery
        self.sent = since
        self.acked = since
        self.translate = translate
        self.currencies: frozenset[str] | None = None  # ISO 4217 codes when reference data is loaded
        self.state = State.OPEN
        self.last_heard = time.monotonic()
        self._tokens, self._refilled = float(BURST), time.monotonic()

    async def run(self) -> None:
        wake = self.bus.subscribe(self.principal.user_id)
        tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._writer(wake))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.state = State.CLOSING
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await t
            self.bus.unsubscribe(self.principal.user_id, wake)

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(frame, ensure_ascii=False, default=str))

    async def _writer(self, wake: asyncio.Event) -> None:
        woken = True  # deliver the replay first
        while self.state is State.OPEN:
            if woken:
                wake.clear()
                if not await self._deliver():
                    await self.ws.close(code=4401)
                    return
            try:
                await asyncio.wait_for(wake.wait(), timeout=HEARTBEAT_S)
                woken = True
            except TimeoutError:
                # A quiet link costs no database work: only a wake-up (something to deliver) does.
                woken = False
                if time.monotonic() - self.last_heard > IDLE_LIMIT_S:
                    await self.ws.close(code=4408)  # the other end is gone
                    return
                await self._send({"type": "ping"})

    def _pending(self) -> tuple[Principal | None, list[Any], set[int]]:
        principal = self.recheck()
        if principal is None:
            return None, [], set()
        with self.db.read() as s:
            return principal, q.events_after(s, principal.user_id, self.sent), q.my_conversation_ids(s, principal)

    async def _deliver(self) -> bool:
        """Send everything after `sent`; False when the account or session stopped being valid."""
        while True:
            principal, events, allowed = await run_in_threadpool(self._pending)
            if principal is None:
                return False
            self.principal = principal
            for e in events:
                if q.deliverable(e, allowed):
                    await self._send({"type": "event", "seq": e.seq, "event": e.type, "payload": e.payload})
                self.sent = e.seq
            if len(events) < 500:
                return True

    def _allowed_now(self) -> bool:
        now = time.monotonic()
        self._tokens = min(BURST, self._tokens + (now - self._refilled) * RATE)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def _reader(self) -> None:
        while True:
            raw = await self.ws.receive_text()
            self.last_heard = time.monotonic()
            if len(raw) > MAX_FRAME:
                await self._send({"type": "error", "message": self.translate("Message too large.")})
                continue
            try:
                frame = json.loads(raw)
                if not isinstance(frame, dict):
                    raise ValueError("not an object")
            except ValueError:
                await self._send({"type": "error", "message": self.translate("Malformed frame.")})
                continue
            # Only what writes counts against the budget; acks, pings and pongs are free.
            if frame.get("type") in WRITES and not self._allowed_now():
                await self._send({"type": "error", "client_id": frame.get("client_id"),
                                  "message": self.translate("Too many messages; slow down.")})
                continue
            await self._handle(frame)

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        try:
            if kind == "ping":
                await self._send({"type": "pong"})
            elif kind == "pong":
                pass
            elif kind == "ack":
                self.acked = max(self.acked, int(frame.get("seq", 0)))
            elif kind in ("send", "quote"):
                store = self._store if kind == "send" else self._store_quote
                message_id = await run_in_threadpool(store, frame)
                await self._send({"type": "sent", "client_id": frame.get("client_id"), "message_id": message_id})
            elif kind == "read":
                await run_in_threadpool(self._mark_read, int(frame["conversation_id"]), int(frame["up_to"]))
            else:
                await self._send({"type": "error", "message": self.translate("Unknown frame type.")})
        except EntrepotError as exc:
            await self._send({"type": "error", "client_id": frame.get("client_id"),
                              "message": self.translate(exc.message, **exc.params)})
        except (KeyError, TypeError, ValueError):
            await self._send({"type": "error", "client_id": frame.get("client_id"),
                              "message": self.translate("Malformed frame.")})

    def _store(self, frame: dict[str, Any]) -> int:
        with self.db.write() as s:
            msg, _created = messaging.send_message(
                s, self.principal, int(frame["conversation_id"]), str(frame.get("client_id", "")),
                str(frame.get("body", "")), reply_to_id=frame.get("reply_to_id"))
            return msg.id

    def _store_quote(self, frame: dict[str, Any]) -> int:
        q = frame["quote"]
        quote = quotes.QuoteIn(product=str(q["product"]), quantity=float(q["quantity"]), unit=str(q["unit"]),
                               price=float(q["price"]), currency=str(q["currency"]), incoterm=str(q["incoterm"]),
                               place=str(q["place"]), hs_code=q.get("hs_code") or None,
                               valid_until=q.get("valid_until") or None)
        with self.db.write() as s:
            msg, _created = quotes.send_quote(s, self.principal, int(frame["conversation_id"]),
                                              str(frame.get("client_id", "")), quote, self.currencies)
            return msg.id

    def _mark_read(self, conversation_id: int, up_to: int) -> None:
        with self.db.write() as s:
            messaging.mark_read(s, self.principal, conversation_id, up_to)
