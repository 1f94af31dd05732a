"""Group membership, delivery receipts and typing notices.

Membership changes are archived in the conversation's chain in the same transaction; a removed member
is out of the policy's conversation clause from that commit on, so nothing more is delivered to them
(events already in their log are dropped at delivery, which asks the policy again). Typing notices are
never stored: this module only says who may receive one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from entrepot import policy
from entrepot.actions import archive
from entrepot.actions.messaging import MAX_MEMBERS, _check_partner, _member_ids, emit, usable_conversation
from entrepot.core.errors import Forbidden, InvalidInput, NotFound
from entrepot.core.types import Principal
from entrepot.db.messaging import Conversation, Member, Message
from entrepot.db.tables import User

_convs, _members = cast(Table, Conversation.__table__), cast(Table, Member.__table__)


def _now() -> datetime:
    return datetime.now(UTC)


def _names(session: Session, user_ids: list[int]) -> list[str]:
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all())
    return [names.get(uid, "?") for uid in user_ids]


def add_members(session: Session, actor: Principal, conversation_id: int, user_ids: list[int],
                *, ip: str | None = None) -> list[int]:
    """The owner adds people to a group; all or none. A refused person is audited and nobody is added."""
    conv, _ = usable_conversation(session, actor, conversation_id)
    decision = policy.may_manage_members(actor, conv)
    if not decision:
        raise Forbidden(decision.reason or "Only the owner of a group can change its members.")
    wanted = sorted(set(user_ids) - {actor.user_id})
    if not wanted or len(wanted) > MAX_MEMBERS:
        raise InvalidInput("Choose between 1 and %(n)s people.", field="user_ids", n=MAX_MEMBERS)
    for uid in wanted:
        _check_partner(session, actor, uid, ip, conversation=conv)
    current = set(_member_ids(session, conv.id))
    new = [uid for uid in wanted if uid not in current]
    if not new:
        raise InvalidInput("They are already members of this conversation.", field="user_ids")
    if len(current) + len(new) > MAX_MEMBERS + 1:
        raise InvalidInput("A group has at most %(n)s members.", field="user_ids", n=MAX_MEMBERS + 1)
    for uid in new:
        former = session.get(Member, (conv.id, uid))
        if former is None:
            session.add(Member(conversation_id=conv.id, user_id=uid))
        else:  # back again: history and receipts as they were
            former.left_at, former.joined_at = None, _now()
    conv.last_activity_at = _now()
    session.flush()
    archive.record(session, conv.id, "conversation.member_add", actor,
                   {"user_ids": new, "names": _names(session, new)})
    emit(session, new, "conversation", {"id": conv.id, "kind": conv.kind, "title": conv.title})
    emit(session, current, "members", {"conversation_id": conv.id, "added": new, "removed": []})
    return new


def remove_member(session: Session, actor: Principal, conversation_id: int, user_id: int) -> None:
    """The owner removes a member, or a member leaves; from the commit on they get and send nothing."""
    conv, _ = usable_conversation(session, actor, conversation_id)
    decision = policy.may_remove_member(actor, conv, user_id)
    if not decision:
        raise Forbidden(decision.reason or "Only the owner of a group can change its members.")
    member = session.get(Member, (conv.id, user_id))
    if member is None or member.left_at is not None:
        raise NotFound("This person is not a member of this conversation.")
    member.left_at = _now()
    session.flush()
    action = "conversation.member_leave" if user_id == actor.user_id else "conversation.member_remove"
    archive.record(session, conv.id, action, actor,
                   {"user_id": user_id, "name": _names(session, [user_id])[0]})
    emit(session, _member_ids(session, conv.id), "members",
         {"conversation_id": conv.id, "added": [], "removed": [user_id]})
    # No conversation_id in this payload: delivery must not drop it now that they are out.
    emit(session, [user_id], "conversation.removed", {"removed_from": conv.id})


#: How far back (in message ids) a receipt's range may start and still be read with the others.
RECENT_IDS = 10_000


#: A receipt's rise of a member's mark; `higher` only: marks never fall, whatever wrote last.
_RAISE_DELIVERED = (update(_members)
                    .where(_members.c.conversation_id == bindparam("conversation"),
                           _members.c.user_id == bindparam("member"), _members.c.delivered_up_to < bindparam("higher"))
                    .values(delivered_up_to=bindparam("higher")))


def mark_delivered(session: Session, receipts: list[tuple[Principal, dict[int, int]]]) -> None:
    """Each user's page acknowledged message events up to these ids (conversation -> message id).
    The senders of the newly delivered messages are told; marks only ever rise. Many users at once:
    their memberships are read in one Core query and raised in one statement (receipts come in
    floods: one per message and recipient)."""
    by_user = {actor.user_id: (actor, marks) for actor, marks in receipts if marks}
    pairs = [(conv, uid) for uid, (_actor, marks) in by_user.items() for conv in marks]
    for start in range(0, len(pairs), 200):
        found = session.execute(
            select(_convs.c.id, _convs.c.enterprise_id, _members.c.user_id, _members.c.left_at,
                   _members.c.delivered_up_to)
            .join_from(_convs, _members, _members.c.conversation_id == _convs.c.id)
            .where(tuple_(_members.c.conversation_id, _members.c.user_id).in_(pairs[start:start + 200]))
            .order_by(_members.c.user_id, _convs.c.id)).all()
        moved: list[tuple[int, int, int, int]] = []  # (conversation, member, delivered before, now)
        for row in found:  # a row is both the conversation and the membership the policy reads
            actor, marks = by_user[row.user_id]
            up_to = marks[row.id]
            if policy.may_use_conversation(actor, row, row) and up_to > row.delivered_up_to:
                moved.append((row.id, row.user_id, row.delivered_up_to, up_to))
        if moved:
            session.execute(_RAISE_DELIVERED, [{"conversation": conv, "member": uid, "higher": up_to}
                                               for conv, uid, _before, up_to in moved])
            _expire_marks(session, [(conv, uid) for conv, uid, _before, _up_to in moved])
        senders = _senders_between(session, moved)
        for conv_id, user_id, _since, up_to in moved:
            if senders.get((conv_id, user_id)):
                emit(session, sorted(senders[(conv_id, user_id)]), "delivered",
                     {"conversation_id": conv_id, "user_id": user_id, "up_to": up_to})


def _expire_marks(session: Session, keys: list[tuple[int, int]]) -> None:
    """Memberships this session already loaded read their raised marks again (a read mark in the
    same batch must not write back the old one)."""
    for key in keys:
        loaded = session.identity_map.get(identity_key(Member, key))
        if loaded is not None:
            session.expire(loaded, ["delivered_up_to"])


def _senders_between(session: Session, ranges: list[tuple[int, int, int, int]]) -> dict[tuple[int, int], set[int]]:
    """For each (conversation, member, after, up to): who else sent the messages in that range. The
    ranges of a flood of receipts are recent: one Core statement reads the messages of all their
    conversations after the oldest of them, and the ranges take their senders from it. A range that
    starts much further back (a member's first receipt after a long absence) is read on its own."""
    messages = cast(Table, Message.__table__)
    found: dict[tuple[int, int], set[int]] = {}
    if not ranges:
        return found
    newest = max(up_to for _c, _u, _s, up_to in ranges)
    recent = [r for r in ranges if r[2] >= newest - RECENT_IDS]
    sent: dict[int, list[tuple[int, int]]] = {}  # conversation -> (message id, sender)
    if recent:
        rows = session.execute(select(messages.c.conversation_id, messages.c.id, messages.c.sender_id).where(
            messages.c.conversation_id.in_({conv for conv, *_ in recent}),
            messages.c.id > min(since for _c, _u, since, _t in recent), messages.c.id <= newest))
        for conv, message_id, sender in rows:
            sent.setdefault(conv, []).append((message_id, sender))
    for conv, user_id, since, up_to in ranges:
        if since >= newest - RECENT_IDS:
            senders = {s for m, s in sent.get(conv, ()) if since < m <= up_to and s != user_id}
        else:
            senders = set(session.execute(select(messages.c.sender_id).distinct().where(
                messages.c.conversation_id == conv, messages.c.id > since, messages.c.id <= up_to,
                messages.c.sender_id != user_id)).scalars())
        if senders:
            found[(conv, user_id)] = senders
    return found


def typing_recipients(session: Session, actor: Principal, conversation_id: int) -> list[int]:
    """The other current members, if the actor may write in the conversation (else NotFound/Forbidden)."""
    usable_conversation(session, actor, conversation_id)
    return [uid for uid in _member_ids(session, conversation_id) if uid != actor.user_id]


def may_receive(session: Session, principal: Principal, conversation_id: int) -> bool:
    """Asked again when a typing notice reaches a connection: the member may have left meanwhile."""
    conv = session.get(Conversation, conversation_id)
    member = session.get(Member, (conversation_id, principal.user_id)) if conv else None
    return conv is not None and bool(policy.may_use_conversation(principal, conv, member))
