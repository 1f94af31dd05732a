"""Reads for reviewers: the flag queue and the archive as it stood at any moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from entrepot import policy
from entrepot.audit.chain import ARCHIVE_PREFIX
from entrepot.core.errors import NotFound
from entrepot.core.types import Principal
from entrepot.db.compliance import Flag, FlagNote, LexiconRule, TopicSetting
from entrepot.db.messaging import Conversation
from entrepot.db.tables import ArchiveRecord, Enterprise, User


@dataclass(frozen=True)
class FlagFilter:
    state: str | None = "open"
    severity: str | None = None
    rule_key: str | None = None
    enterprise_id: int | None = None
    sender: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def flags(session: Session, principal: Principal, f: FlagFilter,
          limit: int = 300) -> list[tuple[Flag, LexiconRule, User, Enterprise]]:
    query = (select(Flag, LexiconRule, User, Enterprise).join(LexiconRule, LexiconRule.id == Flag.rule_id)
             .join(User, User.id == Flag.sender_id).join(Enterprise, Enterprise.id == Flag.enterprise_id)
             .where(policy.review_clause(principal, Flag.enterprise_id)))
    if f.state:
        query = query.where(Flag.state == f.state)
    if f.severity:
        query = query.where(Flag.severity == f.severity)
    if f.rule_key:
        query = query.where(LexiconRule.key == f.rule_key)
    if f.enterprise_id:
        query = query.where(Flag.enterprise_id == f.enterprise_id)
    if f.sender:
        query = query.where(User.username == f.sender.lower())
    if f.since:
        query = query.where(Flag.created_at >= f.since)
    if f.until:
        query = query.where(Flag.created_at < f.until)
    return [tuple(r) for r in session.execute(query.order_by(Flag.id.desc()).limit(limit)).unique().all()]  # type: ignore[misc]


def flag(session: Session, principal: Principal, flag_id: int) -> Flag:
    """A flag of an enterprise the reviewer covers; any other is a 404."""
    row = session.execute(select(Flag).where(Flag.id == flag_id, policy.review_clause(principal, Flag.enterprise_id))
                          ).scalar_one_or_none()
    if row is None:
        raise NotFound("No such flag.")
    return row


def reviewable_enterprises(session: Session, principal: Principal) -> list[Enterprise]:
    return list(session.execute(select(Enterprise).where(policy.review_clause(principal, Enterprise.id))
                                .order_by(Enterprise.name)).scalars())


def conversation(session: Session, principal: Principal, conversation_id: int) -> Conversation:
    """The conversation a reviewer asks to read; one outside their scope is as missing (404), so
    its number tells nothing about another enterprise."""
    conv = session.get(Conversation, conversation_id)
    if conv is None or not policy.may_review_enterprise(session, principal, conv.enterprise_id):
        raise NotFound("No such conversation.")
    return conv


def notes(session: Session, flag_id: int) -> list[tuple[FlagNote, str]]:
    return [(n, name) for n, name in session.execute(
        select(FlagNote, User.username).join(User, User.id == FlagNote.author_id)
        .where(FlagNote.flag_id == flag_id).order_by(FlagNote.id)).all()]


def rules(session: Session, principal: Principal) -> list[LexiconRule]:
    """The rules the reviewer sees: those for everyone and those of the enterprises they cover."""
    return list(session.execute(select(LexiconRule).where(policy.rule_clause(principal, LexiconRule.enterprise_id))
                                .order_by(LexiconRule.active.desc(), LexiconRule.name,
                                          LexiconRule.version.desc())).scalars())


def rule_of(session: Session, flag: Flag) -> LexiconRule | None:
    """The rule (version) that raised a flag the reviewer may see: for everyone or the flag's enterprise."""
    return session.get(LexiconRule, flag.rule_id)


def topic_settings(session: Session, principal: Principal) -> list[tuple[Enterprise, TopicSetting | None]]:
    """Each enterprise the reviewer covers with its own off-topic settings (None: the deployment's)."""
    rows = session.execute(select(Enterprise, TopicSetting).outerjoin(TopicSetting, TopicSetting.enterprise_id
                                                                      == Enterprise.id)
                           .where(policy.review_clause(principal, Enterprise.id)).order_by(Enterprise.name)).all()
    return [(e, t) for e, t in rows]


def _pruned(mid: int, rec: ArchiveRecord, body: str | None) -> dict[str, Any]:
    """A message whose original record the retention job removed, known from a later edit or deletion."""
    return {"message_id": mid, "body": body, "kind": "text", "sender": rec.actor_name, "at": None, "history": [],
            "deleted_at": None, "original_removed": True}


def conversation_at(session: Session, conversation_id: int, at: datetime | None) -> list[dict[str, Any]]:
    """The conversation rebuilt from its archive up to `at`: every message with its edits and deletion."""
    query = select(ArchiveRecord).where(ArchiveRecord.chain == f"{ARCHIVE_PREFIX}{conversation_id}")
    if at is not None:
        query = query.where(ArchiveRecord.at <= at)
    messages: dict[int, dict[str, Any]] = {}
    for rec in session.execute(query.order_by(ArchiveRecord.seq)).scalars():
        d = rec.details or {}
        mid = d.get("message_id")
        if rec.action.startswith("message.") and rec.action not in ("message.edit", "message.delete") and mid:
            messages[mid] = {**d, "sender": rec.actor_name, "at": rec.at, "history": [], "deleted_at": None}
        elif rec.action == "message.edit" and mid:
            m = messages.setdefault(mid, _pruned(mid, rec, d.get("before")))
            m["history"].append({"at": rec.at, "before": d.get("before"), "after": d.get("after")})
            m["body"] = d.get("after")
        elif rec.action == "message.delete" and mid:
            messages.setdefault(mid, _pruned(mid, rec, d.get("body")))["deleted_at"] = rec.at
    return list(messages.values())
