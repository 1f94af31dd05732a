"""Rows that writers take turns on (a user's event counter, an audit chain's head): read many at once,
created when missing, and held until commit."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from sqlalchemy import Column, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

K = TypeVar("K", bound=Hashable)
CHUNK = 500


def claim_rows(session: Session, table: Table, key: Column[Any], columns: list[Column[Any]], keys: Iterable[K],
               fresh: Callable[[K], dict[str, Any]]) -> dict[K, tuple[Any, ...]]:
    """`columns` of the rows of `keys`, a row made from `fresh(key)` first where there is none. One
    read for any number of keys (a second for those just made). The rows stay locked until commit:
    on PostgreSQL FOR UPDATE in key order, so two writers never deadlock; SQLite write transactions
    hold the database lock (BEGIN IMMEDIATE)."""
    postgres = session.get_bind().dialect.name == "postgresql"

    def locked(wanted: list[K]) -> dict[K, tuple[Any, ...]]:
        found: dict[K, tuple[Any, ...]] = {}
        for start in range(0, len(wanted), CHUNK):
            query = select(key, *columns).where(key.in_(wanted[start:start + CHUNK])).order_by(key)
            found.update((row[0], tuple(row[1:])) for row in session.execute(
                query.with_for_update() if postgres else query))
        return found

    wanted = sorted(set(keys))  # type: ignore[type-var]  # keys are ids or names: they sort
    found = locked(wanted)
    missing = [k for k in wanted if k not in found]
    if missing:
        insert = pg_insert if postgres else sqlite_insert
        session.execute(insert(table).values([fresh(k) for k in missing]).on_conflict_do_nothing())
        found.update(locked(missing))
    return found
