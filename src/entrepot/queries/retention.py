"""Reads for retention: legal holds and exports within a reviewer's scope, periods for administrators,
and what the retention job has cut from a conversation's chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from entrepot import policy
from entrepot.audit.chain import ARCHIVE_PREFIX, MAIN_CHAIN, PRUNE_ACTION
from entrepot.core.types import Principal
from entrepot.db.messaging import Conversation
from entrepot.db.retention import DEFAULT_RETENTION_DAYS, ExportJob, LegalHold, RetentionPolicy
from entrepot.db.tables import AuditRecord, ChainHead, Enterprise, User


@dataclass(frozen=True)
class HoldRow:
    hold: LegalHold
    target: str  # "@username" or "#conversation"
    enterprise: str
    placed_by: str
    released_by: str | None


def holds(session: Session, principal: Principal, limit: int = 500) -> list[HoldRow]:
    """Holds in force first, then released ones; only those of enterprises the reviewer covers."""
    placer, releaser, held = aliased(User), aliased(User), aliased(User)
    query = (select(LegalHold, held.username, Conversation.title, Enterprise.name, placer.username, releaser.username)
             .join(Enterprise, Enterprise.id == LegalHold.enterprise_id)
             .join(placer, placer.id == LegalHold.placed_by_id)
             .outerjoin(releaser, releaser.id == LegalHold.released_by_id)
             .outerjoin(held, held.id == LegalHold.user_id)
             .outerjoin(Conversation, Conversation.id == LegalHold.conversation_id)
             .where(policy.review_clause(principal, LegalHold.enterprise_id))
             .order_by(LegalHold.released_at.is_not(None), LegalHold.id.desc()).limit(limit))
    rows = []
    for hold, username, title, enterprise, placed_by, released_by in session.execute(query).all():
        if hold.user_id is not None:
            target = f"@{username}"
        else:
            target = f"#{hold.conversation_id}" + (f" {title}" if title else "")
        rows.append(HoldRow(hold, target, enterprise, placed_by, released_by))
    return rows


def exports(session: Session, principal: Principal, limit: int = 50) -> list[ExportJob]:
    return list(session.execute(select(ExportJob).where(ExportJob.requested_by_id == principal.user_id)
                                .order_by(ExportJob.id.desc()).limit(limit)).scalars())


@dataclass(frozen=True)
class PeriodRow:
    enterprise: Enterprise
    days: int
    is_default: bool
    set_at: datetime | None
    set_by: str | None


def periods(session: Session) -> list[PeriodRow]:
    query = (select(Enterprise, RetentionPolicy, User.username)
             .outerjoin(RetentionPolicy, RetentionPolicy.enterprise_id == Enterprise.id)
             .outerjoin(User, User.id == RetentionPolicy.set_by_id).order_by(Enterprise.name))
    return [PeriodRow(e, p.days if p else DEFAULT_RETENTION_DAYS, p is None, p.set_at if p else None, who)
            for e, p, who in session.execute(query).unique().all()]


def last_runs(session: Session, limit: int = 5) -> list[AuditRecord]:
    return list(session.execute(select(AuditRecord).where(AuditRecord.chain == MAIN_CHAIN,
                                                          AuditRecord.action == "retention.run")
                                .order_by(AuditRecord.seq.desc()).limit(limit)).scalars())


def cut_of(session: Session, conversation_id: int) -> dict[str, Any] | None:
    """How much of the conversation's chain the retention job removed, and when it last did."""
    chain = f"{ARCHIVE_PREFIX}{conversation_id}"
    head = session.get(ChainHead, chain)
    if head is None or not head.base_seq:
        return None
    last = session.execute(select(AuditRecord.at).where(
        AuditRecord.chain == MAIN_CHAIN, AuditRecord.action == PRUNE_ACTION, AuditRecord.target_id == chain)
        .order_by(AuditRecord.seq.desc()).limit(1)).scalar()
    return {"records": head.base_seq, "at": last}
