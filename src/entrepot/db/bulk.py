"""Many rows inserted in one statement, their new ids returned in the order given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session


def insert_ids(session: Session, table: Table, rows: Sequence[dict[str, Any]], key: tuple[str, ...]) -> list[int]:
    """Insert `rows` (the same columns in each) as multi-row INSERTs and return the new ids in the
    order of `rows`. The ids are matched back by `key`, columns whose values no two rows share:
    SQLite returns a multi-row insert's rows in no promised order, and asking SQLAlchemy for the
    order (sort_by_parameter_order) makes it insert them one statement per row there."""
    if not rows:
        return []
    columns = [table.c[name] for name in key]
    result = session.execute(insert(table).returning(table.c.id, *columns), list(rows))
    found = {tuple(row[1:]): int(row[0]) for row in result}
    return [found[tuple(row[name] for name in key)] for row in rows]
