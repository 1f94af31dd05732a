"""One browser tab's WebSocket: replays the user's events after the last number the page has, then
delivers new ones as the bus wakes it; takes sends, read marks and acks; heartbeats find dead links.

Frames (JSON): page -> server: send {client_id, conversation_id, body, reply_to_id?}, read
{conversation_id, up_to}, typing {conversation_id}, ack {seq}, ping. server -> page: event {seq, event,
payload}, sent {client_id, message_id} (only after commit), typing {conversation_id, user_id, name}
(never stored), error {message, client_id?}, ping, pong.

Sends and read marks go to the process's GroupWriter (one transaction for all those waiting, see
realtime.writer); after its commit the Fanout hands each connection its new events and its re-checked
principal, and the connection sends them without reading its log unless they do not follow on.

An ack of a message event is the "delivered" receipt: the marks go to the process's ReceiptWriter,
which writes those of all connections together; the senders hear of it through their event logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from entrepot.actions import members, messaging, quotes, sending
from entrepot.core.errors import EntrepotError
from entrepot.core.messages import N_
from entrepot.core.types import Principal
from entrepot.db import Database
from entrepot.messaging import events
from entrepot.queries import messaging as q
from entrepot.realtime.bus import LocalBus
from entrepot.realtime.receipts import ReceiptWriter

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from entrepot.realtime.fanout import Fanout, Pushed
    from entrepot.realtime.writer import GroupWriter

HEARTBEAT_S = 25.0
IDLE_LIMIT_S = 70.0
MAX_FRAME = 64 * 1024
BURST, RATE = 20, 10.0  # writes: a short burst, then this many a second
WRITES = events.WRITES
TYPING_EVERY_S = 2.0  # per conversation; the page sends one every 3 s while the user types
TYPING_BURST, TYPING_RATE = 5, 1.0  # over all conversations of one connection
MAX_UNACKED = 2000
MAX_INT = 2**63 - 1  # a 64-bit column's largest value
TYPING_FLOOD = N_("Typing notices are limited; slow down.")
#: Events that change which conversations the user is in: the cached list is read again after one.
MEMBERSHIP_EVENTS = frozenset({"conversation", "conversation.removed", "members"})


class State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"


class Connection:
    def __init__(self, ws: WebSocket, db: Database, bus: LocalBus, principal: Principal,
                 recheck: Any, since: int, translate: Any, receipts: ReceiptWriter | None = None,
                 writer: GroupWriter | None = None, fanout: Fanout | None = None,
                 session_id: str | None = None) -> None:
        self.ws, self.db, self.bus, self.principal = ws, db, bus, principal
        self.receipts = receipts or ReceiptWriter(db)
        #: () -> Principal | None, asked before every read of the log and typing notice; the fan-out
        #: re-checks all the connections a batch reaches at once (Fanout.resolve).
        self.recheck = recheck
        self.writer, self.fanout, self.session_id = writer, fanout, session_id
        #: Events handed over by the fan-out, and the principal it found for them (None: invalid).
        self._inbox: list[Pushed] = []
        self._offered: Principal | None = principal
        #: The conversations the user may use (policy.conversation_clause), read with the log and
        #: kept until a membership event or a change of principal; None: read them with the log.
        self._allowed: set[int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.sent = since
        self.acked = since
        self.translate = translate
        self.currencies: frozenset[str] | None = None  # ISO 4217 codes when reference data is loaded
        self.state = State.OPEN
        self.last_heard = time.monotonic()
        self._tokens, self._refilled = float(BURST), time.monotonic()
        self._typing = Bucket(TYPING_BURST, TYPING_RATE)
        self._typing_last: dict[int, float] = {}
        self._typing_warned = 0.0
        self._send_lock = asyncio.Lock()
        #: Message events sent and not yet acknowledged: seq -> (conversation id, message id).
        self._unacked: dict[int, tuple[int, int]] = {}

    async def run(self) -> None:
        user_id = self.principal.user_id
        wake = self.bus.subscribe(user_id)
        ephemeral = self.bus.listen(user_id)
        self._loop, self._wake = asyncio.get_running_loop(), wake
        if self.fanout is not None:
            self.fanout.attach(self)
        tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._writer(wake)),
                 asyncio.create_task(self._ephemeral(ephemeral))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.state = State.CLOSING
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await t
            if self.fanout is not None:
                self.fanout.detach(self)
            self.bus.unsubscribe(user_id, wake)
            self.bus.unlisten(user_id, ephemeral)

    async def _send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:  # the reader, the writer and ephemeral frames share one socket
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False, default=str))

    async def _writer(self, wake: asyncio.Event) -> None:
        woken = True  # deliver the replay first
        while self.state is State.OPEN:
            if woken:
                wake.clear()
                if not await (self._deliver_offered() if self._inbox else self._deliver()):
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

    # -- events handed over by the fan-out ----------------------------------------------------

    def offer(self, principal: Principal | None, batch: list[Pushed]) -> None:
        """Thread-safe (the writer thread calls it after commit)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._take_offer, principal, batch)

    def _take_offer(self, principal: Principal | None, batch: list[Pushed]) -> None:
        self._inbox.extend(batch)
        self._offered = principal
        if self._wake is not None:
            self._wake.set()

    async def _deliver_offered(self) -> bool:
        """Send the handed-over events that follow the last one sent, each checked against the cached
        conversations; a gap (an event another writer committed), no cache or a membership change
        sends the rest through the log instead. False when the principal stopped being valid."""
        batch, self._inbox = sorted(self._inbox, key=lambda e: e[0]), []
        principal = self._offered
        if principal is None:
            return False
        if principal != self.principal:
            self._allowed = None  # roles or enterprise changed: ask the policy again
        self.principal = principal
        for seq, type_, payload, encoded in batch:
            if seq <= self.sent:
                continue  # already sent from the log
            if seq != self.sent + 1 or self._allowed is None or type_ in MEMBERSHIP_EVENTS:
                return await self._deliver()
            if events.deliverable(type_, payload, self._allowed):
                await self._send_text(f'{{"type":"event","seq":{seq},"event":{json.dumps(type_)},'
                                      f'"payload":{encoded}}}')
                self._expect_ack(seq, type_, payload)
            self.sent = seq
        return True

    async def _send_text(self, text: str) -> None:
        async with self._send_lock:
            await self.ws.send_text(text)

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
            self._allowed = allowed
            for e in events:
                if q.deliverable(e, allowed):
                    await self._send({"type": "event", "seq": e.seq, "event": e.type, "payload": e.payload})
                    self._expect_ack(e.seq, e.type, e.payload)
                self.sent = e.seq
                if e.type in MEMBERSHIP_EVENTS:
                    self._allowed = None  # read with the log again before the next handed-over event
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
            # Only registered frames, each with its policy decision (messaging.events), are handled.
            if not isinstance(frame.get("type"), str) or frame["type"] not in events.CLIENT_FRAMES:
                await self._send({"type": "error", "message": self.translate("Unknown frame type.")})
                continue
            # Only what writes counts against the budget; acks, pings and pongs are free.
            if frame["type"] in WRITES and not self._allowed_now():
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
                self._acked(_number(frame.get("seq", 0)))
            elif kind == "typing":
                await self._typing_notice(_number(frame["conversation_id"]))
            elif kind in ("send", "quote"):
                if self.writer is None:
                    message_id = await run_in_threadpool(self._store if kind == "send" else self._store_quote, frame)
                elif kind == "send":  # stored with the other text sends waiting (group commit)
                    message_id = await self.writer.run(self._text_send(frame))
                else:
                    message_id = await self.writer.run(lambda s: self._store_quote(frame, s))
                await self._send({"type": "sent", "client_id": frame.get("client_id"), "message_id": message_id})
            elif kind == "read":
                conversation_id, up_to = _number(frame["conversation_id"]), _number(frame["up_to"])
                if self.writer is not None:
                    await self.writer.run(
                        lambda s: messaging.mark_read(s, self.principal, conversation_id, up_to))
                else:
                    await run_in_threadpool(self._mark_read, conversation_id, up_to)
            else:
                await self._send({"type": "error", "message": self.translate("Unknown frame type.")})
        except EntrepotError as exc:
            await self._send({"type": "error", "client_id": frame.get("client_id"),
                              "message": self.translate(exc.message, **exc.params)})
        except (KeyError, TypeError, ValueError):
            await self._send({"type": "error", "client_id": frame.get("client_id"),
                              "message": self.translate("Malformed frame.")})

    def _text_send(self, frame: dict[str, Any]) -> sending.TextSend:
        return sending.TextSend(self.principal, _number(frame["conversation_id"]), str(frame.get("client_id", "")),
                                str(frame.get("body", "")), _optional_id(frame.get("reply_to_id")))

    def _store(self, frame: dict[str, Any]) -> int:
        send = self._text_send(frame)
        with self.db.write() as s:
            return sending.send_text(s, send).message.id

    def _store_quote(self, frame: dict[str, Any], s: Session | None = None) -> int:
        if s is None:
            with self.db.write() as s:
                return self._store_quote(frame, s)
        q = frame["quote"]
        quote = quotes.QuoteIn(product=str(q["product"]), quantity=float(q["quantity"]), unit=str(q["unit"]),
                               price=float(q["price"]), currency=str(q["currency"]), incoterm=str(q["incoterm"]),
                               place=str(q["place"]), hs_code=q.get("hs_code") or None,
                               valid_until=q.get("valid_until") or None)
        msg, _created = quotes.send_quote(s, self.principal, _number(frame["conversation_id"]),
                                          str(frame.get("client_id", "")), quote, self.currencies)
        return msg.id

    def _mark_read(self, conversation_id: int, up_to: int) -> None:
        with self.db.write() as s:
            messaging.mark_read(s, self.principal, conversation_id, up_to)

    # -- delivery receipts ------------------------------------------------------------------

    def _expect_ack(self, seq: int, type_: str, payload: dict[str, Any] | None) -> None:
        p = payload or {}
        if type_ == "message" and p.get("sender_id") != self.principal.user_id and p.get("id"):
            self._unacked[seq] = (int(p["conversation_id"]), int(p["id"]))
            if len(self._unacked) > MAX_UNACKED:  # a page that never acks must not grow this forever
                self._unacked.pop(next(iter(self._unacked)))

    def _acked(self, seq: int) -> None:
        """Acknowledged message events become delivery marks (the server's own ids, never the page's)."""
        if seq <= self.acked:
            return
        self.acked = seq
        marks: dict[int, int] = {}
        for s in [s for s in self._unacked if s <= seq]:
            conv, message_id = self._unacked.pop(s)
            marks[conv] = max(marks.get(conv, 0), message_id)
        self.receipts.add(self.principal.user_id, marks)

    # -- typing notices ---------------------------------------------------------------------

    async def _typing_notice(self, conversation_id: int) -> None:
        now = time.monotonic()
        too_soon = now - self._typing_last.get(conversation_id, -TYPING_EVERY_S) < TYPING_EVERY_S
        if too_soon or not self._typing.take():
            if now - self._typing_warned > TYPING_EVERY_S:  # one error per flood, not one per frame
                self._typing_warned = now
                await self._send({"type": "error", "message": self.translate(TYPING_FLOOD)})
            return
        self._typing_last[conversation_id] = now
        if len(self._typing_last) > 256:
            self._typing_last = {conversation_id: now}
        await run_in_threadpool(self._announce_typing, conversation_id)

    def _announce_typing(self, conversation_id: int) -> None:
        with self.db.read() as s:
            recipients = members.typing_recipients(s, self.principal, conversation_id)
            name = q.display_name(s, self.principal.user_id)
        self.bus.send_ephemeral(recipients, {"type": "typing", "conversation_id": conversation_id,
                                             "user_id": self.principal.user_id, "name": name})

    async def _ephemeral(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Typing notices from the bus, each sent on only if the policy still lets this user have it."""
        while True:
            frame = await queue.get()
            if await run_in_threadpool(self._may_receive, int(frame.get("conversation_id") or 0)):
                await self._send(frame)

    def _may_receive(self, conversation_id: int) -> bool:
        principal = self.recheck()
        if principal is None:
            return False
        with self.db.read() as s:
            return members.may_receive(s, principal, conversation_id)


class Bucket:
    """A token bucket: `burst` at once, refilled at `rate` a second."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens, self.refilled = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _number(value: Any) -> int:
    """An id, sequence or mark from a frame: an integer a database column holds (a larger one would
    fail in the driver, not as a malformed frame)."""
    number = int(value)
    if not -MAX_INT <= number <= MAX_INT:
        raise ValueError("out of range")
    return number


def _optional_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("not an id")
    return _number(value)
