"""The messenger's WebSocket vocabulary with the policy decision behind each word.

Three registries: the frames a page may send (`CLIENT_FRAMES`), the event types a user's log may hold
(`EVENT_TYPES`, written by `actions.messaging.emit`) and the frames the server sends (`SERVER_FRAMES`).
The connection refuses a client frame that is not registered and never delivers an event type that is
not, so a type added without a policy decision here does nothing, and the authorisation matrix
(tests/test_authorization_events.py) enumerates these registries and fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from entrepot import policy


@dataclass(frozen=True)
class ClientFrame:
    #: The route-level decision: the socket only opens (and stays open) while this is allowed.
    action: policy.Action
    #: Also decided per object by `policy.may_use_conversation` for the conversation the frame names.
    per_conversation: bool
    #: Counts against the connection's write budget.
    writes: bool


@dataclass(frozen=True)
class EventType:
    """How delivery decides: `conversation_key` names the payload field holding the conversation id,
    and the event goes out only while the user may use that conversation (`policy.conversation_clause`).
    None: the event concerns the log's owner alone and names no conversation they could still read
    (being removed from one), so it is delivered to that owner only, as written."""

    conversation_key: str | None


MESSAGING = policy.Action.MESSAGING

CLIENT_FRAMES: Mapping[str, ClientFrame] = {
    "ping": ClientFrame(MESSAGING, per_conversation=False, writes=False),
    "pong": ClientFrame(MESSAGING, per_conversation=False, writes=False),
    "ack": ClientFrame(MESSAGING, per_conversation=False, writes=False),  # marks checked in mark_delivered
    "typing": ClientFrame(MESSAGING, per_conversation=True, writes=False),
    "send": ClientFrame(MESSAGING, per_conversation=True, writes=True),
    "quote": ClientFrame(MESSAGING, per_conversation=True, writes=True),
    "read": ClientFrame(MESSAGING, per_conversation=True, writes=True),
}

EVENT_TYPES: Mapping[str, EventType] = {
    "conversation": EventType("id"),
    "members": EventType("conversation_id"),
    "conversation.removed": EventType(None),
    "message": EventType("conversation_id"),
    "message.edited": EventType("conversation_id"),
    "message.deleted": EventType("conversation_id"),
    "read": EventType("conversation_id"),
    "delivered": EventType("conversation_id"),
}

#: Frames the server sends; `event` carries one of EVENT_TYPES, `typing` is checked per conversation
#: by the receiving connection before it goes out.
SERVER_FRAMES = frozenset({"event", "sent", "typing", "error", "ping", "pong"})

WRITES = frozenset(name for name, frame in CLIENT_FRAMES.items() if frame.writes)


def deliverable(event_type: str, payload: dict[str, Any] | None, conversation_ids: set[int]) -> bool:
    """Whether an event of the user's own log may go out now, given the conversations they may use.
    Unregistered types never do (fail closed)."""
    spec = EVENT_TYPES.get(event_type)
    if spec is None:
        return False
    if spec.conversation_key is None:
        return True
    conv = (payload or {}).get(spec.conversation_key)
    return isinstance(conv, int) and conv in conversation_ids
