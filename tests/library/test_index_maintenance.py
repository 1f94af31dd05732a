"""Index maintenance: a rebuild in worker processes and merging segments change no result; maintenance
merges only a fragmented index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from entrepot.db import Database
from entrepot.db.library import Document, DocumentVersion, Page
from entrepot.search.backend import page_index
from entrepot.search.compact import MAX_SEGMENTS, compact
from entrepot.search.reindex import analysis_pool, reindex
from entrepot.search.service import analyse, index_rows
from entrepot.workers.maintenance import cleanup

TEXTS = ["수출입 통계 발표 {i}", "东京都 出口 价格 {i}", "export prices rose in quarter {i}", "輸出 価格 東京 {i}"]


def _load_in_transactions(db: Database, batches: int) -> None:
    with db.write() as s:
        s.add(Document(id=1, title="t", category="trends", level=0, published=True, status="ready",
                       current_version_id=1, languages=[], suggestions={}))
        s.add(DocumentVersion(id=1, document_id=1, number=1, blob="0" * 64, filename="t.txt", size=0, state="ready"))
    page_id = 0
    for _ in range(batches):  # one write transaction each, as ingest batches arrive
        pages = [(page_id + k + 1, TEXTS[k % len(TEXTS)].format(i=page_id + k)) for k in range(8)]
        page_id += len(pages)
        with db.write() as s:
            s.add_all(Page(id=pid, version_id=1, number=pid, text=t) for pid, t in pages)
            s.flush()
            page_index(s).replace(s, index_rows(pages))


def _ranking(db: Database, question: str) -> list[tuple[Any, ...]]:
    query, _ = analyse(question)
    with db.read() as s:
        scored = page_index(s).scored_pages(s, query)
        assert scored is not None
        sub = scored.subquery()
        return [tuple(r) for r in s.execute(select(sub.c.page_id, sub.c.score).order_by(sub.c.score.desc(),
                                                                                      sub.c.page_id))]


def _segments(db: Database) -> int:
    with db.read() as s:
        return page_index(s).segments(s)


def test_compaction_merges_segments_and_keeps_every_result(db: Database) -> None:
    _load_in_transactions(db, 12)
    questions = ["수출입 통계", "东京 出口", "export prices", "東京 価格"]
    before = [_ranking(db, q) for q in questions]
    assert all(len(r) >= 24 for r in before)  # a quarter of the pages, or more across scripts
    fragmented = _segments(db)
    steps = compact(db, pages=4)
    if db.engine.dialect.name == "sqlite":
        assert fragmented > MAX_SEGMENTS and steps > 0
    assert _segments(db) == 1
    assert [_ranking(db, q) for q in questions] == before
    assert compact(db) == 0  # nothing left to merge


def test_maintenance_merges_only_a_fragmented_index(db: Database, settings: Any) -> None:
    _load_in_transactions(db, 2)
    if db.engine.dialect.name == "sqlite":
        assert 1 < _segments(db) <= MAX_SEGMENTS
    assert cleanup(db, settings, {})["compacted"] == {}
    _load_in_transactions_more(db)
    done = cleanup(db, settings, {})["compacted"]
    if db.engine.dialect.name == "sqlite":
        assert done.get("page_fts", 0) > 0
    assert _segments(db) == 1


def _load_in_transactions_more(db: Database) -> None:
    start = 1000
    for b in range(10):
        pages = [(start + b * 4 + k, f"more pages {b} {k}") for k in range(4)]
        with db.write() as s:
            s.add_all(Page(id=pid, version_id=1, number=pid, text=t) for pid, t in pages)
            s.flush()
            page_index(s).replace(s, index_rows(pages))


def test_reindex_in_worker_processes_rebuilds_the_same_index(db: Database) -> None:
    _load_in_transactions(db, 6)
    with db.write() as s:  # an earlier version's page: not current, so never indexed
        s.add(DocumentVersion(id=2, document_id=1, number=0, blob="1" * 64, filename="old.txt", size=0,
                              state="ready"))
        s.flush()
        s.add(Page(id=999, version_id=2, number=1, text="수출입 통계 superseded"))
    questions = ["수출입 통계", "东京 出口", "export prices", "東京 価格", "superseded"]
    before = [_ranking(db, q) for q in questions]
    with db.write() as s:  # damage the index: the rebuild must not depend on what is there
        page_index(s).remove(s, [1, 2, 3])
    seen: list[tuple[int, int]] = []
    with analysis_pool(1) as pool:
        assert reindex(db, lambda done, total: seen.append((done, total)), pool=pool) == 48
    assert seen[-1] == (48, 48)
    assert [_ranking(db, q) for q in questions] == before
    assert before[-1] == []
    assert _segments(db) == 1
