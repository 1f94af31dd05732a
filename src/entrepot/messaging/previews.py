"""The quoted line above a reply, shared by the event a reply sends and the history that lists it."""

from __future__ import annotations

from typing import Any

from entrepot.db.messaging import Message

EXCERPT = 140


def reply_preview(parent: Message | None, sender_name: str | None) -> dict[str, Any] | None:
    """Who wrote the parent and its first words; nothing of its text once it is deleted."""
    if parent is None:
        return None
    if parent.deleted_at is not None:
        excerpt = ""
    else:
        excerpt = (parent.body or (parent.attachment or {}).get("name")
                   or (parent.quote or {}).get("product") or "")
    return {"id": parent.id, "sender": sender_name, "excerpt": str(excerpt)[:EXCERPT],
            "deleted": parent.deleted_at is not None}
