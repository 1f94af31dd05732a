"""The nightly retention run: archive records, messages and attachments past their enterprise's
retention period leave the database, unless a legal hold or an unfinished review keeps them.

Each conversation is handled in small transactions, so senders never wait long on the database:
one step cuts up to `BATCH` of its chain's oldest records (after checking them, see
`audit.chain.cut_prefix`), writes the audit record naming what was cut, and removes the messages sent
before the same cut-off with what hangs on them (price quotes, cleared flags). Attachment files go last,
and only those nothing references any more: no message, no archive record still kept, no document.
The run ends with one audit record that sums it up, whatever it removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.orm import Session

from entrepot import audit
from entrepot.audit.chain import ARCHIVE_PREFIX, PRUNE_ACTION, BrokenChain, Cut, cut_prefix
from entrepot.blobs import BlobStore
from entrepot.blobs.gc import DEFAULT_GRACE_S
from entrepot.blobs.references import referenced
from entrepot.db import Database
from entrepot.db.compliance import Flag, FlagNote, TopicScore
from entrepot.db.messaging import Conversation, Member, Message, PriceQuote, UserEvent
from entrepot.db.retention import DEFAULT_RETENTION_DAYS, LegalHold, RetentionPolicy
from entrepot.db.tables import ArchiveRecord, Enterprise, User

BATCH = 500
#: A blob stored or re-stored this recently is never removed (its message may be being written).
BLOB_IDLE_S = DEFAULT_GRACE_S
#: Flags keep copies of the few messages before the flagged one (actions.compliance.CONTEXT_MESSAGES).
CONTEXT_MESSAGES = 3
UNFINISHED_REVIEW = ("open", "claimed", "escalated")


@dataclass
class RunReport:
    records: int = 0
    messages: int = 0
    blobs: int = 0
    events: int = 0
    chains: list[str] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # conversations with expired content kept by a legal hold
    under_review: list[int] = field(default_factory=list)  # ... kept because a flag is not cleared yet
    broken: list[str] = field(default_factory=list)  # chains not cut: their expired records do not verify

    def details(self, now: datetime, cutoffs: dict[int, datetime]) -> dict[str, Any]:
        return {**asdict(self), "at": now.isoformat(), "cutoffs": {str(e): c.isoformat() for e, c in cutoffs.items()}}


def cutoffs(session: Session, now: datetime) -> dict[int, datetime]:
    """Enterprise id -> the instant before which its records expire."""
    days = {eid: n for eid, n in session.execute(select(RetentionPolicy.enterprise_id, RetentionPolicy.days))}
    return {eid: now - timedelta(days=days.get(eid, DEFAULT_RETENTION_DAYS))
            for eid in session.execute(select(Enterprise.id)).scalars()}


def hold_clause(conversation_id: ColumnElement[int] | int) -> ColumnElement[bool]:
    """A legal hold is in force on the conversation, or on a user who is or was one of its members."""
    active = LegalHold.released_at.is_(None)
    members = select(Member.user_id).where(Member.conversation_id == conversation_id)
    return or_(exists().where(active, LegalHold.conversation_id == conversation_id),
               exists().where(active, LegalHold.user_id.in_(members)))


def _under_review(session: Session, conversation_id: int) -> bool:
    return bool(session.execute(select(exists().where(Flag.conversation_id == conversation_id,
                                                      Flag.state.in_(UNFINISHED_REVIEW)))).scalar())


def _has_expired(session: Session, conversation_id: int, cutoff: datetime) -> bool:
    chain = f"{ARCHIVE_PREFIX}{conversation_id}"
    first = session.execute(select(ArchiveRecord.at).where(ArchiveRecord.chain == chain)
                            .order_by(ArchiveRecord.seq).limit(1)).scalar()
    if first is not None and first < cutoff:
        return True
    return session.execute(select(Message.id).where(Message.conversation_id == conversation_id,
                                                    Message.created_at < cutoff).limit(1)).first() is not None


def _attachment_blobs(attachment: dict[str, Any] | None) -> set[str]:
    a = attachment or {}
    return {str(a[k]) for k in ("blob", "thumb") if a.get(k)}


def _scrub_flag_context(session: Session, conversation_id: int, removed: set[int], after_id: int) -> None:
    """Flags on the next few messages keep copies of removed ones as context: those copies go too."""
    following = select(Message.id).where(Message.conversation_id == conversation_id, Message.id > after_id) \
        .order_by(Message.id).limit(CONTEXT_MESSAGES)
    for flag in session.execute(select(Flag).where(Flag.message_id.in_(following))).scalars():
        if any(c.get("message_id") in removed for c in flag.context or []):
            flag.context = [{**c, "body": None, "removed": True} if c.get("message_id") in removed else c
                            for c in flag.context]


def _remove_messages(session: Session, conversation_id: int, cutoff: datetime) -> tuple[int, set[str]]:
    """Up to BATCH messages sent before `cutoff`, with their quotes and (cleared) flags."""
    rows = session.execute(select(Message.id, Message.attachment).where(
        Message.conversation_id == conversation_id, Message.created_at < cutoff)
        .order_by(Message.id).limit(BATCH)).all()
    if not rows:
        return 0, set()
    ids = [mid for mid, _ in rows]
    blobs = set().union(*(_attachment_blobs(a) for _, a in rows))
    flags = select(Flag.id).where(Flag.message_id.in_(ids))
    session.execute(delete(FlagNote).where(FlagNote.flag_id.in_(flags)))
    session.execute(delete(Flag).where(Flag.message_id.in_(ids)))
    session.execute(delete(PriceQuote).where(PriceQuote.message_id.in_(ids)))
    session.execute(delete(TopicScore).where(TopicScore.message_id.in_(ids)))
    # The search indexes follow by trigger (SQLite) or foreign key (PostgreSQL).
    session.execute(delete(Message).where(Message.id.in_(ids)))
    _scrub_flag_context(session, conversation_id, set(ids), max(ids))
    return len(ids), blobs


def _record_cut(session: Session, cut: Cut, cutoff: datetime) -> None:
    """The audit trail's account of a cut: the seq range, the checkpoint and every removed hash."""
    audit.append(session, PRUNE_ACTION, target_type="chain", target_id=cut.chain,
                 details={"chain": cut.chain, "from_seq": cut.from_seq, "to_seq": cut.to_seq,
                          "last_hash": cut.last_hash, "hashes": cut.hashes, "cutoff": cutoff.isoformat(),
                          "reason": "retention"})


def _step(session: Session, conversation_id: int, cutoff: datetime, report: RunReport) -> tuple[bool, set[str]]:
    """One transaction's worth for one conversation: (anything left to do, attachment blobs released)."""
    chain = f"{ARCHIVE_PREFIX}{conversation_id}"
    released: set[str] = set()
    cut = cut_prefix(session, chain, cutoff, BATCH)
    if cut is not None:
        _record_cut(session, cut, cutoff)
        report.records += len(cut.hashes)
        if chain not in report.chains:
            report.chains.append(chain)
        for details in cut.details:
            released |= _attachment_blobs((details or {}).get("attachment"))
    removed, blobs = _remove_messages(session, conversation_id, cutoff)
    report.messages += removed
    return cut is not None or removed > 0, released | blobs


def prune_conversation(db: Database, conversation_id: int, cutoff: datetime, report: RunReport) -> set[str]:
    """Everything of one conversation past `cutoff`, unless held; returns candidate blobs to remove."""
    released: set[str] = set()
    while True:
        try:
            with db.write() as s:
                if not _has_expired(s, conversation_id, cutoff):
                    return released
                if s.execute(select(hold_clause(conversation_id))).scalar():
                    report.held.append(conversation_id)
                    return released
                if _under_review(s, conversation_id):
                    report.under_review.append(conversation_id)
                    return released
                more, blobs = _step(s, conversation_id, cutoff, report)
        except BrokenChain:
            report.broken.append(f"{ARCHIVE_PREFIX}{conversation_id}")
            return released
        released |= blobs
        if not more:
            return released


def remove_blobs(db: Database, blobs: BlobStore, candidates: set[str]) -> int:
    """Remove the files of `candidates` that nothing in the database names any more (one pass over
    every reference, the list the orphan cleanup uses) and nobody stored again lately."""
    if not candidates:
        return 0
    with db.read() as s:
        unused = candidates - referenced(s)
    return sum(blobs.remove_if_idle(d, BLOB_IDLE_S) for d in sorted(unused))


def _remove_events(db: Database, cutoff_by_enterprise: dict[int, datetime]) -> int:
    """Users' delivery logs carry copies of messages: entries older than the retention period go."""
    removed = 0
    for enterprise_id, cutoff in cutoff_by_enterprise.items():
        users = select(User.id).where(User.enterprise_id == enterprise_id)
        while True:
            with db.write() as s:
                ids = list(s.execute(select(UserEvent.id).where(UserEvent.user_id.in_(users),
                                                                UserEvent.created_at < cutoff)
                                     .limit(BATCH * 10)).scalars())
                if ids:
                    s.execute(delete(UserEvent).where(UserEvent.id.in_(ids)))
            removed += len(ids)
            if len(ids) < BATCH * 10:
                break
    return removed


def run(db: Database, blobs: BlobStore, now: datetime | None = None,
        heartbeat: Callable[[], None] = lambda: None) -> RunReport:
    """The whole run; `now` is the instant the retention periods count back from. `heartbeat` is
    called after each conversation (the worker renews its job's lease there)."""
    now = now or datetime.now(UTC)
    report = RunReport()
    with db.read() as s:
        limits = cutoffs(s, now)
        conversations = s.execute(select(Conversation.id, Conversation.enterprise_id).order_by(Conversation.id)).all()
    candidates: set[str] = set()
    for conversation_id, enterprise_id in conversations:
        candidates |= prune_conversation(db, conversation_id, limits[enterprise_id], report)
        heartbeat()
    report.events = _remove_events(db, limits)
    report.blobs = remove_blobs(db, blobs, candidates)
    with db.write() as s:
        audit.append(s, "retention.run", target_type="retention", details=report.details(now, limits))
    return report
