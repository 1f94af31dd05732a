"""Compliance reviewers: the flag queue, actions on flags, lexicon rules and the archive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from entrepot import audit
from entrepot.actions import compliance
from entrepot.blobs import BlobStore
from entrepot.compliance import export as export_mod
from entrepot.core.errors import EntrepotError, InvalidInput, NotFound
from entrepot.db.compliance import Flag
from entrepot.db.messaging import Message
from entrepot.queries import accounts as account_queries
from entrepot.queries import compliance as q
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
          enterprise: int | None = None, sender: Opt = None, since: Opt = None, until: Opt = None) -> Response:
    f = q.FlagFilter(state=state or None, severity=severity or None, rule_key=rule or None, enterprise_id=enterprise,
                     sender=sender or None, since=_when(since, "since"), until=_when(until, "until"))
    with ctx.db.read() as s:
        rows = q.flags(s, f)
        rules = q.rules(s)
        enterprises = account_queries.list_enterprises(s)
    return page(ctx, "review_queue.html", rows=rows, rules=rules, enterprises=enterprises, f=f,
                filters={"state": state or "", "severity": severity or "", "rule": rule or "", "enterprise": enterprise,
                         "sender": sender or "", "since": since or "", "until": until or ""})


@router.get("/review/flags/{flag_id}")
def flag_detail(ctx: Review, flag_id: int, error: str | None = None) -> Response:
    with ctx.db.read() as s:
        flag = s.get(Flag, flag_id)
        if flag is None:
            raise NotFound("No such flag.")
        message = s.get(Message, flag.message_id)
        notes = q.notes(s, flag_id)
        rule = next(r for r in q.rules(s) if r.id == flag.rule_id)
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
            flag = s.get(Flag, flag_id)
            if flag is None:
                raise
            return page(ctx, "flag.html", status_code=exc.status_code, flag=flag, message=s.get(Message, flag.message_id),
                        notes=q.notes(s, flag_id), rule=next(r for r in q.rules(s) if r.id == flag.rule_id),
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


@router.get("/review/rules")
def rules(ctx: Review) -> Response:
    with ctx.db.read() as s:
        rows = q.rules(s)
    return page(ctx, "rules.html", rules=rows, form={})


@router.post("/review/rules")
def save_rule(ctx: Review, csrf_token: CsrfField, name: Annotated[str, Form(max_length=300)],
              kind: Annotated[str, Form(max_length=8)], pattern: Annotated[str, Form(max_length=2000)],
              severity: Annotated[str, Form(max_length=8)], action: Annotated[str, Form(max_length=8)] = "flag",
              language: Annotated[str, Form(max_length=8)] = "", description: Annotated[str, Form(max_length=3000)] = "",
              replaces: Annotated[int | None, Form()] = None) -> Response:
    assert ctx.principal is not None
    form = {"name": name, "kind": kind, "pattern": pattern, "severity": severity, "action": action,
            "language": language, "description": description}
    try:
        with ctx.db.write() as s:
            compliance.save_rule(s, ctx.principal, name=name, kind=kind, pattern=pattern, severity=severity,
                                 action=action, language=language or None, description=description, replaces=replaces)
    except EntrepotError as exc:
        with ctx.db.read() as s:
            rows = q.rules(s)
        return page(ctx, "rules.html", status_code=exc.status_code, rules=rows, form=form,
                    error=ctx._(exc.message, **exc.params))
    return redirect("/review/rules")


@router.post("/review/rules/{rule_id}/retire")
def retire(ctx: Review, csrf_token: CsrfField, rule_id: int) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        compliance.retire_rule(s, ctx.principal, rule_id)
    return redirect("/review/rules")


@router.get("/review/conversations/{conversation_id}")
def archive_view(ctx: Review, conversation_id: int, at: Opt = None) -> Response:
    """The conversation as it stood at `at` (default: now), edits and deletions included."""
    with ctx.db.read() as s:
        messages = q.conversation_at(s, conversation_id, _when(at, "at"))
    return page(ctx, "archive.html", messages=messages, conversation_id=conversation_id, at=at or "")


@router.get("/review/export")
def export(ctx: Review, scope: Annotated[str, Query(max_length=16)], id: int, since: Opt = None,
           until: Opt = None) -> Response:
    """A ZIP of records.jsonl, one EML per chat message with attachments, and manifest.json; audited."""
    assert ctx.principal is not None
    if scope not in ("conversation", "user", "enterprise"):
        raise InvalidInput("Export a conversation, a user or an enterprise.", field="scope")
    window = export_mod.Scope(scope, id, _when(since, "since"), _when(until, "until"))
    with ctx.db.write() as s:
        path, count = export_mod.write_export(s, window, BlobStore(ctx.settings.blob_dir))
        audit.append(s, "archive.export", actor=ctx.principal, target_type=scope, target_id=id, ip=ctx.ip,
                     details={"since": since, "until": until, "records": count})
    return FileResponse(path, media_type="application/zip", filename=f"entrepot-{scope}-{id}.zip",
                        background=BackgroundTask(path.unlink, missing_ok=True))
