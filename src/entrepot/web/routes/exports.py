"""Reviewers' exports: ask for one, watch its progress while the worker writes it, download it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form
from starlette.responses import FileResponse, Response

from entrepot.actions import exports
from entrepot.core.errors import EntrepotError, InvalidInput
from entrepot.queries import compliance as compliance_queries
from entrepot.queries import retention as q
from entrepot.web.context import Ctx
from entrepot.web.render import page, redirect
from entrepot.web.routes._forms import CsrfField, Review

router = APIRouter(include_in_schema=False)
DateField = Annotated[str, Form(max_length=32)]


def _date(value: str, field: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput("Dates are written YYYY-MM-DD.", field=field) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _exports_page(ctx: Ctx, status_code: int = 200, **extra: Any) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows = q.exports(s, ctx.principal)
        enterprises = compliance_queries.reviewable_enterprises(s, ctx.principal)
    return page(ctx, "exports.html", status_code=status_code, rows=rows, enterprises=enterprises,
                **{"form": {}, **extra})


@router.get("/review/exports")
def list_exports(ctx: Review, scope: str = "", target: str = "") -> Response:
    return _exports_page(ctx, form={"scope": scope[:16], "target": target[:200]})


@router.post("/review/exports")
def request_export(ctx: Review, csrf_token: CsrfField, scope: Annotated[str, Form(max_length=16)],
                   target: Annotated[str, Form(max_length=200)], since: DateField = "",
                   until: DateField = "") -> Response:
    """Queue an export (EML, JSON Lines, manifest) of a conversation, a user or an enterprise;
    only within the reviewer's scope. The worker writes it; its page shows the progress."""
    assert ctx.principal is not None
    form = {"scope": scope, "target": target, "since": since, "until": until}
    try:
        start, end = _date(since, "since"), _date(until, "until")
        with ctx.db.write() as s:
            job = exports.request_export(s, ctx.principal, scope, target, start, end, ip=ctx.ip)
            export_id = job.id
    except EntrepotError as exc:
        return _exports_page(ctx, exc.status_code, error=ctx._(exc.message, **exc.params), form=form)
    return redirect(f"/review/exports/{export_id}")


@router.get("/review/exports/{export_id}")
def export_page(ctx: Review, export_id: int, progress_only: bool = False) -> Response:
    """The export's progress; the page polls `progress_only` until the file is ready."""
    assert ctx.principal is not None
    with ctx.db.read() as s:
        job = exports.export_of(s, ctx.principal, export_id)
    return page(ctx, "_export_progress.html" if progress_only else "export.html", export=job)


@router.get("/review/exports/{export_id}/download")
def download(ctx: Review, export_id: int) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        job, path = exports.download(s, ctx.settings, ctx.principal, export_id, ip=ctx.ip)
        name = f"entrepot-{job.scope}-{job.scope_id}-{job.id}.zip"
    return FileResponse(path, media_type="application/zip", filename=name)

