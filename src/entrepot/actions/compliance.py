"""Lexicon rules, send-time screening of messages, and reviewers' work on the flags."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from entrepot import audit, policy
from entrepot.actions import validate
from entrepot.actions.screening import (  # noqa: F401 - callers use these names
    CONTEXT_MESSAGES,
    Blocked,
    lexicon,
    screen_edit,
)
from entrepot.compliance.lexicon import check_regex
from entrepot.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from entrepot.core.types import Principal
from entrepot.db.compliance import Flag, FlagNote, LexiconRule, TopicSetting
from entrepot.db.tables import Enterprise

KINDS = ("word", "phrase", "regex")
SEVERITIES = ("low", "medium", "high")
RULE_LANGUAGES = ("ko", "zh-Hans", "zh-Hant", "ja", "en")


def _reviewer(actor: Principal) -> None:
    if not policy.allows(actor, policy.Action.REVIEW):
        raise Forbidden("Only compliance reviewers can do this.")


def _may_manage(session: Session, actor: Principal, enterprise_id: int | None) -> None:
    decision = policy.may_manage_rules(session, actor, enterprise_id)
    if not decision:
        raise Forbidden(decision.reason or "This is outside your review scope.")


def _visible_rule(session: Session, actor: Principal, rule_id: int) -> LexiconRule:
    """An active rule the reviewer can see; any other is not there for them."""
    rule = session.execute(select(LexiconRule).where(
        LexiconRule.id == rule_id, LexiconRule.active.is_(True), policy.rule_clause(actor, LexiconRule.enterprise_id))
    ).scalar_one_or_none()
    if rule is None:
        raise NotFound("No such rule.")
    return rule


def save_rule(session: Session, actor: Principal, *, name: str, kind: str, pattern: str, severity: str,
              action: str = "flag", language: str | None = None, description: str = "",
              replaces: int | None = None, enterprise_id: int | None = None) -> LexiconRule:
    """A new rule, or (with `replaces`) the next version of one; the old version stops matching.
    `enterprise_id` None makes a rule for everyone (the compliance authority only); a new version keeps
    the scope of the rule it replaces."""
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
        old = _visible_rule(session, actor, replaces)
        if old.kind == "topic":
            raise InvalidInput("The off-topic rule follows its settings.")
        enterprise_id = old.enterprise_id
        _may_manage(session, actor, enterprise_id)
        old.active = False
        key, version = old.key, old.version + 1
    else:
        if enterprise_id is not None and session.get(Enterprise, enterprise_id) is None:
            raise InvalidInput("No such enterprise.", field="enterprise_id")
        _may_manage(session, actor, enterprise_id)
    rule = LexiconRule(key=key, version=version, name=validate.clean_text(name, "name", max_len=200), kind=kind,
                       pattern=text, language=language or None, severity=severity, action=action,
                       description=validate.clean_text(description, "description", max_len=2000, required=False),
                       created_by_id=actor.user_id, enterprise_id=enterprise_id)
    session.add(rule)
    session.flush()
    audit.append(session, "lexicon.save", actor=actor, target_type="lexicon_rule", target_id=rule.id,
                 details={"key": key, "version": version, "kind": kind, "pattern": text, "action": action,
                          "enterprise_id": enterprise_id})
    return rule


def retire_rule(session: Session, actor: Principal, rule_id: int) -> None:
    _reviewer(actor)
    rule = _visible_rule(session, actor, rule_id)
    if rule.kind == "topic":
        raise InvalidInput(
            "The off-topic rule follows the settings; turn it off in the off-topic settings.")
    _may_manage(session, actor, rule.enterprise_id)
    rule.active = False
    audit.append(session, "lexicon.retire", actor=actor, target_type="lexicon_rule", target_id=rule.id,
                 details={"enterprise_id": rule.enterprise_id})


def set_topic_setting(session: Session, actor: Principal, enterprise_id: int, *, enabled: bool,
                      threshold: float | None) -> TopicSetting:
    """An enterprise's own off-topic settings: on or off, and its threshold (None: the deployment's)."""
    _reviewer(actor)
    if session.get(Enterprise, enterprise_id) is None:
        raise NotFound("No such enterprise.")
    _may_manage(session, actor, enterprise_id)
    if threshold is not None and not 0 < threshold < 1:
        raise InvalidInput("The threshold is a number between 0 and 1.", field="threshold")
    row = session.get(TopicSetting, enterprise_id)
    if row is None:
        row = TopicSetting(enterprise_id=enterprise_id)
        session.add(row)
    row.enabled, row.threshold = enabled, threshold
    row.updated_by_id, row.updated_at = actor.user_id, datetime.now(UTC)
    session.flush()
    audit.append(session, "offtopic.settings", actor=actor, target_type="enterprise", target_id=enterprise_id,
                 details={"enabled": enabled, "threshold": threshold})
    return row


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
    flag = session.execute(select(Flag).where(Flag.id == flag_id, policy.review_clause(actor, Flag.enterprise_id))
                           ).scalar_one_or_none()  # a flag outside the reviewer's scope is not there
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
