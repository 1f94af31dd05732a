"""The compliance archive: written in the same transaction as the change it records."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from entrepot import audit
from entrepot.audit.chain import ARCHIVE_PREFIX
from entrepot.core.types import Principal
from entrepot.db.messaging import Message
from entrepot.db.tables import ArchiveRecord
from entrepot.search import messages as message_search


def chain_of(conversation_id: int) -> str:
    return f"{ARCHIVE_PREFIX}{conversation_id}"


def record(session: Session, conversation_id: int, action: str, actor: Principal | None,
           details: dict[str, Any], message_id: int | None = None) -> None:
    """Append to the conversation's chain and index the record's text for reviewers' search."""
    record_id = audit.append(session, action, actor=actor, target_type="message" if message_id else "conversation",
                             target_id=message_id or conversation_id, details=details,
                             chain=chain_of(conversation_id), model=ArchiveRecord)
    message_search.index_archive_record(session, record_id, action, details)


def message_details(m: Message) -> dict[str, Any]:
    """Everything needed to show the message as it was: body, reply, attachment (by hash), quote."""
    return {"message_id": m.id, "client_id": m.client_id, "kind": m.kind, "body": m.body,
            "reply_to_id": m.reply_to_id, "attachment": m.attachment, "quote": m.quote, "duration_s": m.duration_s,
            "sent_at": m.created_at.isoformat() if m.created_at else None}
