"""Library reads. Every list and count carries the policy's document clause inside the SQL."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entrepot import policy
from entrepot.core.types import Principal
from entrepot.db.library import Collection, Document, DocumentVersion, Page

PAGE_SIZE = 24


@dataclass(frozen=True)
class Browse:
    category: str | None = None
    collection_id: int | None = None
    status: str | None = None
    page: int = 1


def browse(session: Session, principal: Principal, f: Browse) -> tuple[list[Document], int]:
    """Newest first, only what the principal may read."""
    query = select(Document).where(policy.document_clause(principal))
    if f.category:
        query = query.where(Document.category == f.category)
    if f.collection_id:
        query = query.where(Document.collection_id == f.collection_id)
    if f.status:
        query = query.where(Document.status == f.status)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Document.updated_at.desc(), Document.id.desc())
                           .limit(PAGE_SIZE).offset((max(f.page, 1) - 1) * PAGE_SIZE)).unique().scalars()
    return list(rows), total


def category_counts(session: Session, principal: Principal) -> dict[str, int]:
    rows = session.execute(select(Document.category, func.count()).where(policy.document_clause(principal))
                           .group_by(Document.category))
    return {c: n for c, n in rows}


def collections(session: Session) -> list[Collection]:
    return list(session.execute(select(Collection).order_by(Collection.name)).scalars())


def versions(session: Session, document_id: int) -> list[DocumentVersion]:
    return list(session.execute(select(DocumentVersion).where(DocumentVersion.document_id == document_id)
                                .order_by(DocumentVersion.number.desc())).scalars())


def version(session: Session, doc: Document, number: int | None) -> DocumentVersion | None:
    """The numbered version of a document the caller already may read, or its current one."""
    query = select(DocumentVersion).where(DocumentVersion.document_id == doc.id)
    if number is None:
        if doc.current_version_id is None:
            return None
        query = query.where(DocumentVersion.id == doc.current_version_id)
    else:
        query = query.where(DocumentVersion.number == number)
    return session.execute(query).scalar_one_or_none()


def pages(session: Session, version_id: int) -> list[Page]:
    return list(session.execute(select(Page).where(Page.version_id == version_id).order_by(Page.number)).scalars())


def page(session: Session, version_id: int, number: int) -> Page | None:
    return session.execute(select(Page).where(Page.version_id == version_id, Page.number == number)
                           ).scalar_one_or_none()


def first_thumbs(session: Session, docs: list[Document]) -> dict[int, str]:
    """Thumbnails of the first page of each document's current version (unclassified documents only)."""
    ids = {d.current_version_id: d.id for d in docs if d.current_version_id and not policy.audited(d)}
    if not ids:
        return {}
    rows = session.execute(select(Page.version_id, Page.thumb).where(
        Page.version_id.in_(list(ids)), Page.number == 1, Page.thumb.is_not(None)))
    return {ids[v]: t for v, t in rows if t}


def board(session: Session, principal: Principal, limit: int = 200) -> list[tuple[DocumentVersion, Document]]:
    """The ingest queue for the library staff: newest versions first, within their clearance."""
    rows = session.execute(
        select(DocumentVersion, Document).join(Document, Document.id == DocumentVersion.document_id)
        .where(policy.document_clause(principal)).order_by(DocumentVersion.id.desc()).limit(limit))
    return [(v, d) for v, d in rows.unique()]


def board_counts(session: Session, principal: Principal) -> dict[str, int]:
    rows = session.execute(select(DocumentVersion.state, func.count()).join(
        Document, Document.id == DocumentVersion.document_id).where(policy.document_clause(principal))
        .group_by(DocumentVersion.state))
    return {s: n for s, n in rows}


def pages_to_review(session: Session, principal: Principal, limit: int = 200) -> list[tuple[Page, Document]]:
    rows = session.execute(
        select(Page, Document).join(DocumentVersion, DocumentVersion.id == Page.version_id)
        .join(Document, Document.id == DocumentVersion.document_id)
        .where(policy.document_clause(principal), Page.needs_review.is_(True),
               Document.current_version_id == DocumentVersion.id)
        .order_by(Page.confidence.asc()).limit(limit))
    return [(p, d) for p, d in rows.unique()]


def text_diff(session: Session, a: DocumentVersion, b: DocumentVersion, context: int = 2) -> list[str]:
    """A unified diff of the two versions' text, line by line."""
    def lines(v: DocumentVersion) -> list[str]:
        return [line for p in pages(session, v.id) for line in p.text.splitlines()]
    return list(difflib.unified_diff(lines(a), lines(b), f"v{a.number}", f"v{b.number}", n=context,
                                     lineterm=""))[:5000]
