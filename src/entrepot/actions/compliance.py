"""Lexicon rules, send-time screening of messages, and reviewers' work on the flags."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entrepot import audit, policy
from entrepot.actions import validate
from entrepot.compliance.lexicon import Lexicon, Rule, check_regex
from entrepot.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from entrepot.core.types import Principal
from entrepot.db.compliance import Flag, FlagNote, LexiconRule
from entrepot.db.messaging import Conversation, Message

KINDS = ("word", "phrase", "regex")
SEVERITIES = ("low", "medium", "high")
RULE_LANGUAGES = ("ko", "zh-Hans", "zh-Hant", "ja", "en")
CONTEXT_MESSAGES = 3


class Blocked(Forbidden):
    """A rule set to block stopped the message; the sender is told why."""


def _reviewer(actor: Principal) -> None:
    if not policy.allows(actor, policy.Action.REVIEW):
        raise Forbidden("Only compliance reviewers can do this.")


def save_rule(session: Session, actor: Principal, *, name: str, kind: str, pattern: str, severity: str,
              action: str = "flag", language: str | None = None, description: str = "",
              replaces: int | None = None) -> LexiconRule:
    """A new rule, or (with `replaces`) the next version of one; the old version stops matching."""
    _reviewer(actor)
    if kind not in KINDS or severity not in SEVERITIES or action not in ("flag", "block"):
        raise InvalidInput("Choose a kind, a severity and an action from the lists.", field="kind")
    if language and language not in RULE_LANGUAGES:
        raise InvalidInput("Unknown language.", field="language")
    text = validate.clean_text(pattern, "pattern", max_len=1000)
    if kind == "regex":
        check_regex(text)
    key, version = uuid.uuid4().hex, 1
    if replaces is not None:
        old = session.get(LexiconRule, replaces)
        if old is None or not old.active:
            raise NotFound("No such rule.")
        old.active = False
        key, version = old.key, old.version + 1
    rule = LexiconRule(key=key, version=version, name=validate.clean_text(name, "name", max_len=200), kind=kind,
                       pattern=text, language=language or None, severity=severity, action=action,
                       description=validate.clean_text(description, "description", max_len=2000, required=False),
                       created_by_id=actor.user_id)
    session.add(rule)
    session.flush()
    audit.append(session, "lexicon.save", actor=actor, target_type="lexicon_rule", target_id=rule.id,
                 details={"key": key, "version": version, "kind": kind, "pattern": text, "action": action})
    return rule


def retire_rule(session: Session, actor: Principal, rule_id: int) -> None:
    _reviewer(actor)
    rule = session.get(LexiconRule, rule_id)
    if rule is None or not rule.active:
        raise NotFound("No such rule.")
    rule.active = False
    audit.append(session, "lexicon.retire", actor=actor, target_type="lexicon_rule", target_id=rule.id)


_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[object, ...], Lexicon]] = {}


def lexicon(session: Session) -> Lexicon:
    """The active rules, compiled once per change (keyed by newest id and count) and shared."""
    stamp = tuple(session.execute(select(func.coalesce(func.max(LexiconRule.id), 0), func.count(),
                                         func.max(LexiconRule.created_at))
                                  .where(LexiconRule.active.is_(True))).one())
    url = str(session.get_bind().url)
    with _cache_lock:
        cached = _cache.get(url)
        if cached and cached[0] == stamp:
            return cached[1]
    rows = session.execute(select(LexiconRule).where(LexiconRule.active.is_(True))).scalars().all()
    compiled = Lexicon([Rule(r.id, r.version, r.kind, r.pattern, r.language, r.severity, r.action, r.description)
                        for r in rows])
    with _cache_lock:
        _cache[url] = (stamp, compiled)
    return compiled


def screen(session: Session, msg: Message, language: str | None) -> None:
    """Run every rule on a message being sent, in its transaction: block it, or flag it for review."""
    text = " ".join(filter(None, [msg.body, (msg.quote or {}).get("product") if msg.quote else None]))
    if not text.strip():
        return
    matches = lexicon(session).match(text, language)
    blocking = [m for m in matches if m.rule.action == "block"]
    if blocking:
        raise Blocked("This message was not sent: %(why)s", why=blocking[0].rule.description or blocking[0].matched)
    if not matches:
        return
    conv = session.get(Conversation, msg.conversation_id)
    assert conv is not None
    before = session.execute(select(Message).where(Message.conversation_id == msg.conversation_id,
                                                   Message.id < msg.id).order_by(Message.id.desc())
                             .limit(CONTEXT_MESSAGES)).scalars().all()
    context = [{"message_id": m.id, "sender_id": m.sender_id, "body": m.body} for m in reversed(before)]
    for m in matches:
        session.add(Flag(message_id=msg.id, conversation_id=msg.conversation_id, enterprise_id=conv.enterprise_id,
                         sender_id=msg.sender_id, rule_id=m.rule.id, rule_version=m.rule.version,
                         severity=m.rule.severity, matched=m.matched, span=[m.start, m.end], context=context))


TRANSITIONS = {
    "claim": ({"open", "escalated"}, "claimed"),
    "clear": ({"open", "claimed", "escalated"}, "cleared"),
    "escalate": ({"open", "claimed"}, "escalated"),
    "reopen": ({"cleared"}, "open"),
    "note": (None, None),
}


def act_on_flag(session: Session, actor: Principal, flag_id: int, action: str, note: str = "",
                *, ip: str | None = None) -> Flag:
    """claim, clear (with a reason), escalate, reopen, or note; every step is audited."""
    _reviewer(actor)
    if action not in TRANSITIONS:
        raise InvalidInput("Unknown action.", field="action")
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise NotFound("No such flag.")
    allowed, target = TRANSITIONS[action]
    text = validate.clean_text(note, "note", max_len=4000, required=action in ("clear", "note"))
    if allowed is not None:
        if flag.state not in allowed:
            raise Conflict("This flag's state does not allow that.")
        flag.state = target  # type: ignore[assignment]
        flag.claimed_by_id = actor.user_id if action == "claim" else flag.claimed_by_id
    flag.updated_at = datetime.now(UTC)
    session.add(FlagNote(flag_id=flag.id, author_id=actor.user_id, action=action, note=text))
    audit.append(session, f"flag.{action}", actor=actor, target_type="flag", target_id=flag.id, ip=ip,
                 details={"state": flag.state, "note": text or None})
    return flag
