"""Keep the full-text indexes in few segments.

FTS5 writes each transaction's rows as a new segment and merges them only level by level, so an index
fed in many transactions (ingest batches, messages) keeps about ten, and every query walks each of
them: on 100k pages, scoring took half as long once they were merged into one (bench/search.py).
Merging runs in short write transactions of bounded work, so writers never wait long; it rewrites
the whole index, so it runs after bulk work and from the periodic maintenance job, not per write.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from entrepot.db import Database
from entrepot.search.backend import PageIndex, page_index

#: Pages merged per write transaction: tens of milliseconds of work.
STEP_PAGES = 1000
#: Maintenance merges an index once it holds more segments than this.
MAX_SEGMENTS = 4

IndexOf = Callable[[Session], PageIndex]


def all_indexes() -> list[IndexOf]:
    from entrepot.search.messages import archive_index, message_index

    return [page_index, message_index, archive_index]


def compact(db: Database, index: IndexOf = page_index, pages: int = STEP_PAGES) -> int:
    """Merge one index into a single segment, step by step; returns the steps that did work."""
    steps = 0
    while True:
        with db.write() as session:
            if not index(session).merge_step(session, pages):
                return steps
        steps += 1


def compact_fragmented(db: Database, max_segments: int = MAX_SEGMENTS) -> dict[str, int]:
    """Compact every index holding more than max_segments segments; steps taken per index."""
    done: dict[str, int] = {}
    for index in all_indexes():
        with db.read() as session:
            idx = index(session)
            name, count = getattr(idx, "name", "index"), idx.segments(session)
        if count > max_segments:
            done[name] = compact(db, index)
    return done
