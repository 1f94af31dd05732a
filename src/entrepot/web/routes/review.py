"""Compliance reviewers: the flag queue, actions on flags, lexicon rules and the archive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from entrepot import policy
from entrepot.actions import compliance
from entrepot.core.errors import EntrepotError, InvalidInput
from entrepot.db.messaging import Message
from entrepot.queries import compliance as q
from entrepot.queries import retention as retention_queries
from entrepot.search import messages as message_search
from entrepot.web.context import Ctx
from entrepot.web.render import page, redirect
from entrepot.web.routes._forms import CsrfField, Review

router = APIRouter(include_in_schema=False)
Opt = Annotated[str | None, Query(max_length=64)]


def _when(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value if len(value) > 10 else value + "T00:00:00").replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput("Dates are written YYYY-MM-DD.", field=field) from exc


@router.get("/review")
def queue(ctx: Review, state: Opt = "open", severity: Opt = None, rule: Opt = None,
          enterprise: int | None = None, sender: Opt = None, since: Opt = None, until: Opt = None,
          rows_only: bool = False) -> Response:
    """The flag queue of the enterprises the reviewer covers; the page polls `rows_only` to stay live."""
    assert ctx.principal is not None
    f = q.FlagFilter(state=state or None, severity=severity or None, rule_key=rule or None, enterprise_id=enterprise,
                     sender=sender or None, since=_when(since, "since"), until=_when(until, "until"))
    with ctx.db.read() as s:
        rows = q.flags(s, ctx.principal, f)
        if rows_only:
            return page(ctx, "_flag_rows.html", rows=rows)
        rules = q.rules(s, ctx.principal)
        enterprises = q.reviewable_enterprises(s, ctx.principal)
    return page(ctx, "review_queue.html", rows=rows, rules=rules, enterprises=enterprises, f=f,
                filters={"state": state or "", "severity": severity or "", "rule": rule or "", "enterprise": enterprise,
                         "sender": sender or "", "since": since or "", "until": until or ""})


@router.get("/review/flags/{flag_id}")
def flag_detail(ctx: Review, flag_id: int, error: str | None = None) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        flag = q.flag(s, ctx.principal, flag_id)
        message = s.get(Message, flag.message_id)
        notes = q.notes(s, flag_id)
        rule = q.rule_of(s, flag)
    return page(ctx, "flag.html", flag=flag, message=message, notes=notes, rule=rule)


@router.post("/review/flags/{flag_id}/act")
def act(ctx: Review, csrf_token: CsrfField, flag_id: int, action: Annotated[str, Form(max_length=12)],
        note: Annotated[str, Form(max_length=4000)] = "") -> Response:
    assert ctx.principal is not None
    try:
        with ctx.db.write() as s:
            compliance.act_on_flag(s, ctx.principal, flag_id, action, note, ip=ctx.ip)
    except EntrepotError as exc:
        with ctx.db.read() as s:
            flag = q.flag(s, ctx.principal, flag_id)
            return page(ctx, "flag.html", status_code=exc.status_code, flag=flag,
                        message=s.get(Message, flag.message_id), notes=q.notes(s, flag_id), rule=q.rule_of(s, flag),
                        error=ctx._(exc.message, **exc.params))
    return redirect(f"/review/flags/{flag_id}")


@router.post("/review/bulk")
def bulk(ctx: Review, csrf_token: CsrfField, action: Annotated[str, Form(max_length=12)],
         flag_ids: Annotated[list[int] | None, Form()] = None, note: Annotated[str, Form(max_length=4000)] = ""
         ) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        for flag_id in (flag_ids or [])[:500]:
            compliance.act_on_flag(s, ctx.principal, flag_id, action, note, ip=ctx.ip)
    return redirect("/review")


def _rules_page(ctx: Ctx, status_code: int = 200, form: dict[str, Any] | None = None,
                error: str | None = None) -> Response:
    """The rules the reviewer sees, which of them they manage, and the off-topic settings they cover."""
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows = q.rules(s, ctx.principal)
        enterprises = q.reviewable_enterprises(s, ctx.principal)
        everyone = bool(policy.may_manage_rules(s, ctx.principal, None))
        topics = q.topic_settings(s, ctx.principal)
    covered = {e.id for e in enterprises}
    managed = {r.id for r in rows if (everyone if r.enterprise_id is None else r.enterprise_id in covered)}
    return page(ctx, "rules.html", status_code=status_code, rules=rows, form=form or {}, error=error,
                enterprises=enterprises, names={e.id: e.name for e in enterprises}, everyone=everyone,
                managed=managed, topics=topics)


@router.get("/review/rules")
def rules(ctx: Review) -> Response:
    return _rules_page(ctx)


@router.post("/review/rules")
def save_rule(ctx: Review, csrf_token: CsrfField, name: Annotated[str, Form(max_length=300)],
              kind: Annotated[str, Form(max_length=8)], pattern: Annotated[str, Form(max_length=2000)],
              severity: Annotated[str, Form(max_length=8)], action: Annotated[str, Form(max_length=8)] = "flag",
              language: Annotated[str, Form(max_length=8)] = "",
              description: Annotated[str, Form(max_length=3000)] = "",
              replaces: Annotated[int | None, Form()] = None,
              scope: Annotated[str, Form(max_length=20)] = "") -> Response:
    """A rule for everyone (`scope` empty: the compliance authority only) or for one enterprise."""
    assert ctx.principal is not None
    form = {"name": name, "kind": kind, "pattern": pattern, "severity": severity, "action": action,
            "language": language, "description": description, "scope": scope}
    try:
        enterprise_id = _scope(scope)
        with ctx.db.write() as s:
            compliance.save_rule(s, ctx.principal, name=name, kind=kind, pattern=pattern, severity=severity,
                                 action=action, language=language or None, description=description, replaces=replaces,
                                 enterprise_id=enterprise_id)
    except EntrepotError as exc:
        return _rules_page(ctx, exc.status_code, form, ctx._(exc.message, **exc.params))
    return redirect("/review/rules")


def _scope(value: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidInput("No such enterprise.", field="scope") from exc


@router.post("/review/rules/{rule_id}/retire")
def retire(ctx: Review, csrf_token: CsrfField, rule_id: int) -> Response:
    assert ctx.principal is not None
    try:
        with ctx.db.write() as s:
            compliance.retire_rule(s, ctx.principal, rule_id)
    except EntrepotError as exc:
        return _rules_page(ctx, exc.status_code, error=ctx._(exc.message, **exc.params))
    return redirect("/review/rules")


@router.post("/review/offtopic/{enterprise_id}")
def offtopic(ctx: Review, csrf_token: CsrfField, enterprise_id: int,
             enabled: Annotated[str, Form(max_length=8)] = "",
             threshold: Annotated[str, Form(max_length=20)] = "") -> Response:
    """An enterprise's own off-topic settings: on or off, and its threshold (empty: the deployment's)."""
    assert ctx.principal is not None
    try:
        value = float(threshold) if threshold.strip() else None
    except ValueError:
        return _rules_page(ctx, 400, error=ctx._("The threshold is a number between 0 and 1."))
    try:
        with ctx.db.write() as s:
            compliance.set_topic_setting(s, ctx.principal, enterprise_id, enabled=bool(enabled), threshold=value)
    except EntrepotError as exc:
        return _rules_page(ctx, exc.status_code, error=ctx._(exc.message, **exc.params))
    return redirect("/review/rules")


@router.get("/review/conversations/{conversation_id}")
def archive_view(ctx: Review, conversation_id: int, at: Opt = None) -> Response:
    """The conversation as it stood at `at` (default: now), edits and deletions included."""
    assert ctx.principal is not None
    with ctx.db.read() as s:
        q.conversation(s, ctx.principal, conversation_id)
        messages = q.conversation_at(s, conversation_id, _when(at, "at"))
        cut = retention_queries.cut_of(s, conversation_id)
    return page(ctx, "archive.html", messages=messages, conversation_id=conversation_id, at=at or "", cut=cut)


@router.get("/review/search")
def archive_search(ctx: Review, q_text: Annotated[str, Query(alias="q", max_length=10_000)] = "") -> Response:
    """The archive in the reviewer's scope, with the library's analysers; originals of edited and
    deleted messages included (search.messages)."""
    assert ctx.principal is not None
    with ctx.db.read() as s:
        result = message_search.search_archive(s, ctx.principal, q_text) if q_text.strip() else None
    return page(ctx, "archive_search.html", q=q_text, result=result)
