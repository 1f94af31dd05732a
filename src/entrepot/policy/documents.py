"""Who may see, read, edit, classify and download documents; the same answers as SQL."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false

from entrepot.core.types import Level, Principal, Role
from entrepot.db.library import Document
from entrepot.policy.rules import ALLOW, Decision

LIBRARY_STAFF = frozenset({Role.LIBRARIAN, Role.CUSTODIAN})
#: Reads of documents at or above this level are written to the audit trail.
AUDITED_LEVEL = Level.CONFIDENTIAL


def is_library_staff(principal: Principal) -> bool:
    return principal.active and bool(principal.roles & LIBRARY_STAFF)


def may_read_document(principal: Principal | None, doc: Document) -> bool:
    """Never above the clearance; unpublished documents only for the library staff."""
    if principal is None or not principal.active or doc.level > principal.clearance:
        return False
    return doc.published or is_library_staff(principal)


def document_clause(principal: Principal | None) -> ColumnElement[bool]:
    """`may_read_document` as SQL: lists, counts, facets and search all carry it."""
    if principal is None or not principal.active:
        return false()
    within = Document.level <= int(principal.clearance)
    return within if is_library_staff(principal) else and_(within, Document.published.is_(True))


def may_edit_document(principal: Principal, doc: Document) -> Decision:
    if not is_library_staff(principal):
        return Decision(False, "Only librarians and custodians can change documents.")
    if doc.level > principal.clearance:
        return Decision(False, "This document does not exist.")
    return ALLOW


def may_classify(principal: Principal, doc: Document, level: Level) -> Decision:
    """Custodians set levels up to their own clearance. Lowering takes two approvals (see actions)."""
    if not principal.active or not principal.has(Role.CUSTODIAN):
        return Decision(False, "Only custodians can change a classification.")
    if doc.level > principal.clearance:
        return Decision(False, "This document does not exist.")
    if level > principal.clearance:
        return Decision(False, "You cannot classify above your own clearance.")
    return ALLOW


def may_download_original(principal: Principal, doc: Document, secret_downloads: bool) -> Decision:
    if not may_read_document(principal, doc):
        return Decision(False, "This document does not exist.")
    if doc.level >= Level.SECRET and not secret_downloads:
        return Decision(False, "Originals of SECRET documents cannot be downloaded; read them online.")
    return ALLOW


def audited(doc: Document) -> bool:
    return doc.level >= AUDITED_LEVEL
