"""The compliance archive: written in the same transaction as the change it records."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from entrepot import audit
from entrepot.audit.chain import ARCHIVE_PREFIX
from entrepot.core.types import Principal
from entrepot.db.memo import later_or_now
from entrepot.db.messaging import Message
from entrepot.db.tables import ArchiveRecord
from entrepot.search import messages as message_search


def chain_of(conversation_id: int) -> str:
    return f"{ARCHIVE_PREFIX}{conversation_id}"


#: In a session's `info`, a list that collects archive records instead of writing them one by one:
#: the group writer stores a whole batch's records at once (`store`), still in its transaction.
DEFERRED_RECORDS = "deferred_archive_records"
Pending = tuple[str, audit.Entry]  # (chain, record)


def record(session: Session, conversation_id: int, action: str, actor: Principal | None,
           details: dict[str, Any], message_id: int | None = None) -> None:
    """Append to the conversation's chain and index the record's text for reviewers' search."""
    pending = (chain_of(conversation_id),
               audit.Entry(action, "message" if message_id else "conversation", message_id or conversation_id,
                           details, actor))
    later_or_now(session, DEFERRED_RECORDS, pending, lambda records: store(session, records))


def store(session: Session, records: list[Pending]) -> None:
    """Records in order, each appended to its chain, then their texts indexed: a few statements for
    any number of records and conversations."""
    ids = audit.append_chained(session, records, model=ArchiveRecord)
    texts = [(record_id, e.action, e.details) for record_id, (_chain, e) in zip(ids, records, strict=True)]
    message_search.index_archive_records(session, texts)


def message_details(m: Message) -> dict[str, Any]:
    """Everything needed to show the message as it was: body, reply, attachment (by hash), quote."""
    return {"message_id": m.id, "client_id": m.client_id, "kind": m.kind, "body": m.body,
            "reply_to_id": m.reply_to_id, "attachment": m.attachment, "quote": m.quote, "duration_s": m.duration_s,
            "sent_at": m.created_at.isoformat() if m.created_at else None}
