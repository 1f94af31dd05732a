"""Who needs waking. Events themselves live in each user's log in the database; the bus tells the
connections of those users to read it. In-process by default; with Redis, every app instance hears
every wake-up, so a message sent through one instance reaches a client connected to another. The
messenger's fan-out also publishes each committed batch's events, numbered and encoded, and the other
instances hand them to their connections without reading the logs (`remote_events`); a wake-up is the
fallback for an instance with no fan-out yet.

Ephemeral frames (typing notices) are the exception: never stored, they travel on the bus itself to
the connections of the users named, which check the policy again before sending them on. A full queue
drops them: they are worth nothing a few seconds later."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)
CHANNEL = "entrepot:events"
EPHEMERAL_CHANNEL = "entrepot:ephemeral"
EPHEMERAL_QUEUE = 64
Frame = dict[str, Any]
#: A committed event as another instance hears it: (type, payload as JSON, {user id: their seq}).
RemoteEvent = tuple[str, str, dict[int, int]]


class LocalBus:
    """Each subscriber is an asyncio.Event on the loop of its connection; wake-ups may come from any
    thread (commits happen in worker threads), so they are scheduled onto that loop."""

    def __init__(self) -> None:
        self._waiters: dict[int, dict[asyncio.Event, asyncio.AbstractEventLoop]] = defaultdict(dict)
        self._listeners: dict[int, dict[asyncio.Queue[Frame], asyncio.AbstractEventLoop]] = defaultdict(dict)
        self._lock = threading.Lock()
        #: Set by the messenger's fan-out: takes events other instances committed (called off the loop).
        self.remote_events: Callable[[list[RemoteEvent]], None] | None = None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def subscribe(self, user_id: int) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            self._waiters[user_id][event] = asyncio.get_running_loop()
        return event

    def unsubscribe(self, user_id: int, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters[user_id].pop(event, None)
            if not self._waiters[user_id]:
                del self._waiters[user_id]

    def _wake(self, user_ids: Iterable[int]) -> None:
        with self._lock:
            targets = [(e, loop) for uid in user_ids for e, loop in self._waiters.get(uid, {}).items()]
        for event, loop in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def notify(self, user_ids: Iterable[int]) -> None:
        """Thread-safe: called after commit, usually from a worker thread."""
        self._wake(list(user_ids))

    def publish_events(self, events: list[RemoteEvent]) -> None:
        """Hand committed events to the connections of their users on other instances only (the
        fan-out served this one's)."""

    def listen(self, user_id: int) -> asyncio.Queue[Frame]:
        """A queue of the ephemeral frames addressed to this user, for one connection."""
        queue: asyncio.Queue[Frame] = asyncio.Queue(EPHEMERAL_QUEUE)
        with self._lock:
            self._listeners[user_id][queue] = asyncio.get_running_loop()
        return queue

    def unlisten(self, user_id: int, queue: asyncio.Queue[Frame]) -> None:
        with self._lock:
            self._listeners[user_id].pop(queue, None)
            if not self._listeners[user_id]:
                del self._listeners[user_id]

    def _offer(self, user_ids: Iterable[int], frame: Frame) -> None:
        with self._lock:
            targets = [(q, loop) for uid in user_ids for q, loop in self._listeners.get(uid, {}).items()]
        for queue, loop in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_put_or_drop, queue, frame)

    def send_ephemeral(self, user_ids: Iterable[int], frame: Frame) -> None:
        """Thread-safe; not stored, not replayed, best effort."""
        self._offer(list(user_ids), frame)


def _put_or_drop(queue: asyncio.Queue[Frame], frame: Frame) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(frame)


class RedisBus(LocalBus):
    def __init__(self, url: str) -> None:
        super().__init__()
        import redis

        self.url = url
        self._publisher = redis.Redis.from_url(url)
        self._task: asyncio.Task[None] | None = None
        self._origin = uuid.uuid4().hex  # our own ephemeral frames come back from Redis: skip them
        #: One thread hands other instances' events over, in the order heard (it re-checks sessions).
        self._remote = ThreadPoolExecutor(1, thread_name_prefix="bus-remote")

    async def start(self) -> None:
        await super().start()
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await super().stop()

    def notify(self, user_ids: Iterable[int]) -> None:
        ids = list(user_ids)
        super().notify(ids)  # local connections at once
        self._wake_remote(ids)

    def _wake_remote(self, user_ids: list[int]) -> None:
        if user_ids:  # tagged with our origin: this instance's connections were already served
            self._publisher.publish(CHANNEL, json.dumps({"origin": self._origin, "to": user_ids}))

    def publish_events(self, events: list[RemoteEvent]) -> None:
        users = sorted({uid for _type, _encoded, seqs in events for uid in seqs})
        if users:  # "to": the wake-up for an instance without a fan-out (or of an earlier version)
            self._publisher.publish(CHANNEL, json.dumps({"origin": self._origin, "to": users,
                                                         "events": events}, ensure_ascii=False))

    def send_ephemeral(self, user_ids: Iterable[int], frame: Frame) -> None:
        ids = list(user_ids)
        super().send_ephemeral(ids, frame)
        try:
            body = json.dumps({"origin": self._origin, "to": ids, "frame": frame})
            self._publisher.publish(EPHEMERAL_CHANNEL, body)
        except Exception as exc:  # noqa: BLE001 - a lost typing notice is no error worth a failed request
            log.warning("event bus: ephemeral frame not published (%s)", type(exc).__name__)

    def _heard(self, channel: bytes | str, data: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        if name == CHANNEL:
            body = json.loads(data)
            if isinstance(body, list):  # an instance of an earlier version
                self._wake(body)
            elif body.get("origin") != self._origin:
                take = self.remote_events
                if take is not None and body.get("events"):
                    events = [(str(t), str(e), {int(u): int(q) for u, q in seqs.items()})
                              for t, e, seqs in body["events"]]
                    self._remote.submit(_logged, take, events)  # in order, off the event loop
                else:
                    self._wake(body.get("to") or [])
            return
        body = json.loads(data)
        if body.get("origin") != self._origin:
            self._offer(body.get("to") or [], body.get("frame") or {})

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        while True:
            try:
                client = aioredis.Redis.from_url(self.url)
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL, EPHEMERAL_CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._heard(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect: a Redis restart must not end delivery
                log.warning("event bus: Redis connection lost (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1)


def _logged(take: Callable[[list[RemoteEvent]], None], events: list[RemoteEvent]) -> None:
    try:
        take(events)
    except Exception:  # noqa: BLE001 - the connections read their logs at their next wake-up
        log.exception("event bus: events from another instance not handed over")


def make_bus(redis_url: str | None) -> LocalBus:
    return RedisBus(redis_url) if redis_url else LocalBus()
