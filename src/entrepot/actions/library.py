"""Library writes: new documents and versions, descriptions, publishing, classification, ingest results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from entrepot import audit, jobs, policy
from entrepot.actions import validate
from entrepot.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from entrepot.core.types import Category, Level, Principal, RequestKind, RequestStatus
from entrepot.db.library import (
    Collection,
    Document,
    DocumentCountry,
    DocumentHsCode,
    DocumentTag,
    DocumentVersion,
)
from entrepot.db.tables import ApprovalRequest
from entrepot.ingest import IngestResult
from entrepot.parsers import safe_filename

INGEST_JOB = "ingest.version"


def _now() -> datetime:
    return datetime.now(UTC)


def readable_document(session: Session, principal: Principal, document_id: int) -> Document:
    """The document if the policy lets the principal read it; otherwise 404, never saying it exists."""
    doc = session.get(Document, document_id)
    if doc is None or not policy.may_read_document(principal, doc):
        raise NotFound("This document does not exist.")
    return doc


def _editable(session: Session, principal: Principal, document_id: int) -> Document:
    doc = session.get(Document, document_id)
    if doc is None or not policy.may_read_document(principal, doc):
        raise NotFound("This document does not exist.")
    decision = policy.may_edit_document(principal, doc)
    if not decision:
        raise Forbidden(decision.reason or "Not allowed.")
    return doc


def version_holding(session: Session, blob: str, actor: Principal | None = None) -> DocumentVersion | None:
    """A version holding this content, in a document the actor may read (any document, for imports
    without an actor). A document the actor may not read is not there for them: an upload must not
    confirm that the library holds a file above their clearance, nor name that document."""
    query = select(DocumentVersion).where(DocumentVersion.blob == blob)
    if actor is not None:
        query = query.join(Document, Document.id == DocumentVersion.document_id).where(
            policy.document_clause(actor))
    return session.execute(query.order_by(DocumentVersion.id).limit(1)).scalar_one_or_none()


@dataclass(frozen=True)
class NewFile:
    blob: str
    filename: str
    size: int


def add_document(session: Session, actor: Principal | None, file: NewFile, *, category: str = Category.TRADE_NEWS,
                 level: str | int = Level.OPEN, collection_id: int | None = None, title: str | None = None,
                 ip: str | None = None) -> tuple[Document, bool]:
    """A new document for a stored file, queued for ingest. Returns (document, created); a file already
    held (same content) in a document the actor may read returns that document and created=False, so
    imports can be re-run."""
    if actor is not None and not policy.allows(actor, policy.Action.LIBRARY_MANAGE):
        raise Forbidden("Only librarians and custodians can add documents.")
    existing = version_holding(session, file.blob, actor)
    if existing is not None:
        return session.get(Document, existing.document_id), False  # type: ignore[return-value]
    cat = _category(category)
    lvl = _level(level)
    if actor is not None and lvl > actor.clearance:
        raise Forbidden("You cannot classify above your own clearance.")
    name = safe_filename(file.filename)
    doc = Document(title=validate.clean_text(title or name, "title", max_len=500), category=cat, level=int(lvl),
                   collection_id=_collection(session, collection_id), created_by_id=actor.user_id if actor else None,
                   status="queued", languages=[], suggestions={})
    session.add(doc)
    session.flush()
    _new_version(session, actor, doc, NewFile(file.blob, name, file.size))
    audit.append(session, "document.create", actor=actor, target_type="document", target_id=doc.id, ip=ip,
                 details={"filename": name, "sha256": file.blob, "size": file.size, "level": lvl.name})
    return doc, True


def _new_version(session: Session, actor: Principal | None, doc: Document, file: NewFile) -> DocumentVersion:
    last = session.execute(select(DocumentVersion.number).where(DocumentVersion.document_id == doc.id)
                           .order_by(DocumentVersion.number.desc()).limit(1)).scalar_one_or_none()
    version = DocumentVersion(document_id=doc.id, number=(last or 0) + 1, blob=file.blob, filename=file.filename,
                              size=file.size, state="queued", created_by_id=actor.user_id if actor else None)
    session.add(version)
    session.flush()
    jobs.enqueue(session, INGEST_JOB, {"version_id": version.id}, max_attempts=3)
    if doc.current_version_id is None:
        doc.status = "queued"
    return version


def add_version(session: Session, actor: Principal, document_id: int, file: NewFile, *, ip: str | None = None
                ) -> DocumentVersion:
    """A new file for an existing document; earlier versions stay readable."""
    doc = _editable(session, actor, document_id)
    version = _new_version(session, actor, doc, NewFile(file.blob, safe_filename(file.filename), file.size))
    audit.append(session, "document.version", actor=actor, target_type="document", target_id=doc.id, ip=ip,
                 details={"version": version.number, "sha256": file.blob, "filename": version.filename})
    return version


def _category(value: str) -> str:
    try:
        return Category(value).value
    except ValueError as exc:
        raise InvalidInput("Unknown category.", field="category") from exc


def _level(value: str | int | Level) -> Level:
    try:
        return Level.parse(value)
    except (KeyError, ValueError) as exc:
        raise InvalidInput("Unknown classification level.", field="level") from exc


def _collection(session: Session, collection_id: int | None) -> int | None:
    if collection_id is None:
        return None
    if session.get(Collection, collection_id) is None:
        raise InvalidInput("No such collection.", field="collection_id")
    return collection_id


def create_collection(session: Session, actor: Principal, name: str, description: str | None,
                      *, ip: str | None = None) -> Collection:
    if not policy.allows(actor, policy.Action.LIBRARY_MANAGE):
        raise Forbidden("Only librarians and custodians can add documents.")
    label = validate.clean_text(name, "name", max_len=200)
    if session.execute(select(Collection.id).where(Collection.name == label)).first():
        raise Conflict("A collection with this name already exists.", field="name")
    col = Collection(name=label, description=validate.clean_text(description, "description", max_len=2000,
                                                                  required=False) or None)
    session.add(col)
    session.flush()
    audit.append(session, "collection.create", actor=actor, target_type="collection", target_id=col.id, ip=ip,
                 details={"name": label})
    return col


def _codes(values: Iterable[str], field: str, *, length: int, digits: bool) -> list[str]:
    out = []
    for raw in values:
        code = raw.strip().replace(".", "").upper()
        if not code:
            continue
        if len(code) != length or (digits and not code.isdigit()) or (not digits and not code.isalpha()):
            raise InvalidInput("“%(value)s” is not a valid code.", field=field, value=raw[:20])
        out.append(code)
    return sorted(set(out))


@dataclass(frozen=True)
class Description:
    """A librarian's description of a document; None leaves a field as it is."""

    title: str | None = None
    summary: str | None = None
    category: str | None = None
    source: str | None = None
    issued_on: str | None = None
    collection_id: int | None = None
    tags: list[str] | None = None
    countries: list[str] | None = None
    hs_codes: list[str] | None = None


def describe(session: Session, actor: Principal, document_id: int, d: Description, *, ip: str | None = None
             ) -> Document:
    doc = _editable(session, actor, document_id)
    changed: dict[str, Any] = {}
    if d.title is not None:
        doc.title = changed["title"] = validate.clean_text(d.title, "title", max_len=500)
    if d.summary is not None:
        doc.summary = changed["summary"] = validate.clean_text(d.summary, "summary", max_len=20000,
                                                               required=False) or None
    if d.category is not None:
        doc.category = changed["category"] = _category(d.category)
    if d.source is not None:
        doc.source = changed["source"] = validate.clean_text(d.source, "source", max_len=300, required=False) or None
    if d.issued_on is not None:
        doc.issued_on = _date(d.issued_on)
        changed["issued_on"] = doc.issued_on.isoformat() if doc.issued_on else None
    if d.collection_id is not None:
        doc.collection_id = changed["collection_id"] = _collection(session, d.collection_id or None)
    if d.tags is not None:
        tags = sorted({validate.clean_text(t, "tags", max_len=64) for t in d.tags if t.strip()})
        doc.tag_rows = [DocumentTag(tag=t) for t in tags]
        changed["tags"] = tags
    if d.countries is not None:
        codes = _codes(d.countries, "countries", length=2, digits=False)
        doc.country_rows = [DocumentCountry(code=c) for c in codes]
        changed["countries"] = codes
    if d.hs_codes is not None:
        codes = _codes(d.hs_codes, "hs_codes", length=6, digits=True)
        doc.hs_rows = [DocumentHsCode(code=c) for c in codes]
        changed["hs_codes"] = codes
    if changed:
        doc.updated_at = _now()
        audit.append(session, "document.describe", actor=actor, target_type="document", target_id=doc.id, ip=ip,
                     details=changed)
    return doc


def _date(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput("Dates are written YYYY-MM-DD.", field="issued_on") from exc


def set_published(session: Session, actor: Principal, document_ids: Iterable[int], published: bool,
                  *, ip: str | None = None) -> list[int]:
    changed = []
    for document_id in document_ids:
        doc = _editable(session, actor, document_id)
        if doc.published != published:
            doc.published, doc.updated_at = published, _now()
            changed.append(doc.id)
            audit.append(session, "document.publish" if published else "document.unpublish", actor=actor,
                         target_type="document", target_id=doc.id, ip=ip)
    return changed


def classify(session: Session, actor: Principal, document_id: int, level: str | int, reason: str,
             *, ip: str | None = None) -> ApprovalRequest | None:
    """Raising a level is immediate; lowering it files a request for a trade and a security approval."""
    doc = session.get(Document, document_id)
    if doc is None or not policy.may_read_document(actor, doc):
        raise NotFound("This document does not exist.")
    target = _level(level)
    decision = policy.may_classify(actor, doc, target)
    if not decision:
        raise Forbidden(decision.reason or "Not allowed.")
    why = validate.clean_text(reason, "reason", max_len=1000)
    before = Level(doc.level)
    if target == before:
        return None
    if target > before:
        doc.level, doc.updated_at = int(target), _now()
        audit.append(session, "document.classify", actor=actor, target_type="document", target_id=doc.id, ip=ip,
                     details={"from": before.name, "to": target.name, "reason": why})
        return None
    pending = select(ApprovalRequest.id).where(ApprovalRequest.document_id == doc.id,
                                               ApprovalRequest.status == RequestStatus.PENDING)
    if session.execute(pending).first():
        raise Conflict("This document already has a request waiting for approval.")
    req = ApprovalRequest(kind=RequestKind.DECLASSIFY, document_id=doc.id, requested_by_id=actor.user_id,
                          clearance=int(target), status=RequestStatus.PENDING, reason=why)
    session.add(req)
    session.flush()
    audit.append(session, "document.declassify_request", actor=actor, target_type="document", target_id=doc.id,
                 ip=ip, details={"request_id": req.id, "from": before.name, "to": target.name, "reason": why})
    return req


#: The worker's writes touch a document's own columns only: skip loading its tags, countries and codes.
_BARE = [lazyload("*")]


def record_progress(session: Session, version_id: int, step: str, progress: int) -> None:
    version = session.get(DocumentVersion, version_id)
    if version is not None:
        version.step, version.progress = step, max(0, min(100, progress))
        if version.state == "queued":
            version.state = "processing"
        doc = session.get(Document, version.document_id, options=_BARE)
        if doc is not None and doc.current_version_id is None:
            doc.status = "processing"


def record_ingest(session: Session, version_id: int, result: IngestResult) -> DocumentVersion:
    """Everything the pipeline found, in one transaction: pages, languages, suggestions, the new current
    version. Re-running replaces what an earlier run wrote, so it is idempotent. The worker records
    whole batches with `ingest_record.record_ingests`; this is the same for one version."""
    from entrepot.actions.ingest_record import record_ingests

    if not record_ingests(session, [(version_id, result)]):
        raise NotFound("No such version.")
    version = session.get(DocumentVersion, version_id, populate_existing=True)
    assert version is not None
    return version


def record_failure(session: Session, version_id: int, error: str, final: bool) -> None:
    version = session.get(DocumentVersion, version_id)
    if version is None:
        return
    version.error = error[:2000]
    version.state = "failed" if final else "queued"
    version.step = "failed" if final else "retrying"
    doc = session.get(Document, version.document_id, options=_BARE)
    if final and doc is not None and doc.current_version_id is None:
        doc.status = "failed"
