"""Recording ingest results: a batch of versions in the caller's transaction, with set-based statements.

The worker records many short documents at once, so each step is one statement for the whole batch
(executemany inserts of pages and index rows, one audit-chain head lock) instead of several ORM
flushes per document. The result is the same as recording them one by one in order: a version's
earlier pages are replaced (re-running is idempotent), and a document's newest processed version is
its current one, the only one whose pages are in the search index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from entrepot import audit
from entrepot.db.library import Document, DocumentVersion, Page
from entrepot.ingest import IngestResult
from entrepot.search.backend import page_index

_VERSIONS = cast(Table, DocumentVersion.__table__)
_DOCUMENTS = cast(Table, Document.__table__)
_PAGES = cast(Table, Page.__table__)
DONE_STATES = ("ready", "unsupported")


def record_ingests(session: Session, results: Sequence[tuple[int, IngestResult]]) -> list[int]:
    """Record each (version id, result) in the caller's transaction; returns the version ids recorded
    (a version deleted meanwhile is skipped). A version listed twice keeps its last result."""
    latest = dict(results)
    versions = {r.id: r for r in session.execute(
        select(_VERSIONS.c.id, _VERSIONS.c.document_id, _VERSIONS.c.number, _VERSIONS.c.filename)
        .where(_VERSIONS.c.id.in_(list(latest))))}
    batch = [(vid, res) for vid, res in latest.items() if vid in versions]
    if not batch:
        return []
    index = page_index(session)
    _drop_pages(session, index, [vid for vid, _ in batch])
    page_ids = _insert_pages(session, batch)
    now = datetime.now(UTC)
    _update_versions(session, batch, now)
    current = _current_versions(session, {versions[vid].document_id for vid, _ in batch})
    promoted = [(vid, res) for vid, res in batch if current.get(versions[vid].document_id) == vid]
    if promoted:
        # Only the current version is searchable: the index moves with it, in this same transaction.
        _unindex_others(session, index, [vid for vid, _ in promoted])
        index.replace(session, [(pid, page.analysed) for vid, res in promoted
                                for pid, page in zip(page_ids[vid], res.pages, strict=True)
                                if page.analysed is not None])
        _update_documents(session, [(versions[vid], res) for vid, res in promoted], now)
    audit.append_many(session, [audit.Entry(
        "document.ingested", target_type="document", target_id=versions[vid].document_id,
        details={"version": versions[vid].number, "state": _state(res), "pages": len(res.pages),
                 "ocr_pages": _ocr_pages(res)}) for vid, res in batch])
    return [vid for vid, _ in batch]


def _state(result: IngestResult) -> str:
    return "ready" if result.supported else "unsupported"


def _ocr_pages(result: IngestResult) -> int:
    return sum(p.source == "ocr" for p in result.pages)


def _drop_pages(session: Session, index: Any, version_ids: list[int]) -> None:
    """What an earlier run of these versions wrote: their pages and those pages' index rows."""
    old = list(session.execute(select(_PAGES.c.id).where(_PAGES.c.version_id.in_(version_ids))).scalars())
    if old:
        index.remove(session, old)
        session.execute(delete(_PAGES).where(_PAGES.c.version_id.in_(version_ids)))


def _insert_pages(session: Session, batch: list[tuple[int, IngestResult]]) -> dict[int, list[int]]:
    """Every page of the batch in one executemany; returns each version's new page ids in page order."""
    rows: list[dict[str, Any]] = [
        {"version_id": vid, "number": p.number, "text": p.text, "language": p.language, "source": p.source,
         "confidence": p.confidence, "needs_review": p.needs_review, "image": p.image, "thumb": p.thumb}
        for vid, res in batch for p in res.pages]
    out: dict[int, list[int]] = {vid: [] for vid, _ in batch}
    if rows:
        ids = session.execute(insert(_PAGES).returning(_PAGES.c.id, sort_by_parameter_order=True), rows).scalars()
        for row, page_id in zip(rows, ids, strict=True):
            out[row["version_id"]].append(page_id)
    return out


def _update_versions(session: Session, batch: list[tuple[int, IngestResult]], now: datetime) -> None:
    rows = [{"b_id": vid, "media_type": res.media_type, "state": _state(res),
             "error": res.note, "page_count": len(res.pages),
             "ocr_pages": _ocr_pages(res), "low_confidence_pages": sum(p.needs_review for p in res.pages),
             "searchable_pdf": res.searchable_pdf, "step": "done", "progress": 100, "processed_at": now}
            for vid, res in batch]
    session.execute(update(_VERSIONS).where(_VERSIONS.c.id == bindparam("b_id")), rows)


def _current_versions(session: Session, document_ids: set[int]) -> dict[int, int]:
    """document id -> its newest processed version (ready or unsupported), the one to show and search."""
    newest: dict[int, tuple[int, int]] = {}
    for vid, doc_id, number in session.execute(
            select(_VERSIONS.c.id, _VERSIONS.c.document_id, _VERSIONS.c.number)
            .where(_VERSIONS.c.document_id.in_(document_ids), _VERSIONS.c.state.in_(DONE_STATES))):
        if doc_id not in newest or number > newest[doc_id][1]:
            newest[doc_id] = (vid, number)
    return {doc_id: vid for doc_id, (vid, _) in newest.items()}


def _unindex_others(session: Session, index: Any, current: list[int]) -> None:
    """Pages of the documents' other versions leave the index (none for a first version)."""
    others = list(session.execute(
        select(_PAGES.c.id).join(_VERSIONS, _PAGES.c.version_id == _VERSIONS.c.id)
        .where(_VERSIONS.c.document_id.in_(select(_VERSIONS.c.document_id).where(_VERSIONS.c.id.in_(current))),
               _VERSIONS.c.id.not_in(current))).scalars())
    if others:
        index.remove(session, others)


def _update_documents(session: Session, promoted: list[tuple[Any, IngestResult]], now: datetime) -> None:
    """The documents whose current version changed. A title is only written where the file's own title
    replaces the file name, so a librarian's edit made meanwhile is never overwritten."""
    titles = dict(session.execute(select(_DOCUMENTS.c.id, _DOCUMENTS.c.title)
                                  .where(_DOCUMENTS.c.id.in_([v.document_id for v, _ in promoted]))).all())
    plain: list[dict[str, Any]] = []
    retitled: list[dict[str, Any]] = []
    for version, res in promoted:
        row = {"b_id": version.document_id, "current_version_id": version.id,
               "status": "ready" if res.supported else "not_indexed", "languages": res.languages,
               "suggestions": res.suggestions, "updated_at": now}
        if res.title and titles.get(version.document_id) == version.filename:
            retitled.append({**row, "title": res.title[:500]})
        else:
            plain.append(row)
    for rows in (plain, retitled):
        if rows:
            session.execute(update(_DOCUMENTS).where(_DOCUMENTS.c.id == bindparam("b_id")), rows)
