"""Messenger reads, always through the policy's conversation clause."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from entrepot import policy
from entrepot.core.types import Principal
from entrepot.db.messaging import Conversation, Member, Message, UserEvent
from entrepot.db.tables import User
from entrepot.messaging import events
from entrepot.messaging.previews import reply_preview


def events_after(session: Session, user_id: int, seq: int, limit: int = 500) -> list[UserEvent]:
    return list(session.execute(select(UserEvent).where(UserEvent.user_id == user_id, UserEvent.seq > seq)
                                .order_by(UserEvent.seq).limit(limit)).scalars())


def last_seq(session: Session, user_id: int) -> int:
    return int(session.execute(select(func.coalesce(func.max(UserEvent.seq), 0))
                               .where(UserEvent.user_id == user_id)).scalar_one())


def display_name(session: Session, user_id: int) -> str:
    return session.execute(select(User.display_name).where(User.id == user_id)).scalar_one_or_none() or ""


def my_conversation_ids(session: Session, principal: Principal) -> set[int]:
    return set(session.execute(select(Conversation.id).where(policy.conversation_clause(principal))).scalars())


def deliverable(event: UserEvent, conversation_ids: set[int]) -> bool:
    """Delivery asks the policy again: an event about a conversation the user may no longer use is
    not sent (a member moved to another enterprise or removed stops receiving at once)."""
    return events.deliverable(event.type, event.payload, conversation_ids)


@dataclass
class ConversationRow:
    conversation: Conversation
    title: str
    last_message: Message | None
    unread: int


def conversations(session: Session, principal: Principal, limit: int = 200) -> list[ConversationRow]:
    """The principal's conversations, last activity first, each with its unread count: one query for
    the list and counts, one for the newest messages, one for the names of untitled ones."""
    me = aliased(Member)
    unread = (select(func.count()).select_from(Message)
              .where(Message.conversation_id == Conversation.id, Message.id > me.read_up_to,
                     Message.sender_id != principal.user_id, Message.deleted_at.is_(None))
              .correlate(Conversation, me).scalar_subquery())
    newest = (select(func.max(Message.id)).where(Message.conversation_id == Conversation.id)
              .correlate(Conversation).scalar_subquery())
    rows = session.execute(
        select(Conversation, unread, newest)
        .join(me, and_(me.conversation_id == Conversation.id, me.user_id == principal.user_id))
        .where(policy.conversation_clause(principal))
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(limit)).all()
    last_ids = [n for _c, _u, n in rows if n]
    lasts = {m.id: m for m in session.execute(select(Message).where(Message.id.in_(last_ids))).scalars()} \
        if last_ids else {}
    titles = titles_of(session, [c for c, _u, _n in rows], principal)
    return [ConversationRow(c, titles[c.id], lasts.get(n) if n else None, int(u or 0)) for c, u, n in rows]


def titles_of(session: Session, convs: list[Conversation], principal: Principal) -> dict[int, str]:
    """Each conversation's name, or for an unnamed one the other current members' names."""
    untitled = [c.id for c in convs if not c.title]
    names: dict[int, list[str]] = {}
    if untitled:
        for conv_id, name in session.execute(
                select(Member.conversation_id, User.display_name).join(User, User.id == Member.user_id)
                .where(Member.conversation_id.in_(untitled), Member.left_at.is_(None),
                       User.id != principal.user_id)).all():
            names.setdefault(conv_id, []).append(name)
    return {c.id: c.title or ", ".join(sorted(names.get(c.id, []))) or "—" for c in convs}


def title_of(session: Session, conv: Conversation, principal: Principal) -> str:
    return titles_of(session, [conv], principal)[conv.id]


@dataclass
class MemberRow:
    user_id: int
    name: str
    read_up_to: int
    delivered_up_to: int


def members(session: Session, conversation_id: int) -> list[MemberRow]:
    """Current members with their receipts (the caller has checked the viewer is one of them)."""
    rows = session.execute(select(Member, User.display_name).join(User, User.id == Member.user_id)
                           .where(Member.conversation_id == conversation_id, Member.left_at.is_(None))
                           .order_by(User.display_name)).all()
    return [MemberRow(m.user_id, name, int(m.read_up_to), int(m.delivered_up_to)) for m, name in rows]


def reply_previews(session: Session, messages: list[Message]) -> dict[int, dict[str, Any]]:
    """Previews of the messages these reply to, by parent id, limited to the same conversation."""
    wanted = {m.reply_to_id: m.conversation_id for m in messages if m.reply_to_id}
    if not wanted:
        return {}
    rows = session.execute(select(Message, User.display_name).join(User, User.id == Message.sender_id)
                           .where(Message.id.in_(list(wanted)))).all()
    return {p.id: reply_preview(p, name) for p, name in rows  # type: ignore[misc]
            if wanted.get(p.id) == p.conversation_id}


def history(session: Session, conversation_id: int, before_id: int | None = None, limit: int = 50
            ) -> list[tuple[Message, str]]:
    query = (select(Message, User.display_name).join(User, User.id == Message.sender_id)
             .where(Message.conversation_id == conversation_id))
    if before_id:
        query = query.where(Message.id < before_id)
    rows = session.execute(query.order_by(Message.id.desc()).limit(limit)).all()
    return [(m, name) for m, name in reversed(rows)]


def read_marks(session: Session, conversation_id: int) -> dict[int, int]:
    return dict(session.execute(select(Member.user_id, Member.read_up_to).where(
        and_(Member.conversation_id == conversation_id, Member.left_at.is_(None)))).all())
