"""Messenger reads, always through the policy's conversation clause."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from entrepot import policy
from entrepot.core.types import Principal
from entrepot.db.messaging import Conversation, Member, Message, UserEvent
from entrepot.db.tables import User


def events_after(session: Session, user_id: int, seq: int, limit: int = 500) -> list[UserEvent]:
    return list(session.execute(select(UserEvent).where(UserEvent.user_id == user_id, UserEvent.seq > seq)
                                .order_by(UserEvent.seq).limit(limit)).scalars())


def last_seq(session: Session, user_id: int) -> int:
    return int(session.execute(select(func.coalesce(func.max(UserEvent.seq), 0))
                               .where(UserEvent.user_id == user_id)).scalar_one())


def my_conversation_ids(session: Session, principal: Principal) -> set[int]:
    return set(session.execute(select(Conversation.id).where(policy.conversation_clause(principal))).scalars())


def deliverable(event: UserEvent, conversation_ids: set[int]) -> bool:
    """Delivery asks the policy again: an event about a conversation the user may no longer use is
    not sent (a member moved to another enterprise or removed stops receiving at once)."""
    payload: dict[str, Any] = event.payload or {}
    conv = payload.get("conversation_id", payload.get("id") if event.type == "conversation" else None)
    return conv is None or conv in conversation_ids


@dataclass
class ConversationRow:
    conversation: Conversation
    title: str
    last_message: Message | None
    unread: int


def conversations(session: Session, principal: Principal) -> list[ConversationRow]:
    convs = session.execute(select(Conversation).where(policy.conversation_clause(principal))
                            .order_by(Conversation.last_activity_at.desc()).limit(200)).scalars().all()
    rows = []
    for c in convs:
        me = session.get(Member, (c.id, principal.user_id))
        last = session.execute(select(Message).where(Message.conversation_id == c.id)
                               .order_by(Message.id.desc()).limit(1)).scalar_one_or_none()
        unread = session.execute(select(func.count()).select_from(Message).where(
            Message.conversation_id == c.id, Message.id > (me.read_up_to if me else 0),
            Message.sender_id != principal.user_id)).scalar_one()
        rows.append(ConversationRow(c, title_of(session, c, principal), last, int(unread)))
    return rows


def title_of(session: Session, conv: Conversation, principal: Principal) -> str:
    if conv.title:
        return conv.title
    names = session.execute(select(User.display_name).join(Member, Member.user_id == User.id).where(
        Member.conversation_id == conv.id, Member.left_at.is_(None), User.id != principal.user_id)).scalars().all()
    return ", ".join(sorted(names)) or "—"


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
