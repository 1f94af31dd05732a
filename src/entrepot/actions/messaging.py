"""Messenger writes. Each runs in the caller's transaction; members learn of it through their event
logs, and the wake-up for their connections is sent only after commit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from entrepot import audit, policy
from entrepot.actions import archive, compliance, validate
from entrepot.core.errors import Forbidden, InvalidInput, NotFound
from entrepot.core.messages import N_
from entrepot.core.types import Principal
from entrepot.db.claims import claim_rows
from entrepot.db.memo import later_or_now
from entrepot.db.messaging import Conversation, EventCounter, Member, Message, UserEvent
from entrepot.db.tables import User
from entrepot.messaging.previews import reply_preview
from entrepot.messaging.richtext import rich
from entrepot.search import messages as message_search

MAX_BODY = 8000
MAX_MEMBERS = 200


def _now() -> datetime:
    return datetime.now(UTC)


#: In a session's `info`, a list that collects emitted events instead of writing them one by one;
#: the group writer numbers and stores a whole batch's events at once (`store_events`).
DEFERRED_EVENTS = "deferred_events"
Event = tuple[list[int], str, dict[str, Any]]  # (user ids, event type, payload)
#: In a session's `info`, the conversations whose last activity a batch of sends moves to its time.
DEFERRED_TOUCHES = "deferred_touches"
#: Every list a group writer's batch collects (see `defer_writes`).
DEFERRED = (message_search.DEFERRED_ROWS, archive.DEFERRED_RECORDS, DEFERRED_TOUCHES, DEFERRED_EVENTS)


def defer_writes(session: Session) -> None:
    """From now on, new messages' index rows, archive records and events wait in the session's `info`
    until `store_deferred`: a batch of sends writes each kind in a few statements, not a few per send.
    Nothing in the batch may read them back before that (none of the messenger's writes does)."""
    for key in DEFERRED:
        session.info[key] = []


def store_deferred(session: Session) -> None:
    """Write what `defer_writes` collected, in the same transaction; later writes are direct again."""
    message_search.message_index(session).add(session, session.info.pop(message_search.DEFERRED_ROWS))
    archive.store(session, session.info.pop(archive.DEFERRED_RECORDS))
    _touch_all(session, session.info.pop(DEFERRED_TOUCHES))
    store_events(session, session.info.pop(DEFERRED_EVENTS))


def emit(session: Session, user_ids: Iterable[int], type_: str, payload: dict[str, Any]) -> None:
    """Append an event to each user's log, numbered per user; wake their connections after commit."""
    users = sorted(set(user_ids))
    if not users:
        return
    later_or_now(session, DEFERRED_EVENTS, (users, type_, payload), lambda events: store_events(session, events))


def store_events(session: Session, events: list[Event]) -> None:
    """Number and store events in order: a few Core statements for any number of events and members
    (counters read and locked at once, raised in one executemany, the rows in another). Each event
    goes to `info["emitted"]` with its numbers, for the fan-out after commit."""
    counts = Counter(uid for users, _type, _payload in events for uid in users)
    if not counts:
        return
    last = _reserve_seqs(session, counts)
    now, rows = _now(), []
    emitted = session.info.setdefault("emitted", [])
    for users, type_, payload in events:
        seqs = {}
        for uid in users:
            last[uid] = seqs[uid] = last[uid] + 1
            rows.append({"user_id": uid, "seq": seqs[uid], "type": type_, "payload": payload, "created_at": now})
        emitted.append((type_, payload, seqs))
    session.execute(insert(cast(Table, UserEvent.__table__)), rows)
    bus = session.info.get("bus")
    if bus is not None and not session.info.get("push"):  # "push": the group writer's fan-out delivers
        woken = sorted(counts)
        session.info.setdefault("after_commit", []).append(lambda: bus.notify(woken))


def _reserve_seqs(session: Session, counts: Counter[int]) -> dict[int, int]:
    """Raise each user's event counter by `counts[user]` (created on first use) and return the values
    before; the counters stay locked until commit (db.claims)."""
    counters = cast(Table, EventCounter.__table__)
    found = claim_rows(session, counters, counters.c.user_id, [counters.c.last_seq], counts,
                       lambda uid: {"user_id": uid, "last_seq": 0})
    last = {int(uid): int(seq) for uid, (seq,) in found.items()}
    raise_ = update(counters).where(counters.c.user_id == bindparam("uid")).values(last_seq=bindparam("seq"))
    session.execute(raise_, [{"uid": u, "seq": last[u] + counts[u]} for u in sorted(counts)])
    return last


def message_payload(m: Message, sender_name: str | None = None,
                    reply: dict[str, Any] | None = None) -> dict[str, Any]:
    """What members see of a message; `rich` is its formatting as plain data (see messaging.richtext)
    and `reply_to` a short preview of the message it answers."""
    body = "" if m.deleted_at else m.body
    return {"id": m.id, "conversation_id": m.conversation_id, "sender_id": m.sender_id,
            "sender": sender_name, "client_id": m.client_id, "kind": m.kind,
            "body": body, "rich": rich(body), "reply_to_id": m.reply_to_id, "reply_to": reply,
            "attachment": m.attachment, "quote": m.quote, "duration_s": m.duration_s,
            "created_at": m.created_at.isoformat(), "edited": m.edited_at is not None,
            "deleted": m.deleted_at is not None}


def reply_of(session: Session, m: Message) -> dict[str, Any] | None:
    if m.reply_to_id is None:
        return None
    parent = session.get(Message, m.reply_to_id)
    sender = session.get(User, parent.sender_id) if parent else None
    return reply_preview(parent, sender.display_name if sender else None)


def _member_ids(session: Session, conversation_id: int) -> list[int]:
    session.flush()  # membership changed in this session counts (cheap when nothing is pending)
    members = cast(Table, Member.__table__)  # Core: a lookup on every send, without the ORM's cost
    return list(session.execute(select(members.c.user_id).where(members.c.conversation_id == conversation_id,
                                                                members.c.left_at.is_(None))).scalars())


def usable_conversation(session: Session, actor: Principal, conversation_id: int) -> tuple[Conversation, Member]:
    conv = session.get(Conversation, conversation_id)
    member = session.get(Member, (conversation_id, actor.user_id)) if conv else None
    check_use(actor, conv, member)
    assert conv is not None and member is not None
    return conv, member


def check_use(actor: Principal, conv: policy.OfEnterprise | None, member: policy.Membership | None) -> None:
    if conv is None or not policy.may_use_conversation(actor, conv, member):
        if conv is not None and policy.has_left(actor, conv, member):
            raise Forbidden("You are no longer a member of this conversation.")
        raise NotFound("No such conversation.")


def touch(session: Session, conversation_id: int) -> None:
    """A message makes its conversation the most recently active (the conversation list's order)."""
    later_or_now(session, DEFERRED_TOUCHES, conversation_id, lambda ids: _touch_all(session, ids))


def _touch_all(session: Session, conversation_ids: list[int]) -> None:
    if conversation_ids:
        convs = cast(Table, Conversation.__table__)
        session.execute(update(convs).where(convs.c.id == bindparam("cid")).values(last_activity_at=_now()),
                        [{"cid": cid} for cid in sorted(set(conversation_ids))])


def _check_partner(session: Session, actor: Principal, user_id: int, ip: str | None,
                   conversation: Conversation | None = None) -> User:
    """Refusals are audited: starting a conversation as "message.refused", adding to a group as
    "conversation.member_refused"."""
    other = session.get(User, user_id)
    if conversation is None:
        decision = policy.may_message(actor, other) if other else None
    else:
        decision = policy.may_add_member(actor, conversation, other) if other else None
    if other is None or decision is None or not decision:  # a refusal is falsy: test for None
        details: dict[str, Any] = {"reason": decision.reason if decision is not None else "no such user"}
        if conversation is not None:
            details["conversation_id"] = conversation.id
        action = "conversation.member_refused" if conversation else "message.refused"
        audit.append(session, action, actor=actor, target_type="user", target_id=user_id, ip=ip, details=details)
        raise Forbidden(decision.reason if decision is not None and decision.reason
                        else "You can only message users of your own enterprise.")
    return other


def start_conversation(session: Session, actor: Principal, user_ids: list[int], title: str | None = None,
                       *, ip: str | None = None) -> Conversation:
    """A direct conversation with one colleague (reused if it exists) or a named group."""
    if not policy.may_participate(actor):
        raise Forbidden("Your account cannot use the messenger.")
    others = sorted(set(user_ids) - {actor.user_id})
    if not others or len(others) > MAX_MEMBERS:
        raise InvalidInput("Choose between 1 and %(n)s people.", field="user_ids", n=MAX_MEMBERS)
    for uid in others:
        _check_partner(session, actor, uid, ip)
    name = validate.clean_text(title, "title", max_len=200, required=False) or None
    if len(others) == 1 and not name:
        key = f"{min(actor.user_id, others[0])}:{max(actor.user_id, others[0])}"
        existing = session.execute(select(Conversation).where(Conversation.direct_key == key)).scalar_one_or_none()
        if existing is not None:
            return existing
        conv = Conversation(enterprise_id=actor.enterprise_id, kind="direct", owner_id=actor.user_id, direct_key=key)
    else:
        conv = Conversation(enterprise_id=actor.enterprise_id, kind="group", owner_id=actor.user_id,
                            title=name or None)
    session.add(conv)
    session.flush()
    session.add_all(Member(conversation_id=conv.id, user_id=uid) for uid in [actor.user_id, *others])
    session.flush()
    archive.record(session, conv.id, "conversation.create", actor,
                   {"kind": conv.kind, "title": conv.title, "members": [actor.user_id, *others],
                    "enterprise_id": conv.enterprise_id})
    emit(session, [actor.user_id, *others], "conversation", {"id": conv.id, "kind": conv.kind, "title": conv.title})
    return conv


def _member_message(session: Session, actor: Principal, message_id: int, missing: str) -> Message:
    """The message if the actor is a current member of its conversation. A message of a conversation
    they are not in is answered as a missing one: an id must not tell that the message exists."""
    msg = session.get(Message, message_id)
    if msg is None:
        raise NotFound(missing)
    try:
        usable_conversation(session, actor, msg.conversation_id)
    except NotFound:
        raise NotFound(missing) from None
    return msg


def attachment_for(session: Session, actor: Principal, message_id: int) -> Message:
    """The message holding an attachment, if the actor is a current member of its conversation."""
    msg = _member_message(session, actor, message_id, N_("No such attachment."))
    if msg.attachment is None or msg.deleted_at is not None:
        raise NotFound("No such attachment.")
    return msg


def _own_message(session: Session, actor: Principal, message_id: int) -> Message:
    msg = _member_message(session, actor, message_id, N_("No such message."))
    if msg.sender_id != actor.user_id or msg.deleted_at is not None:
        raise Forbidden("You can only change your own messages.")
    return msg


def edit_message(session: Session, actor: Principal, message_id: int, body: str) -> Message:
    msg = _own_message(session, actor, message_id)
    before = msg.body
    msg.body, msg.edited_at = validate.clean_text(body, "body", max_len=MAX_BODY), _now()
    archive.record(session, msg.conversation_id, "message.edit", actor,
                   {"message_id": msg.id, "before": before, "after": msg.body}, msg.id)
    compliance.screen_edit(session, msg, before)  # after the record: a flag names it as its context
    message_search.index_message(session, msg)
    emit(session, _member_ids(session, msg.conversation_id), "message.edited",
         message_payload(msg, actor.display_name, reply_of(session, msg)))
    return msg


def delete_message(session: Session, actor: Principal, message_id: int) -> Message:
    msg = _own_message(session, actor, message_id)
    msg.deleted_at = _now()
    archive.record(session, msg.conversation_id, "message.delete", actor, {"message_id": msg.id, "body": msg.body},
                   msg.id)
    message_search.index_message(session, msg)  # a deleted message leaves the members' index
    emit(session, _member_ids(session, msg.conversation_id), "message.deleted",
         message_payload(msg, actor.display_name, reply_of(session, msg)))
    return msg


def latest_message_id(session: Session, conversation_id: int) -> int:
    return int(session.execute(select(func.coalesce(func.max(Message.id), 0))
                               .where(Message.conversation_id == conversation_id)).scalar_one())


def mark_read(session: Session, actor: Principal, conversation_id: int, up_to: int) -> None:
    """Read receipts: the other members learn how far this member has read."""
    _conv, member = usable_conversation(session, actor, conversation_id)
    up_to = min(up_to, latest_message_id(session, conversation_id))
    if up_to <= member.read_up_to:
        return
    member.read_up_to = up_to
    member.delivered_up_to = max(member.delivered_up_to, up_to)  # what was read was delivered
    emit(session, _member_ids(session, conversation_id), "read",
         {"conversation_id": conversation_id, "user_id": actor.user_id, "up_to": up_to})
