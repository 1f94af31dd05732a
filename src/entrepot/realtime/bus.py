"""Who needs waking. Events themselves live in each user's log in the database; the bus only tells the
connections of those users to read it. In-process by default; with Redis, every app instance hears
every wake-up, so a message sent through one instance reaches a client connected to another."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable

log = logging.getLogger(__name__)
CHANNEL = "entrepot:events"


class LocalBus:
    """Each subscriber is an asyncio.Event on the loop of its connection; wake-ups may come from any
    thread (commits happen in worker threads), so they are scheduled onto that loop."""

    def __init__(self) -> None:
        self._waiters: dict[int, dict[asyncio.Event, asyncio.AbstractEventLoop]] = defaultdict(dict)
        self._lock = threading.Lock()

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


class RedisBus(LocalBus):
    def __init__(self, url: str) -> None:
        super().__init__()
        import redis

        self.url = url
        self._publisher = redis.Redis.from_url(url)
        self._task: asyncio.Task[None] | None = None

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
        self._publisher.publish(CHANNEL, json.dumps(ids))

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        while True:
            try:
                client = aioredis.Redis.from_url(self.url)
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect: a Redis restart must not end delivery
                log.warning("event bus: Redis connection lost (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1)


def make_bus(redis_url: str | None) -> LocalBus:
    return RedisBus(redis_url) if redis_url else LocalBus()
