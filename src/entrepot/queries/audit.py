"""The audit trail, filtered for auditors and administrators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entrepot import policy
from entrepot.core.types import Principal
from entrepot.db.tables import AuditRecord

PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1


def list_records(session: Session, principal: Principal, f: AuditFilter) -> tuple[list[AuditRecord], int]:
    query = select(AuditRecord).where(policy.audit_clause(principal))
    if f.action:
        query = query.where(AuditRecord.action.startswith(f.action, autoescape=True))
    if f.actor:
        query = query.where(AuditRecord.actor_name == f.actor.lower())
    if f.target_type:
        query = query.where(AuditRecord.target_type == f.target_type)
    if f.target_id:
        query = query.where(AuditRecord.target_id == f.target_id)
    if f.since:
        query = query.where(AuditRecord.at >= f.since)
    if f.until:
        query = query.where(AuditRecord.at < f.until)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(AuditRecord.id.desc()).limit(PAGE_SIZE)
                           .offset((max(f.page, 1) - 1) * PAGE_SIZE)).scalars()
    return list(rows), total


def action_names(session: Session, principal: Principal) -> list[str]:
    if not policy.allows(principal, policy.Action.AUDIT_VIEW):
        return []
    return list(session.execute(select(AuditRecord.action).distinct().order_by(AuditRecord.action)).scalars())
