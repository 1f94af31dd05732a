"""Sending a message: the retry check, the policy's check, the stored row and its announcement
(screening, archive, index, events), all in the caller's transaction.

A batch of text messages (the messenger's group writer) goes through `send_texts`, which makes the
statements of all of them together: one read of retries, one of the conversations' members, one
insert of the messages, the screening's reads and writes once. Every other send is a batch of one, so
both take the same path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.orm import Session

from entrepot.actions import archive, screening, validate
from entrepot.actions.messaging import MAX_BODY, check_use, emit, message_payload, reply_of, touch
from entrepot.core.errors import EntrepotError, InvalidInput
from entrepot.core.messages import N_
from entrepot.core.types import Principal
from entrepot.db.bulk import insert_ids
from entrepot.db.messaging import Conversation, Member, Message
from entrepot.ingest.language import detect_language as dominant_language
from entrepot.search import messages as message_search

_convs, _members, _messages = (cast(Table, m.__table__) for m in (Conversation, Member, Message))
MAX_CLIENT_ID = 64
NO_CLIENT_ID = N_("Every message needs a client id of at most 64 characters.")


class TextSend(NamedTuple):
    """One text message to send, as the page sent it."""

    sender: Principal
    conversation_id: int
    client_id: str
    body: str
    reply_to_id: int | None = None


class Sent(NamedTuple):
    message: Message
    created: bool  # False: a retry, answered with the message first sent under its client id


class Writable(NamedTuple):
    """A conversation someone may write in, as a send needs it."""

    enterprise_id: int
    members: list[int]  # the current members, whom the message goes to


def send_message(session: Session, actor: Principal, conversation_id: int, client_id: str, body: str,
                 *, reply_to_id: int | None = None) -> tuple[Message, bool]:
    """(message, created). The same client id again returns the first message: retries never duplicate."""
    return send_text(session, TextSend(actor, conversation_id, client_id, body, reply_to_id))


def send_text(session: Session, send: TextSend) -> Sent:
    """One text send, its refusal raised."""
    outcome = send_texts(session, [send])[0]
    if isinstance(outcome, EntrepotError):
        raise outcome
    return outcome


def send_texts(session: Session, sends: Sequence[TextSend]) -> list[Sent | EntrepotError]:
    """Each send decided as if alone and in order, its refusal (an error) in its place in the answer:
    a bad client id, a conversation the sender may not write in, an empty or oversized body, a reply
    to another conversation's message, a blocking rule. Refused sends write nothing; the others are
    stored and announced together. A second send under a client id, here or earlier, answers with
    the first one's message."""
    outcomes: list[Sent | EntrepotError | None] = [None] * len(sends)
    client_ids: list[str] = []
    for i, send in enumerate(sends):
        try:
            client_ids.append(clean_client_id(send.client_id))
        except InvalidInput as exc:
            client_ids.append("")
            outcomes[i] = exc
    keys = [(send.sender.user_id, cid) for send, cid in zip(sends, client_ids, strict=True)]
    earlier = _sent_under(session, [k for k, o in zip(keys, outcomes, strict=True) if o is None])
    seats = _seats(session, {send.conversation_id for send, o in zip(sends, outcomes, strict=True) if o is None})
    accepted: dict[tuple[int, str], int] = {}  # key -> index of the send that stores it
    new: list[tuple[int, dict[str, Any], Writable, screening.Screened | None]] = []
    for i, send in enumerate(sends):
        if outcomes[i] is not None or keys[i] in accepted:
            continue
        if keys[i] in earlier:
            outcomes[i] = Sent(earlier[keys[i]], False)
            continue
        try:
            conversation = writable(seats.get(send.conversation_id, []), send.sender)
            text = validate.clean_text(send.body, "body", max_len=MAX_BODY)
            _check_reply(session, send.reply_to_id, send.conversation_id)
            screened = screening.check(session, text, conversation.enterprise_id, dominant_language(text))
        except EntrepotError as exc:
            outcomes[i] = exc
            continue
        accepted[keys[i]] = i
        new.append((i, {"conversation_id": send.conversation_id, "sender_id": send.sender.user_id,
                        "client_id": client_ids[i], "kind": "text", "body": text,
                        "reply_to_id": send.reply_to_id}, conversation, screened))
    stored = insert_messages(session, [row for _i, row, _c, _s in new])
    for (i, _row, _c, _s), msg in zip(new, stored, strict=True):
        outcomes[i] = Sent(msg, True)
    announce_all(session, [(msg, sends[i].sender, conversation, screened)
                           for (i, _row, conversation, screened), msg in zip(new, stored, strict=True)])
    for i, key in enumerate(keys):
        if outcomes[i] is None:  # the same client id as a send stored just before in this batch
            outcomes[i] = Sent(cast(Sent, outcomes[accepted[key]]).message, False)
    return cast(list[Sent | EntrepotError], outcomes)


# The statements every batch makes, built once: SQLAlchemy then skips building them and computing
# their cache keys on each call. Expanding parameters take any number of values.
#: Messages sent under any of these client ids by any of these senders (the pairs are picked after).
_SENT_UNDER = select(_messages.c.id, _messages.c.sender_id, _messages.c.client_id).where(
    _messages.c.sender_id.in_(bindparam("senders", expanding=True)),
    _messages.c.client_id.in_(bindparam("client_ids", expanding=True)))
#: Conversations' enterprises and members, those who left included.
_SEATS = (select(_convs.c.id, _convs.c.enterprise_id, _members.c.user_id, _members.c.left_at)
          .select_from(_convs.outerjoin(_members, _members.c.conversation_id == _convs.c.id))
          .where(_convs.c.id.in_(bindparam("conversations", expanding=True))))


def _sent_under(session: Session, keys: list[tuple[int, str]]) -> dict[tuple[int, str], Message]:
    """The messages already sent under these (sender, client id) pairs: retries, almost always none."""
    if not keys:
        return {}
    wanted = set(keys)
    rows = session.execute(_SENT_UNDER, {"senders": sorted({s for s, _c in wanted}),
                                         "client_ids": sorted({c for _s, c in wanted})}).all()
    found = {}
    for message_id, sender_id, client_id in rows:
        if (sender_id, client_id) in wanted:
            msg = session.get(Message, message_id)
            assert msg is not None
            found[(sender_id, client_id)] = msg
    return found


def _seats(session: Session, conversation_ids: set[int]) -> dict[int, list[Row[Any, Any, Any, Any]]]:
    """Each conversation's rows of `_SEATS`, in one statement for all of them."""
    if not conversation_ids:
        return {}
    session.flush()  # membership changed in this session counts (cheap when nothing is pending)
    found: dict[int, list[Row[Any, Any, Any, Any]]] = {}
    for row in session.execute(_SEATS, {"conversations": sorted(conversation_ids)}):
        found.setdefault(row.id, []).append(row)
    return found


def writable(seats: list[Row[Any, Any, Any, Any]], actor: Principal) -> Writable:
    """What `messaging.usable_conversation` decides, from the conversation's rows of `_seats` and
    without loading objects: the check of every message sent."""
    mine = next((r for r in seats if r.user_id == actor.user_id), None)
    check_use(actor, seats[0] if seats else None, mine)
    return Writable(seats[0].enterprise_id, [r.user_id for r in seats if r.user_id is not None and r.left_at is None])


def check_writable(session: Session, actor: Principal, conversation_id: int) -> Writable:
    return writable(_seats(session, {conversation_id}).get(conversation_id, []), actor)


def _check_reply(session: Session, reply_to_id: int | None, conversation_id: int) -> None:
    if reply_to_id is not None:
        parent = session.get(Message, reply_to_id)
        if parent is None or parent.conversation_id != conversation_id:  # never quote another conversation
            raise InvalidInput("The message you reply to does not exist.", field="reply_to_id")


def existing_message(session: Session, actor: Principal, client_id: str) -> Message | None:
    """The message this sender already sent under this client id: a retry returns it unchanged."""
    cid = clean_client_id(client_id)
    return _sent_under(session, [(actor.user_id, cid)]).get((actor.user_id, cid))


def clean_client_id(client_id: str | None) -> str:
    """The page's id for a message, which makes a retry find the first send."""
    cid = (client_id or "").strip()
    if not cid or len(cid) > MAX_CLIENT_ID:
        raise InvalidInput(NO_CLIENT_ID, field="client_id")
    return cid


def insert_messages(session: Session, rows: list[dict[str, Any]]) -> list[Message]:
    """Store new messages (the same columns in each row) in one statement (the unit of work cost a
    send as much again). The Messages returned hold their columns but are not in the session:
    nothing changes them while they are sent, and later reads load them as usual."""
    now = datetime.now(UTC)
    rows = [{"body": "", "created_at": now, **row} for row in rows]
    ids = insert_ids(session, _messages, rows, key=("sender_id", "client_id"))
    empty = dict.fromkeys(("reply_to_id", "attachment", "quote", "duration_s", "edited_at", "deleted_at"))
    return [Message(id=message_id, **{**empty, **row}) for message_id, row in zip(ids, rows, strict=True)]


def insert_message(session: Session, **fields: Any) -> Message:
    """One new message; a field given as None is left out, not written: a JSON column would store
    it as JSON null, not SQL NULL."""
    given = {key: value for key, value in fields.items() if value is not None}
    return insert_messages(session, [given])[0]


Announced = tuple[Message, Principal, Writable, "screening.Screened | None"]


def announce_all(session: Session, announced: Sequence[Announced]) -> None:
    """Flag, archive, index and deliver new messages to their conversations' current members, in
    the senders' transaction; `screening.check` has already passed them."""
    for msg, _sender, _conversation, _screened in announced:
        touch(session, msg.conversation_id)
    screening.record(session, [(msg, conversation.enterprise_id, screened)
                               for msg, _sender, conversation, screened in announced])
    for msg, sender, conversation, _screened in announced:
        archive.record(session, msg.conversation_id, f"message.{msg.kind}", sender, archive.message_details(msg),
                       msg.id)
        message_search.index_message(session, msg, new=True)
        emit(session, conversation.members, "message",
             message_payload(msg, sender.display_name, reply_of(session, msg)))


def announce(session: Session, msg: Message, sender: Principal, conversation: Writable) -> None:
    """Screen a stored message (a blocking rule raises: the caller's transaction rolls back), then
    announce it."""
    screened = screening.check(session, screening.screened_text(msg), conversation.enterprise_id,
                               dominant_language(msg.body) if msg.body else None)
    announce_all(session, [(msg, sender, conversation, screened)])


def send_attachment(session: Session, actor: Principal, conversation_id: int, client_id: str, kind: str,
                    attachment: dict[str, Any], caption: str = "", duration_s: float | None = None
                    ) -> tuple[Message, bool]:
    """A picture, file or voice note already stored as a blob; `attachment` describes it."""
    existing = existing_message(session, actor, client_id)
    if existing is not None:
        return existing, False
    if kind not in ("image", "file", "voice"):
        raise InvalidInput("Unknown kind of attachment.", field="kind")
    conversation = check_writable(session, actor, conversation_id)
    msg = insert_message(session, conversation_id=conversation_id, sender_id=actor.user_id,
                         client_id=client_id.strip(), kind=kind, attachment=attachment, duration_s=duration_s,
                         body=validate.clean_text(caption, "body", max_len=MAX_BODY, required=False))
    announce(session, msg, actor, conversation)
    return msg, True
