"""Legal holds (compliance reviewers) and retention periods (administrators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from entrepot.actions import retention
from entrepot.core.errors import EntrepotError
from entrepot.queries import retention as q
from entrepot.web.context import Ctx
from entrepot.web.render import page, redirect
from entrepot.web.routes._forms import CsrfField, EnterprisesAdmin, Review

router = APIRouter(include_in_schema=False)
Reason = Annotated[str, Form(max_length=4000)]


def _holds_page(ctx: Ctx, status_code: int = 200, **extra: Any) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        rows = q.holds(s, ctx.principal)
    return page(ctx, "holds.html", status_code=status_code, rows=rows, **{"form": {}, **extra})


@router.get("/review/holds")
def holds(ctx: Review, conversation: int | None = None, user: Annotated[str, Query(max_length=64)] = "") -> Response:
    """Holds in the reviewer's scope; `conversation` or `user` fills in the form."""
    form = {"kind": "conversation", "target": str(conversation)} if conversation else {"kind": "user", "target": user}
    return _holds_page(ctx, form=form)


@router.post("/review/holds")
def place_hold(ctx: Review, csrf_token: CsrfField, kind: Annotated[str, Form(max_length=16)],
               target: Annotated[str, Form(max_length=200)], reason: Reason) -> Response:
    """Place a legal hold on a user (by username) or a conversation (by number), with a reason."""
    assert ctx.principal is not None
    try:
        with ctx.db.write() as s:
            retention.place_hold(s, ctx.principal, kind, target, reason, ip=ctx.ip)
    except EntrepotError as exc:
        return _holds_page(ctx, exc.status_code, error=ctx._(exc.message, **exc.params),
                           form={"kind": kind, "target": target, "reason": reason})
    return redirect("/review/holds")


@router.post("/review/holds/{hold_id}/release")
def release_hold(ctx: Review, csrf_token: CsrfField, hold_id: int, reason: Reason = "") -> Response:
    assert ctx.principal is not None
    try:
        with ctx.db.write() as s:
            retention.release_hold(s, ctx.principal, hold_id, reason, ip=ctx.ip)
    except EntrepotError as exc:
        return _holds_page(ctx, exc.status_code, error=ctx._(exc.message, **exc.params))
    return redirect("/review/holds")


def _periods_page(ctx: Ctx, status_code: int = 200, **extra: Any) -> Response:
    with ctx.db.read() as s:
        rows, runs = q.periods(s), q.last_runs(s)
    return page(ctx, "retention.html", status_code=status_code, rows=rows, runs=runs,
                min_days=retention.MIN_DAYS, max_days=retention.MAX_DAYS, **extra)


@router.get("/enterprises/retention")
def periods(ctx: EnterprisesAdmin) -> Response:
    return _periods_page(ctx)


@router.post("/enterprises/{enterprise_id}/retention")
def set_period(ctx: EnterprisesAdmin, csrf_token: CsrfField, enterprise_id: int,
               days: Annotated[str, Form(max_length=12)]) -> Response:
    """Set an enterprise's retention period in days; the next nightly run applies it."""
    assert ctx.principal is not None
    try:
        with ctx.db.write() as s:
            retention.set_retention(s, ctx.principal, enterprise_id, days, ip=ctx.ip)
    except EntrepotError as exc:
        return _periods_page(ctx, exc.status_code, error=ctx._(exc.message, **exc.params))
    return redirect("/enterprises/retention")
