"""One `Database` per process: an engine and two kinds of session.

`read()` opens a plain transaction. `write()` on SQLite starts with BEGIN IMMEDIATE, so two writers
queue on the busy timeout instead of failing with "database is locked" when a read lock is upgraded;
that also serialises appends to the hash chains. On PostgreSQL chains lock their head row instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Address space for the memory map (pages are mapped as read, not loaded), and page cache per connection.
SQLITE_MMAP_BYTES = 1 << 30
SQLITE_CACHE_KIB = 32 * 1024


def _sqlite_engine(url: str) -> Engine:
    db_path = make_url(url).database
    if db_path and db_path != ":memory:":
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Reads through a memory map and a larger page cache: a search joins its few hundred best
        # pages to their documents, and on 100k pages those lookups cost half as much again as the
        # ranking when every page came through a read() call (bench/search.py --scale 100000).
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    def __init__(self, url: str, after_commit_context: dict[str, Any] | None = None) -> None:
        self.url = url
        #: Put in every write session's `info`, for callbacks that run after commit (see `write`).
        self.after_commit_context = after_commit_context or {}
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(writer, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits when the block ends and rolls back if it raises.

        Callables appended to `session.info["after_commit"]` run once the commit succeeded: that is
        where events and wake-ups go, so nobody hears of a change that was rolled back.
        """
        with self._write() as session:
            session.info.update(self.after_commit_context)
            with session.begin():
                yield session
            for callback in session.info.pop("after_commit", []):
                callback()

    def dispose(self) -> None:
        self.engine.dispose()
