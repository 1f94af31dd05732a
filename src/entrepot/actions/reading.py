"""Reads of classified documents are written to the audit trail, in the request's own transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from entrepot import audit, policy
from entrepot.core.types import Level, Principal
from entrepot.db.library import Document


def record_read(session: Session, principal: Principal, doc: Document, what: str, *, ip: str | None,
                version: int | None = None, page: int | None = None) -> None:
    """`what` is view, preview or download. Only CONFIDENTIAL and SECRET reads are recorded."""
    if not policy.audited(doc):
        return
    details: dict[str, object] = {"level": Level(doc.level).name}
    if version is not None:
        details["version"] = version
    if page is not None:
        details["page"] = page
    audit.append(session, f"document.{what}", actor=principal, target_type="document", target_id=doc.id, ip=ip,
                 details=details)
