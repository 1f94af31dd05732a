"""Retention periods (administrators) and legal holds (compliance reviewers), all audited.

The run that removes expired records lives in `entrepot.compliance.retention`; nothing here removes
or changes an archive record.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entrepot import audit, policy
from entrepot.actions import validate
from entrepot.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from entrepot.core.messages import N_
from entrepot.core.types import Principal
from entrepot.db.messaging import Conversation
from entrepot.db.retention import DEFAULT_RETENTION_DAYS, LegalHold, RetentionPolicy
from entrepot.db.tables import Enterprise, User

MIN_DAYS, MAX_DAYS = 1, 36_500
HOLD_KINDS = ("user", "conversation")
TARGET_KINDS = ("conversation", "user", "enterprise")


_MISSING = {"conversation": N_("No such conversation."), "user": N_("No such user."),
            "enterprise": N_("No such enterprise.")}


def resolve_target(session: Session, actor: Principal, kind: str, target: str | int) -> tuple[int, int]:
    """(id, enterprise id) of a conversation (by number), a user (by username or number) or an
    enterprise (by name or number) within the reviewer's scope. Unknown targets and targets outside
    the scope are the same 404: the answer must not tell what exists in another enterprise."""
    if kind not in _MISSING:
        raise InvalidInput("Choose a conversation, a user or an enterprise.", field="scope")
    found = _lookup(session, kind, target)
    if found is None or not policy.may_review_enterprise(session, actor, found[1]):
        raise NotFound(_MISSING[kind])
    return found


def _lookup(session: Session, kind: str, target: str | int) -> tuple[int, int] | None:
    text = str(target).strip().lstrip("#")
    number = int(text) if text.isdigit() and len(text) < 12 else None
    if kind == "conversation":
        conv = session.get(Conversation, number) if number is not None else None
        return (conv.id, conv.enterprise_id) if conv is not None else None
    if kind == "user":
        row = session.execute(select(User.id, User.enterprise_id).where(User.username == text.lower())).first()
        if row is None and number is not None:  # usernames may be digits too: the name wins
            row = session.execute(select(User.id, User.enterprise_id).where(User.id == number)).first()
        return (int(row[0]), int(row[1])) if row is not None else None
    clause = Enterprise.id == number if number is not None else func.lower(Enterprise.name) == text.lower()
    eid = session.execute(select(Enterprise.id).where(clause)).scalar()
    return (int(eid), int(eid)) if eid is not None else None


def retention_days(session: Session, enterprise_id: int) -> int:
    row = session.get(RetentionPolicy, enterprise_id)
    return row.days if row is not None else DEFAULT_RETENTION_DAYS


def set_retention(session: Session, actor: Principal, enterprise_id: int, days: int | str,
                  *, ip: str | None = None) -> RetentionPolicy:
    """An administrator sets how long an enterprise's archive is kept; the next run applies it."""
    if not policy.allows(actor, policy.Action.ENTERPRISES_ADMIN):
        raise Forbidden("Only administrators can set retention periods.")
    if session.get(Enterprise, enterprise_id) is None:
        raise NotFound("No such enterprise.")
    try:
        value = int(str(days).strip())
    except ValueError:
        value = 0
    if not MIN_DAYS <= value <= MAX_DAYS:
        raise InvalidInput("A retention period is between %(min)s and %(max)s days.", field="days",
                           min=MIN_DAYS, max=MAX_DAYS)
    before = retention_days(session, enterprise_id)
    row = session.get(RetentionPolicy, enterprise_id) or RetentionPolicy(enterprise_id=enterprise_id)
    row.days, row.set_by_id, row.set_at = value, actor.user_id, datetime.now(UTC)
    session.add(row)
    session.flush()
    audit.append(session, "retention.set", actor=actor, target_type="enterprise", target_id=enterprise_id, ip=ip,
                 details={"before_days": before, "days": value})
    return row


def place_hold(session: Session, actor: Principal, kind: str, target: str | int, reason: str,
               *, ip: str | None = None) -> LegalHold:
    """Keep a user's conversations, or one conversation, out of every retention run until released."""
    if not policy.allows(actor, policy.Action.REVIEW):
        raise Forbidden("Only compliance reviewers can do this.")
    if kind not in HOLD_KINDS:
        raise InvalidInput("A legal hold covers a user or a conversation.", field="kind")
    text = validate.clean_text(reason, "reason", max_len=2000)
    target_id, enterprise_id = resolve_target(session, actor, kind, target)
    column = LegalHold.user_id if kind == "user" else LegalHold.conversation_id
    if session.execute(select(LegalHold.id).where(column == target_id, LegalHold.released_at.is_(None))).first():
        raise Conflict("This is already under a legal hold.")
    hold = LegalHold(enterprise_id=enterprise_id, reason=text, placed_by_id=actor.user_id,
                     user_id=target_id if kind == "user" else None,
                     conversation_id=target_id if kind == "conversation" else None)
    session.add(hold)
    session.flush()
    audit.append(session, "hold.place", actor=actor, target_type=kind, target_id=target_id, ip=ip,
                 details={"hold_id": hold.id, "reason": text})
    return hold


def release_hold(session: Session, actor: Principal, hold_id: int, reason: str, *, ip: str | None = None) -> LegalHold:
    if not policy.allows(actor, policy.Action.REVIEW):
        raise Forbidden("Only compliance reviewers can do this.")
    hold = session.execute(select(LegalHold).where(
        LegalHold.id == hold_id, policy.review_clause(actor, LegalHold.enterprise_id))).scalar_one_or_none()
    if hold is None:
        raise NotFound("No such legal hold.")
    if hold.released_at is not None:
        raise Conflict("This legal hold was already released.")
    text = validate.clean_text(reason, "reason", max_len=2000)
    hold.released_at, hold.released_by_id, hold.release_reason = datetime.now(UTC), actor.user_id, text
    kind, target_id = ("user", hold.user_id) if hold.user_id is not None else ("conversation", hold.conversation_id)
    audit.append(session, "hold.release", actor=actor, target_type=kind, target_id=target_id, ip=ip,
                 details={"hold_id": hold.id, "reason": text})
    return hold
