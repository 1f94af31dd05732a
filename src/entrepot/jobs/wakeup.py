"""How idle workers learn that a job is waiting.

Jobs themselves live in the database (durable, visible on the board, claimed with SKIP LOCKED). Alone,
workers poll it. With Redis (scale-out), enqueuing pushes a token after commit and idle workers block
on it, so a job starts within milliseconds on whichever instance is free.
"""

from __future__ import annotations

import time
from typing import Protocol

from entrepot.core.config import Settings
from entrepot.db import Database

KEY = "entrepot:jobs:wakeup"


class Wakeup(Protocol):
    def notify(self) -> None: ...

    def wait(self, timeout_s: float) -> None: ...


class Polling:
    def notify(self) -> None:
        pass

    def wait(self, timeout_s: float) -> None:
        time.sleep(timeout_s)


class RedisWakeup:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)

    def notify(self) -> None:
        pipe = self.client.pipeline()
        pipe.lpush(KEY, b"1")
        pipe.ltrim(KEY, 0, 999)  # a backlog of tokens is pointless; workers re-check the table anyway
        pipe.execute()

    def wait(self, timeout_s: float) -> None:
        self.client.brpop([KEY], timeout=max(1, round(timeout_s)))


def make_wakeup(redis_url: str | None) -> Wakeup:
    return RedisWakeup(redis_url) if redis_url else Polling()


def open_database(settings: Settings) -> Database:
    """The database the settings name, whose write sessions wake workers after commit."""
    return Database(settings.db_url, {"wakeup": make_wakeup(settings.redis_url)})
