"""Rebuild the whole page index from the pages of every document's current version.

Analysis (Kiwi, jieba, Sudachi) is the cost, so it runs in worker processes, one per core, while this
process reads the next batches and writes the finished ones: on 2 cores about twice the passages per
second of one process (bench/search.py).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor

from sqlalchemy import func, select

from entrepot.db import Database
from entrepot.db.library import Document, Page
from entrepot.search.analyzers import IndexedText
from entrepot.search.backend import page_index
from entrepot.search.compact import compact
from entrepot.search.service import index_rows

BATCH = 200

Analysed = list[tuple[int, IndexedText]]


def analysis_pool(processes: int | None = None) -> ProcessPoolExecutor:
    """Worker processes for analysis. Spawned, not forked: the analysers' native libraries hold
    threads and locks a fork would copy mid-use."""
    n = max(1, processes or os.cpu_count() or 1)
    return ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"), initializer=warm)


def warm() -> None:
    """Load every analyser's model now (seconds), not inside the first batch."""
    index_rows([(0, "준비 東京に 中文 ready")])


def reindex(db: Database, progress: Callable[[int, int], None] = lambda done, total: None,
            pool: Executor | None = None) -> int:
    """Clear the page index and index every current page again; `pool` analyses in other processes
    (None: one is started for the machine's cores, and stopped at the end)."""
    own = pool is None
    executor = analysis_pool() if pool is None else pool
    try:
        return _rebuild(db, progress, executor)
    finally:
        if own:
            executor.shutdown()


def _batches(db: Database) -> Iterator[list[tuple[int, str]]]:
    current = select(Page.id, Page.text).join(Document, Document.current_version_id == Page.version_id)
    last_id = 0
    while True:
        with db.read() as s:
            batch = s.execute(current.where(Page.id > last_id).order_by(Page.id).limit(BATCH)).all()
        if not batch:
            return
        yield [(pid, text) for pid, text in batch]
        last_id = batch[-1][0]


def _rebuild(db: Database, progress: Callable[[int, int], None], pool: Executor) -> int:
    current = select(Page.id).join(Document, Document.current_version_id == Page.version_id)
    with db.read() as s:
        total = s.execute(select(func.count()).select_from(current.subquery())).scalar_one()
    with db.write() as s:
        page_index(s).clear(s)
    # A few batches in flight per worker keep them busy while this process writes, in page order.
    in_flight: deque[Future[Analysed]] = deque()
    depth = 2 * (os.cpu_count() or 1)
    done = 0

    def write_oldest() -> None:
        nonlocal done
        rows = in_flight.popleft().result()
        with db.write() as s:
            page_index(s).replace(s, rows)
        done += len(rows)
        progress(done, total)

    for batch in _batches(db):
        in_flight.append(pool.submit(index_rows, batch))
        if len(in_flight) >= depth:
            write_oldest()
    while in_flight:
        write_oldest()
    compact(db)  # one segment: the rebuild wrote a transaction per batch
    return done
