"""Searching the messenger with the library's analysers and index backends.

Two indexes, built by the same functions as the page index (FTS5 on SQLite, tsvectors on PostgreSQL,
the same BM25 on both):
- `message`: each message's current text. Members search it; the policy's conversation clause is part
  of the query (current member, own enterprise). An edit replaces the row, a deletion removes it.
- `archive`: the text of each archive record (the original of every message, each edit's new text),
  so reviewers also find what was later edited or deleted. Their review scope is part of the query.
Both are written in the transaction of the change they index.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from markupsafe import Markup
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from entrepot import policy
from entrepot.audit.chain import ARCHIVE_PREFIX
from entrepot.core.types import Principal
from entrepot.db import Database
from entrepot.db.memo import later_or_now
from entrepot.db.messaging import Conversation, Message
from entrepot.db.tables import ArchiveRecord, User
from entrepot.search.analyzers import IndexedText
from entrepot.search.backend import PageIndex, frequencies
from entrepot.search.fts5 import Fts5Index
from entrepot.search.pg import PostgresIndex
from entrepot.search.service import analyse, index_rows
from entrepot.search.snippets import snippet

MAX_HITS = 50
#: Hits a member's search shows: the messenger's side column, newest-best first; snippets dominate its cost.
MEMBER_HITS = 20
BATCH = 200
EMPTY_QUERY = "Type a word or more to search."


def message_index(session: Session) -> PageIndex:
    if session.get_bind().dialect.name == "postgresql":
        return PostgresIndex("message_search", "message_id", stats_id=2)
    return Fts5Index("message_fts", "message_id")


def archive_index(session: Session) -> PageIndex:
    if session.get_bind().dialect.name == "postgresql":
        return PostgresIndex("archive_search", "record_id", stats_id=3)
    return Fts5Index("archive_fts", "record_id")


def message_text(body: str | None, attachment: dict[str, Any] | None, quote: dict[str, Any] | None) -> str:
    """What a message is found by: its text, an attachment's file name, a quote's product and place."""
    parts = [body, (attachment or {}).get("name"), (quote or {}).get("product"), (quote or {}).get("place")]
    return "\n".join(str(p) for p in parts if p)


def archive_text(action: str, details: dict[str, Any]) -> str:
    """The text an archive record adds: a message as sent, an edit's new text, a group's name."""
    if action == "message.edit":
        return str(details.get("after") or "")
    if action == "message.delete":
        return ""  # the text it removed is the original's or an edit's, indexed with those records
    if action.startswith("message."):
        return message_text(details.get("body"), details.get("attachment"), details.get("quote"))
    if action == "conversation.create":
        return str(details.get("title") or "")
    return ""


#: In a session's `info`, a list that collects new messages' index rows; the group writer adds a whole
#: batch's rows in one statement.
DEFERRED_ROWS = "deferred_message_rows"


@lru_cache(maxsize=256)
def _analysed(text: str) -> IndexedText:
    """A message and its archive record carry the same text: analyse it once for both indexes."""
    return index_rows([(0, text)])[0][1]


def index_message(session: Session, msg: Message, *, new: bool = False) -> None:
    """Index the message's current text; a deleted or empty message leaves the index. A `new`
    message has nothing in the index to replace."""
    index = message_index(session)
    text = "" if msg.deleted_at is not None else message_text(msg.body, msg.attachment, msg.quote)
    if text.strip():
        row = (msg.id, _analysed(text))
        if new:
            later_or_now(session, DEFERRED_ROWS, row, lambda rows: index.add(session, rows))
        else:
            index.replace(session, [row])
    elif not new:
        index.remove(session, [msg.id])


def index_archive_records(session: Session, records: list[tuple[int, str, dict[str, Any] | None]]) -> None:
    """Index new archive records' texts, (id, action, details) each: records are never changed, so
    nothing is replaced."""
    texts = [(record_id, archive_text(action, details or {})) for record_id, action, details in records]
    archive_index(session).add(session, [(record_id, _analysed(text)) for record_id, text in texts if text.strip()])


# -- members ------------------------------------------------------------------------------------

def _matches(session: Session, index: PageIndex, text: str) -> tuple[Any, list[str]]:
    """(the scored matches of `text`, or None for a query with nothing to search; terms to highlight).
    The matches are a materialised CTE: PostgreSQL, without fresh statistics, otherwise re-scored
    them for every row it joined (measured: 43 s instead of 1 s on 6,000 messages)."""
    query, highlight = analyse(text)
    scored = index.scored_pages(session, query.within_budget(frequencies(index, session, query)))
    return (None if scored is None else scored.cte("sp").prefix_with("MATERIALIZED")), highlight


@dataclass
class MessageHit:
    message: Message
    sender: str
    snippet: Markup
    score: float


@dataclass
class MessageResult:
    hits: list[MessageHit] = field(default_factory=list)
    notice: str | None = None
    took_ms: float = 0.0


def search_messages(session: Session, principal: Principal, text: str,
                    limit: int = MEMBER_HITS) -> MessageResult:
    """Messages of conversations the principal is a current member of, best first, newest first on ties."""
    started = time.perf_counter()
    sp, highlight = _matches(session, message_index(session), text)
    if sp is None:
        return MessageResult(notice=EMPTY_QUERY)
    rows = session.execute(
        select(Message, User.display_name, sp.c.score).select_from(sp)
        .join(Message, Message.id == sp.c.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(User, User.id == Message.sender_id)
        .where(policy.conversation_clause(principal), Message.deleted_at.is_(None))
        .order_by(sp.c.score.desc(), Message.id.desc()).limit(min(limit, MAX_HITS))).all()
    hits = [MessageHit(m, name, snippet(message_text(m.body, m.attachment, m.quote), highlight), float(score))
            for m, name, score in rows]
    return MessageResult(hits, took_ms=(time.perf_counter() - started) * 1000)


# -- reviewers ----------------------------------------------------------------------------------

@dataclass
class ArchiveHit:
    record: ArchiveRecord
    conversation_id: int
    message_id: int | None
    snippet: Markup
    score: float
    #: What became of the message since: "edited", "deleted" or None.
    later: str | None = None


@dataclass
class ArchiveResult:
    hits: list[ArchiveHit] = field(default_factory=list)
    notice: str | None = None
    took_ms: float = 0.0


def _conversation_of_chain() -> Any:
    return cast(func.substr(ArchiveRecord.chain, len(ARCHIVE_PREFIX) + 1), Integer)


def search_archive(session: Session, principal: Principal, text: str, limit: int = MAX_HITS) -> ArchiveResult:
    """Archive records in the reviewer's scope whose text matches: what was sent, and each edit."""
    started = time.perf_counter()
    sp, highlight = _matches(session, archive_index(session), text)
    if sp is None:
        return ArchiveResult(notice=EMPTY_QUERY)
    rows = session.execute(
        select(ArchiveRecord, Conversation.id, sp.c.score).select_from(sp)
        .join(ArchiveRecord, ArchiveRecord.id == sp.c.record_id)
        .join(Conversation, Conversation.id == _conversation_of_chain())
        .where(ArchiveRecord.chain.startswith(ARCHIVE_PREFIX),
               policy.review_clause(principal, Conversation.enterprise_id))
        .order_by(sp.c.score.desc(), ArchiveRecord.id.desc()).limit(min(limit, MAX_HITS))).all()
    ids = {int(r.details["message_id"]) for r, _c, _s in rows if (r.details or {}).get("message_id")}
    now = ({m.id: m for m in session.execute(select(Message).where(Message.id.in_(ids))).scalars()}
           if ids else {})
    hits = []
    for rec, conv_id, score in rows:
        mid = (rec.details or {}).get("message_id")
        current = now.get(int(mid)) if mid else None
        later = None
        if current is not None:
            later = "deleted" if current.deleted_at else "edited" if current.edited_at else None
        text_then = archive_text(rec.action, rec.details or {})
        hits.append(ArchiveHit(rec, conv_id, int(mid) if mid else None, snippet(text_then, highlight),
                               float(score), later))
    return ArchiveResult(hits, took_ms=(time.perf_counter() - started) * 1000)


# -- rebuilding ---------------------------------------------------------------------------------

def _live_text(m: Message) -> str:
    return "" if m.deleted_at else message_text(m.body, m.attachment, m.quote)


def _record_text(r: ArchiveRecord) -> str:
    return archive_text(r.action, r.details or {})


def reindex(db: Database, progress: Callable[[str, int], None] = lambda which, done: None) -> tuple[int, int]:
    """Rebuild both indexes from the messages and the archive; (messages, records) indexed."""
    with db.write() as s:
        message_index(s).clear(s)
        archive_index(s).clear(s)
    counts = []
    sources: tuple[tuple[str, Any, Callable[[Any], str]], ...] = (
        ("messages", Message, _live_text), ("archive", ArchiveRecord, _record_text))
    for which, model, text_of in sources:
        done, last_id = 0, 0
        while True:
            with db.read() as s:
                batch = s.execute(select(model).where(model.id > last_id).order_by(model.id)
                                  .limit(BATCH)).scalars().all()
            if not batch:
                break
            texts = [(row.id, text_of(row)) for row in batch]
            rows = index_rows([(i, t) for i, t in texts if t.strip()])
            with db.write() as s:
                (message_index(s) if model is Message else archive_index(s)).replace(s, rows)
            done, last_id = done + len(rows), batch[-1].id
            progress(which, done)
        counts.append(done)
    from entrepot.search.compact import compact

    compact(db, message_index)
    compact(db, archive_index)
    return counts[0], counts[1]
