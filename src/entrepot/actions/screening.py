"""Send-time screening: lexicon rules and the off-topic rule, in the sender's transaction, so a flag is
in the review queue the moment the message is; attachments' text (parsed, or read by OCR) is screened
by a worker job queued in the same transaction.

Every flag names the rule and its version, the matched span and the conversation context: the few
messages before it, and in `details` where the span lies (an attachment's page) or why the
conversation counts as off-topic (the window of scores and their mean).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from entrepot import audit, jobs
from entrepot.compliance.lexicon import Lexicon, Match, Rule, tokens_of
from entrepot.compliance.topic import TopicSettings, drift_decision, load_vocabulary
from entrepot.core.config import Settings
from entrepot.core.errors import Forbidden
from entrepot.db.compliance import Flag, LexiconRule, TopicScore, TopicState
from entrepot.db.messaging import Conversation, Message
from entrepot.ingest.language import detect_language

ATTACHMENT_JOB = "compliance.attachment"
CONTEXT_MESSAGES = 3
EXCERPT_CHARS = 160
TOPIC_RULE = ("Off-topic conversation", "The conversation has drifted away from trade for several messages.")
SCREENED_KINDS = ("word", "phrase", "regex")


class Blocked(Forbidden):
    """A rule set to block stopped the message; the sender is told why."""


@dataclass(frozen=True)
class Screening:
    """What screening needs from the settings; put in every write session's `info` by the app."""

    topic: TopicSettings | None = field(default_factory=TopicSettings)  # None: the off-topic rule is off
    reference_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Screening:
        topic = None
        if settings.offtopic_window:
            topic = TopicSettings(settings.offtopic_window, settings.offtopic_threshold)
        return cls(topic, settings.reference_dir)


def _screening(session: Session) -> Screening:
    found = session.info.get("screening")
    return found if isinstance(found, Screening) else Screening()


def warm(screening: Screening) -> None:
    """Load the analysers and the trade vocabulary before the first message needs them (seconds)."""
    tokens_of("warm 한국어 中文 日本語です")
    if screening.topic is not None:
        load_vocabulary(screening.reference_dir)


_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[object, ...], Lexicon]] = {}


def lexicon(session: Session) -> Lexicon:
    """The active rules, compiled once per change (keyed by newest id and count) and shared."""
    screened = LexiconRule.kind.in_(SCREENED_KINDS)
    stamp = tuple(
        session.execute(
            select(
                func.coalesce(func.max(LexiconRule.id), 0), func.count(), func.max(LexiconRule.created_at)
            ).where(LexiconRule.active.is_(True), screened)
        ).one()
    )
    url = str(session.get_bind().url)
    with _cache_lock:
        cached = _cache.get(url)
        if cached and cached[0] == stamp:
            return cached[1]
    rows = session.execute(select(LexiconRule).where(LexiconRule.active.is_(True), screened)).scalars().all()
    compiled = Lexicon(
        [
            Rule(r.id, r.version, r.kind, r.pattern, r.language, r.severity, r.action, r.description)
            for r in rows
        ]
    )
    with _cache_lock:
        _cache[url] = (stamp, compiled)
    return compiled


def _context(session: Session, msg: Message) -> list[dict[str, Any]]:
    before = (
        session.execute(
            select(Message)
            .where(Message.conversation_id == msg.conversation_id, Message.id < msg.id)
            .order_by(Message.id.desc())
            .limit(CONTEXT_MESSAGES)
        )
        .scalars()
        .all()
    )
    return [{"message_id": m.id, "sender_id": m.sender_id, "body": m.body} for m in reversed(before)]


def _flag(
    session: Session,
    msg: Message,
    rule: Rule | LexiconRule,
    matched: str,
    span: list[int],
    context: list[dict[str, Any]],
    details: dict[str, Any] | None = None,
) -> Flag:
    conv = session.get(Conversation, msg.conversation_id)
    assert conv is not None
    flag = Flag(
        message_id=msg.id,
        conversation_id=msg.conversation_id,
        enterprise_id=conv.enterprise_id,
        sender_id=msg.sender_id,
        rule_id=rule.id,
        rule_version=rule.version,
        severity=rule.severity,
        matched=matched[:500],
        span=span,
        context=context,
        details=details,
    )
    session.add(flag)
    return flag


def screen(session: Session, msg: Message, language: str | None) -> None:
    """Run every rule on a message being sent, in its transaction: block it, or flag it for review."""
    text = " ".join(filter(None, [msg.body, (msg.quote or {}).get("product") if msg.quote else None]))
    if msg.attachment and msg.kind in ("image", "file"):
        jobs.enqueue(session, ATTACHMENT_JOB, {"message_id": msg.id})
    if not text.strip():
        return
    tokens = tokens_of(text)
    matches = lexicon(session).match(text, language, tokens)
    blocking = [m for m in matches if m.rule.action == "block"]
    if blocking:
        raise Blocked(
            "This message was not sent: %(why)s", why=blocking[0].rule.description or blocking[0].matched
        )
    if matches:
        context = _context(session, msg)
        for m in matches:
            _flag(session, msg, m.rule, m.matched, [m.start, m.end], context)
    config = _screening(session)
    if config.topic is not None:
        _track_topic(session, msg, text, tokens, config)


# -- attachments ---------------------------------------------------------------------------------


def screen_attachment(session: Session, message_id: int, pages: list[tuple[int, str]], filename: str) -> int:
    """Flag what the lexicon finds in an attachment's text (from the worker, after the send committed).
    Each rule flags a message once; a retried job adds nothing. A blocking rule can only flag here:
    the message is already delivered. Returns the number of new flags."""
    msg = session.get(Message, message_id)
    if msg is None or msg.deleted_at is not None:
        return 0
    lex = lexicon(session)
    seen = set(session.execute(select(Flag.rule_id).where(Flag.message_id == message_id)).scalars())
    context: list[dict[str, Any]] | None = None
    count = 0
    for number, text in pages:
        if not text.strip():
            continue
        for m in lex.match(text, detect_language(text)):
            if m.rule.id in seen:
                continue
            seen.add(m.rule.id)
            context = _context(session, msg) if context is None else context
            _flag(
                session,
                msg,
                m.rule,
                m.matched,
                [m.start, m.end],
                context,
                _excerpt(text, m, number, filename),
            )
            count += 1
    return count


def _excerpt(text: str, m: Match, page: int, filename: str) -> dict[str, Any]:
    a, b = max(0, m.start - EXCERPT_CHARS), min(len(text), m.end + EXCERPT_CHARS)
    return {
        "source": "attachment",
        "file": filename,
        "page": page,
        "excerpt": text[a:b],
        "excerpt_span": [m.start - a, m.end - a],
    }


# -- the off-topic rule ----------------------------------------------------------------------------


def _track_topic(session: Session, msg: Message, text: str, tokens: list[str], config: Screening) -> None:
    """Score the message; flag when the conversation's window of scores starts a drift."""
    topic = config.topic
    assert topic is not None
    scored = load_vocabulary(config.reference_dir).score(text, tokens)
    if scored.tokens < topic.min_tokens:
        return  # too short to say anything about the topic
    session.add(
        TopicScore(message_id=msg.id, conversation_id=msg.conversation_id, score=round(scored.score, 4))
    )
    rows = session.execute(
        select(TopicScore.message_id, TopicScore.score)
        .where(TopicScore.conversation_id == msg.conversation_id)
        .order_by(TopicScore.message_id.desc())
        .limit(topic.window)
    ).all()
    if len(rows) < topic.window:
        return
    window = [(int(mid), float(score)) for mid, score in reversed(rows)]
    state = session.get(TopicState, msg.conversation_id)
    decision, mean = drift_decision([s for _, s in window], bool(state and state.drifting), topic)
    if decision == "end" and state is not None:
        state.drifting, state.updated_at = False, datetime.now(UTC)
    elif decision == "start":
        state = _locked_state(session, msg.conversation_id)
        if state.drifting:  # another sender's message started this episode a moment ago
            return
        rule = _topic_rule(session, topic)
        scores = dict(window)
        context = [{**c, "score": scores.get(c["message_id"])} for c in _context(session, msg)]
        details = {
            "source": "topic",
            "mean": round(mean, 4),
            "threshold": topic.threshold,
            "window": [{"message_id": mid, "score": s} for mid, s in window],
            "hits": list(scored.hits),
        }
        flag = _flag(session, msg, rule, text, [0, min(len(text), 500)], context, details)
        session.flush()
        state.drifting, state.flag_id, state.updated_at = True, flag.id, datetime.now(UTC)


def _locked_state(session: Session, conversation_id: int) -> TopicState:
    """The conversation's state row, locked: two messages sent at once cannot both start an episode."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(TopicState)
        .values(conversation_id=conversation_id, drifting=False, updated_at=datetime.now(UTC))
        .on_conflict_do_nothing()
    )
    return session.execute(
        select(TopicState)
        .where(TopicState.conversation_id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _topic_rule(session: Session, topic: TopicSettings) -> LexiconRule:
    """The off-topic rule's version for these parameters: a change of settings makes the next version,
    so every flag names the exact window and threshold that raised it."""
    latest = session.execute(
        select(LexiconRule).where(LexiconRule.kind == "topic").order_by(LexiconRule.id.desc()).limit(1)
    ).scalar_one_or_none()
    pattern = topic.pattern()
    if latest is not None and latest.active and latest.pattern == pattern:
        return latest
    if latest is not None:
        latest.active = False
    name, description = TOPIC_RULE
    rule = LexiconRule(
        key=latest.key if latest else "off-topic",
        version=latest.version + 1 if latest else 1,
        name=name,
        kind="topic",
        pattern=pattern,
        language=None,
        severity="low",
        action="flag",
        description=description,
        created_by_id=None,
    )
    session.add(rule)
    session.flush()
    audit.append(
        session,
        "lexicon.save",
        target_type="lexicon_rule",
        target_id=rule.id,
        details={
            "key": rule.key,
            "version": rule.version,
            "kind": "topic",
            "pattern": pattern,
            "action": "flag",
            "from": "settings",
        },
    )
    return rule


__all__ = ["ATTACHMENT_JOB", "Blocked", "Screening", "lexicon", "screen", "screen_attachment", "warm"]
