"""Send-time screening: lexicon rules and the off-topic rule, in the sender's transaction, so a flag is
in the review queue the moment the message is; attachments' text (parsed, or read by OCR) is screened
by a worker job queued in the same transaction.

Every flag names the rule and its version, the matched span and the conversation context: the few
messages before it, and in `details` where the span lies (an attachment's page, an edit's archive
record) or why the conversation counts as off-topic (the window of scores and their mean).

A message is screened by the rules for everyone and its enterprise's own rules (the conversation's
enterprise), and the off-topic rule follows that enterprise's settings when it has its own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from entrepot import audit, jobs
from entrepot.actions.archive import chain_of
from entrepot.compliance import analysis
from entrepot.compliance.lexicon import Lexicon, Match, Rule, tokens_of
from entrepot.compliance.topic import TopicSettings, drift_decision, load_vocabulary
from entrepot.core.config import Settings
from entrepot.core.errors import Forbidden
from entrepot.db.compliance import Flag, LexiconRule, TopicScore, TopicSetting, TopicState
from entrepot.db.memo import per_transaction
from entrepot.db.messaging import Conversation, Message
from entrepot.db.tables import ArchiveRecord
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
    analysis.warm()
    if screening.topic is not None:
        load_vocabulary(screening.reference_dir)


_cache_lock = threading.Lock()
#: (database, scope) -> (stamp, compiled rules); scope None is the rules for everyone.
_cache: dict[tuple[str, int | None], tuple[tuple[object, ...], Lexicon]] = {}
_NO_RULES: tuple[object, ...] = (0, 0, None)


@dataclass(frozen=True)
class RuleSet:
    """The rules that apply to one enterprise's messages: those for everyone and its own, each
    compiled once per change and shared by every message of that scope."""

    parts: tuple[Lexicon, ...]

    def match(self, text: str, language: str | None, tokens: Sequence[str] | None = None) -> list[Match]:
        toks = tokens_of(text) if tokens is None else tokens
        found = [m for part in self.parts for m in part.match(text, language, toks)]
        return sorted(found, key=lambda m: (m.start, m.rule.id)) if len(self.parts) > 1 else found


def lexicon(session: Session, enterprise_id: int | None = None) -> RuleSet:
    """The active rules for everyone plus those of `enterprise_id`; a scope is compiled again only
    when its rules change (its newest id, count and time, read in one query for both scopes, once
    per transaction: a batch of sends reads them once)."""
    return per_transaction(session, ("lexicon", enterprise_id), lambda: _current_rules(session, enterprise_id))


#: The stamp of the active screened rules of everyone (enterprise NULL) and of one enterprise: built
#: once, as every transaction that sends a message reads it.
_STAMPS = (select(LexiconRule.enterprise_id, func.max(LexiconRule.id), func.count(), func.max(LexiconRule.created_at))
           .where(LexiconRule.active.is_(True), LexiconRule.kind.in_(SCREENED_KINDS),
                  or_(LexiconRule.enterprise_id.is_(None), LexiconRule.enterprise_id == bindparam("enterprise")))
           .group_by(LexiconRule.enterprise_id))


def _current_rules(session: Session, enterprise_id: int | None) -> RuleSet:
    # With no enterprise the comparison with NULL matches nothing: only the rules for everyone.
    stamps = {row[0]: tuple(row[1:]) for row in session.execute(_STAMPS, {"enterprise": enterprise_id}).all()}
    url = str(session.get_bind().engine.url)
    scopes = [None] if enterprise_id is None else [None, enterprise_id]
    parts = [_compiled(session, url, sc, stamps.get(sc, _NO_RULES)) for sc in scopes]
    return RuleSet(tuple(p for p in parts if len(p)) or (parts[0],))


def _compiled(session: Session, url: str, scope: int | None, stamp: tuple[object, ...]) -> Lexicon:
    with _cache_lock:
        cached = _cache.get((url, scope))
        if cached and cached[0] == stamp:
            return cached[1]
    where = LexiconRule.enterprise_id.is_(None) if scope is None else LexiconRule.enterprise_id == scope
    rows = session.execute(
        select(LexiconRule).where(LexiconRule.active.is_(True), LexiconRule.kind.in_(SCREENED_KINDS), where)
    ).scalars().all()
    compiled = Lexicon(
        [
            Rule(r.id, r.version, r.kind, r.pattern, r.language, r.severity, r.action, r.description)
            for r in rows
        ]
    )
    with _cache_lock:
        _cache[(url, scope)] = (stamp, compiled)
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


def screened_text(msg: Message) -> str:
    """The text the rules read: the body, and a quote's product."""
    return " ".join(filter(None, [msg.body, (msg.quote or {}).get("product") if msg.quote else None]))


@dataclass(frozen=True)
class Screened:
    """What the rules found in a message's text before it is stored (see `check`)."""

    text: str
    tokens: list[str]
    matches: list[Match]


def check(session: Session, text: str, enterprise_id: int, language: str | None = None) -> Screened | None:
    """Run every rule on a message's text before it is stored: raise Blocked for a blocking rule,
    otherwise return what `record` flags once the message has its id (None: no text to screen).
    `enterprise_id` is the conversation's; `language` the text's (detected when not given)."""
    if not text.strip():
        return None
    tokens = tokens_of(text)
    language = detect_language(text) if language is None else language
    matches = lexicon(session, enterprise_id).match(text, language, tokens)
    _refuse_blocked(matches)
    return Screened(text, tokens, matches)


Checked = tuple[Message, int, "Screened | None"]  # (the stored message, its enterprise, what check found)


def record(session: Session, checked: Sequence[Checked]) -> None:
    """After the messages are stored, in their order: their attachments' screening jobs, the flags
    of the rules `check` matched, and the off-topic rule (one read and one write for all of them)."""
    for msg, _enterprise_id, screened in checked:
        if msg.attachment and msg.kind in ("image", "file"):
            jobs.enqueue(session, ATTACHMENT_JOB, {"message_id": msg.id})
        if screened is not None and screened.matches:
            context = _context(session, msg)
            for m in screened.matches:
                _flag(session, msg, m.rule, m.matched, [m.start, m.end], context)
    _track_topics(session, [(msg, e, screened) for msg, e, screened in checked if screened is not None])


def _refuse_blocked(matches: list[Match]) -> None:
    blocking = [m for m in matches if m.rule.action == "block"]
    if blocking:
        raise Blocked(
            "This message was not sent: %(why)s", why=blocking[0].rule.description or blocking[0].matched
        )


# -- edits ---------------------------------------------------------------------------------------


def screen_edit(session: Session, msg: Message, before: str | None = None) -> int:
    """Screen a message's new text after an edit (in the edit's transaction, after its archive record):
    a blocking rule refuses the edit; a rule that has not flagged this message yet flags it now, with
    the edit's archive record (its id, the text before and after) as the flag's details. Returns the
    number of new flags. The off-topic score stays the one of the text as sent."""
    text = screened_text(msg)
    if msg.deleted_at is not None or not text.strip():
        return 0
    conv = session.get(Conversation, msg.conversation_id)
    assert conv is not None
    matches = lexicon(session, conv.enterprise_id).match(text, detect_language(text))
    _refuse_blocked(matches)
    seen = set(session.execute(select(Flag.rule_id).where(Flag.message_id == msg.id)).scalars())
    fresh = [m for m in matches if m.rule.id not in seen]
    if not fresh:
        return 0
    record = session.execute(
        select(ArchiveRecord)
        .where(ArchiveRecord.chain == chain_of(msg.conversation_id), ArchiveRecord.action == "message.edit",
               ArchiveRecord.target_id == str(msg.id))
        .order_by(ArchiveRecord.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    details = {
        "source": "edit",
        "record_id": record.id if record else None,
        "edited_at": record.at.isoformat() if record else None,
        "before": (record.details or {}).get("before") if record else before,
        "after": text,
    }
    context = _context(session, msg)
    for m in fresh:
        _flag(session, msg, m.rule, m.matched, [m.start, m.end], context, details)
    return len(fresh)


# -- attachments ---------------------------------------------------------------------------------


def screen_attachment(session: Session, message_id: int, pages: list[tuple[int, str]], filename: str) -> int:
    """Flag what the lexicon finds in an attachment's text (from the worker, after the send committed).
    Each rule flags a message once; a retried job adds nothing. A blocking rule can only flag here:
    the message is already delivered. Returns the number of new flags."""
    msg = session.get(Message, message_id)
    if msg is None or msg.deleted_at is not None:
        return 0
    conv = session.get(Conversation, msg.conversation_id)
    lex = lexicon(session, conv.enterprise_id if conv else None)
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


def topic_settings(session: Session, config: Screening, enterprise_id: int) -> TopicSettings | None:
    """The off-topic rule's parameters for an enterprise's conversations; None when it is off (for the
    whole deployment, or by the enterprise's own setting). An enterprise's threshold replaces the
    deployment's; the window and the minimum words stay the deployment's."""
    if config.topic is None:
        return None
    own = per_transaction(session, ("topic", enterprise_id), lambda: session.get(TopicSetting, enterprise_id))
    if own is None:
        return config.topic
    if not own.enabled:
        return None
    return replace(config.topic, threshold=own.threshold) if own.threshold else config.topic


_scores, _states = cast(Table, TopicScore.__table__), cast(Table, TopicState.__table__)
_ADD_SCORE = insert(_scores)


@lru_cache(maxsize=64)
def _windows_statement(conversations: int) -> Any:
    """The latest `window` scores of each of `conversations` conversations (parameters c0, c1, ...):
    a UNION ALL of index range reads, built once per number of conversations, as building it cost
    more than running it."""
    parts = []
    for k in range(conversations):
        latest = (select(_scores.c.conversation_id, _scores.c.message_id, _scores.c.score)
                  .where(_scores.c.conversation_id == bindparam(f"c{k}"))
                  .order_by(_scores.c.message_id.desc()).limit(bindparam("window")).subquery())
        parts.append(select(latest.c.conversation_id, latest.c.message_id, latest.c.score))
    return union_all(*parts)


def _windows(session: Session, conversation_ids: list[int], window: int) -> dict[int, list[tuple[int, float]]]:
    """Each conversation's latest scores, oldest first, in one statement for all of them."""
    found: dict[int, list[tuple[int, float]]] = {cid: [] for cid in conversation_ids}
    params: dict[str, int] = {f"c{k}": cid for k, cid in enumerate(conversation_ids)}
    rows = session.execute(_windows_statement(len(conversation_ids)), {**params, "window": window}).all()
    for cid, mid, score in sorted(rows, key=lambda r: r[1]):
        found[int(cid)].append((int(mid), float(score)))
    return found


def _track_topics(session: Session, checked: Sequence[Checked]) -> None:
    """Score the messages; flag each whose conversation's window of scores starts a drift. The
    windows and episode states are read once, the scores inserted at once, and each message is then
    decided in order, as if one by one: an episode started by an earlier message counts."""
    config = _screening(session)
    scored = []
    for msg, enterprise_id, screened in checked:
        assert screened is not None
        topic = topic_settings(session, config, enterprise_id)
        if topic is None:
            continue
        result = load_vocabulary(config.reference_dir).score(screened.text, screened.tokens)
        if result.tokens >= topic.min_tokens:  # shorter says nothing about the topic
            scored.append((msg, enterprise_id, screened.text, topic, result))
    if not scored:
        return
    convs = sorted({msg.conversation_id for msg, *_rest in scored})
    session.flush()  # an episode started earlier in this transaction counts (Core reads do not autoflush)
    windows = _windows(session, convs, max(topic.window for *_rest, topic, _r in scored))
    drifting = dict.fromkeys(convs, False)
    drifting.update(session.execute(select(_states.c.conversation_id, _states.c.drifting)
                                    .where(_states.c.conversation_id.in_(convs))).all())
    session.execute(_ADD_SCORE, [{"message_id": msg.id, "conversation_id": msg.conversation_id,
                                  "score": round(result.score, 4)} for msg, *_rest, result in scored])
    for msg, enterprise_id, text, topic, result in scored:
        conv = msg.conversation_id
        windows[conv].append((msg.id, round(result.score, 4)))
        window = windows[conv][-topic.window:]
        if len(window) < topic.window:
            continue
        decision, mean = drift_decision([s for _, s in window], bool(drifting[conv]), topic)
        if decision == "end" and drifting[conv]:
            session.execute(update(_states).where(_states.c.conversation_id == conv)
                            .values(drifting=False, updated_at=datetime.now(UTC)))
            drifting[conv] = False
        elif decision == "start":
            _start_episode(session, msg, text, topic, config, enterprise_id, window, mean, result.hits)
            drifting[conv] = True


def _start_episode(session: Session, msg: Message, text: str, topic: TopicSettings, config: Screening,
                   enterprise_id: int, window: list[tuple[int, float]], mean: float, hits: Sequence[str]) -> None:
    """Flag the message that made its conversation drift, unless another sender's message started
    this episode a moment ago."""
    state = _locked_state(session, msg.conversation_id)
    if state.drifting:
        return
    own = topic != config.topic  # the enterprise's own threshold: its own rule and versions
    rule = _topic_rule(session, topic, enterprise_id if own else None)
    scores = dict(window)
    context = [{**c, "score": scores.get(c["message_id"])} for c in _context(session, msg)]
    details = {
        "source": "topic",
        "mean": round(mean, 4),
        "threshold": topic.threshold,
        "window": [{"message_id": mid, "score": s} for mid, s in window],
        "hits": list(hits),
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


def _topic_rule(session: Session, topic: TopicSettings, enterprise_id: int | None) -> LexiconRule:
    """The off-topic rule's version for these parameters: a change of settings makes the next version,
    so every flag names the exact window and threshold that raised it. An enterprise with its own
    threshold has its own rule (its own key and versions)."""
    key = "off-topic" if enterprise_id is None else f"off-topic-{enterprise_id}"
    latest = session.execute(
        select(LexiconRule)
        .where(LexiconRule.kind == "topic", LexiconRule.key == key)
        .order_by(LexiconRule.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    pattern = topic.pattern()
    if latest is not None and latest.active and latest.pattern == pattern:
        return latest
    if latest is not None:
        latest.active = False
    name, description = TOPIC_RULE
    rule = LexiconRule(
        key=key,
        version=latest.version + 1 if latest else 1,
        name=name,
        kind="topic",
        pattern=pattern,
        language=None,
        severity="low",
        action="flag",
        description=description,
        created_by_id=None,
        enterprise_id=enterprise_id,
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
            "enterprise_id": enterprise_id,
        },
    )
    return rule


__all__ = [
    "ATTACHMENT_JOB",
    "Blocked",
    "RuleSet",
    "Screening",
    "lexicon",
    "screen_attachment",
    "screen_edit",
    "topic_settings",
    "warm",
]
