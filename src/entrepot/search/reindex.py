"""Rebuild the whole page index from the pages of every document's current version."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from entrepot.db import Database
from entrepot.db.library import Document, Page
from entrepot.search.backend import page_index
from entrepot.search.compact import compact
from entrepot.search.service import index_rows

BATCH = 200


def reindex(db: Database, progress: Callable[[int, int], None] = lambda done, total: None) -> int:
    current = select(Page.id, Page.text).join(Document, Document.current_version_id == Page.version_id)
    with db.read() as s:
        total = s.execute(select(func.count()).select_from(current.subquery())).scalar_one()
    with db.write() as s:
        page_index(s).clear(s)
    done, last_id = 0, 0
    while True:
        with db.read() as s:
            batch = s.execute(current.where(Page.id > last_id).order_by(Page.id).limit(BATCH)).all()
        if not batch:
            compact(db)  # one segment: the rebuild wrote hundreds of transactions
            return done
        rows = index_rows([(pid, text) for pid, text in batch])
        with db.write() as s:
            page_index(s).replace(s, rows)
        done, last_id = done + len(batch), batch[-1][0]
        progress(done, total)
