"""Administration pages: approvals queue, users, enterprises, audit viewer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from entrepot import policy
from entrepot.actions import accounts, approvals
from entrepot.core.errors import EntrepotError, InvalidInput, NotFound
from entrepot.core.types import Level, Role, UserKind, UserStatus
from entrepot.queries import accounts as account_queries
from entrepot.queries import audit as audit_queries
from entrepot.web.render import page, redirect
from entrepot.web.routes._forms import Approvals, AuditView, CsrfField, EnterprisesAdmin, UsersAdmin

router = APIRouter(include_in_schema=False)


@router.get("/approvals")
def approvals_queue(ctx: Approvals, error: str | None = None) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        requests = approvals.pending_for(s, ctx.principal)
        documents = approvals.documents_of(s, requests)
    return page(ctx, "approvals.html", requests=requests, documents=documents,
                authorities=policy.approval_authorities(ctx.principal))


@router.post("/approvals/{request_id}/decide")
def decide(ctx: Approvals, csrf_token: CsrfField, request_id: int, authority: Annotated[str, Form(max_length=20)],
           decision: Annotated[str, Form(max_length=20)],
           reason: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    assert ctx.principal is not None
    if decision not in ("approve", "reject"):
        raise InvalidInput("Unknown decision.", field="decision")
    try:
        with ctx.db.write() as s:
            approvals.decide(s, ctx.principal, request_id, authority, decision == "approve", reason, ip=ctx.ip)
    except EntrepotError as exc:
        with ctx.db.read() as s:
            requests = approvals.pending_for(s, ctx.principal)
            documents = approvals.documents_of(s, requests)
        return page(ctx, "approvals.html", status_code=exc.status_code, requests=requests, documents=documents,
                    authorities=policy.approval_authorities(ctx.principal),
                    error=ctx._(exc.message, **exc.params))
    return redirect("/approvals")


@router.get("/users")
def users(ctx: UsersAdmin, status: Annotated[str | None, Query(max_length=20)] = None,
          enterprise: Annotated[int | None, Query()] = None, q: Annotated[str | None, Query(max_length=100)] = None,
          page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1) -> Response:
    assert ctx.principal is not None
    status = status if status in {s.value for s in UserStatus} else None
    with ctx.db.read() as s:
        rows, total = account_queries.list_users(s, ctx.principal, account_queries.UserFilter(
            status=status, enterprise_id=enterprise, text=q, page=page_no))
        enterprises = account_queries.list_enterprises(s)
    return page(ctx, "users.html", users=rows, total=total, enterprises=enterprises, status=status or "",
                enterprise=enterprise, q=q or "", page_no=page_no, page_size=account_queries.PAGE_SIZE)


def _new_user_page(ctx: UsersAdmin, status_code: int = 200, **extra: object) -> Response:
    with ctx.db.read() as s:
        enterprises = account_queries.list_enterprises(s)
    return page(ctx, "user_new.html", status_code=status_code, enterprises=enterprises, roles=list(Role),
                kinds=list(UserKind), levels=list(Level), **extra)


@router.get("/users/new")
def new_user_form(ctx: UsersAdmin) -> Response:
    return _new_user_page(ctx, form={})


@router.post("/users")
def create_user(ctx: UsersAdmin, csrf_token: CsrfField, enterprise_id: Annotated[int, Form()],
                username: Annotated[str, Form(max_length=200)], display_name: Annotated[str, Form(max_length=500)],
                password: Annotated[str, Form(max_length=1000)], kind: Annotated[str, Form(max_length=20)],
                clearance: Annotated[str, Form(max_length=20)],
                roles: Annotated[list[str] | None, Form(max_length=40)] = None) -> Response:
    form = {"enterprise_id": enterprise_id, "username": username, "display_name": display_name, "kind": kind,
            "clearance": clearance, "roles": roles or []}
    try:
        with ctx.db.write() as s:
            user = accounts.create_user(s, ctx.settings, ctx.principal, enterprise_id=enterprise_id,
                                        username=username, display_name=display_name, password=password,
                                        kind=kind, roles=roles or [], clearance=clearance, ip=ctx.ip)
    except EntrepotError as exc:
        return _new_user_page(ctx, exc.status_code, form=form, error=ctx._(exc.message, **exc.params),
                              error_field=exc.field)
    return redirect(f"/users/{user.id}")


def _user_page(ctx: UsersAdmin, user_id: int, status_code: int = 200, **extra: object) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        user = account_queries.visible_user(s, ctx.principal, user_id)
        if user is None:
            raise NotFound("No such user.")
        history, _ = audit_queries.list_records(s, ctx.principal, audit_queries.AuditFilter(
            target_type="user", target_id=str(user_id)))
    return page(ctx, "user_detail.html", status_code=status_code, user=user, roles=list(Role),
                levels=list(Level), history=history, can_manage=bool(policy.may_manage_user(ctx.principal, user)),
                **extra)


@router.get("/users/{user_id}")
def user_detail(ctx: UsersAdmin, user_id: int) -> Response:
    return _user_page(ctx, user_id)


def _user_change(ctx: UsersAdmin, user_id: int, change: object) -> Response:
    """Run one account change; on a refusal show the user page with the reason."""
    try:
        with ctx.db.write() as s:
            change(s)  # type: ignore[operator]
    except EntrepotError as exc:
        return _user_page(ctx, user_id, exc.status_code, error=ctx._(exc.message, **exc.params))
    return redirect(f"/users/{user_id}")


@router.post("/users/{user_id}/status")
def change_status(ctx: UsersAdmin, csrf_token: CsrfField, user_id: int, change: Annotated[str, Form(max_length=20)],
                  reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    assert ctx.principal is not None
    p = ctx.principal
    return _user_change(ctx, user_id, lambda s: accounts.change_status(s, p, user_id, change, reason, ip=ctx.ip))


@router.post("/users/{user_id}/roles")
def set_roles(ctx: UsersAdmin, csrf_token: CsrfField, user_id: int,
              roles: Annotated[list[str] | None, Form(max_length=40)] = None) -> Response:
    assert ctx.principal is not None
    p = ctx.principal
    return _user_change(ctx, user_id, lambda s: accounts.set_roles(s, p, user_id, roles or [], ip=ctx.ip))


@router.post("/users/{user_id}/clearance")
def change_clearance(ctx: UsersAdmin, csrf_token: CsrfField, user_id: int,
                     clearance: Annotated[str, Form(max_length=20)],
                     reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Raising files a request for two approvals; lowering takes effect at once."""
    assert ctx.principal is not None
    p = ctx.principal

    def change(s: object) -> None:
        user = accounts.get_user(s, user_id)  # type: ignore[arg-type]
        try:
            target = Level.parse(clearance)
        except (KeyError, ValueError) as exc:
            raise InvalidInput("Unknown clearance level.", field="clearance") from exc
        if target > user.clearance:
            accounts.request_clearance(s, p, user_id, target, reason, ip=ctx.ip)  # type: ignore[arg-type]
        else:
            accounts.lower_clearance(s, p, user_id, target, ip=ctx.ip)  # type: ignore[arg-type]

    return _user_change(ctx, user_id, change)


@router.get("/enterprises")
def enterprises(ctx: EnterprisesAdmin) -> Response:
    with ctx.db.read() as s:
        rows = account_queries.list_enterprises(s)
        counts = account_queries.user_counts_by_enterprise(s)
    return page(ctx, "enterprises.html", enterprises=rows, counts=counts, form={})


@router.post("/enterprises")
def create_enterprise(ctx: EnterprisesAdmin, csrf_token: CsrfField, name: Annotated[str, Form(max_length=500)],
                      country: Annotated[str | None, Form(max_length=10)] = None) -> Response:
    try:
        with ctx.db.write() as s:
            accounts.create_enterprise(s, ctx.principal, name, country, ip=ctx.ip)
    except EntrepotError as exc:
        with ctx.db.read() as s:
            rows = account_queries.list_enterprises(s)
            counts = account_queries.user_counts_by_enterprise(s)
        return page(ctx, "enterprises.html", status_code=exc.status_code, enterprises=rows, counts=counts,
                    form={"name": name, "country": country}, error=ctx._(exc.message, **exc.params))
    return redirect("/enterprises")


def _parse_day(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput("Dates are written YYYY-MM-DD.", field=field) from exc


@router.get("/audit")
def audit_viewer(ctx: AuditView, action: Annotated[str | None, Query(max_length=64)] = None,
                 actor: Annotated[str | None, Query(max_length=64)] = None,
                 target_type: Annotated[str | None, Query(max_length=32)] = None,
                 target_id: Annotated[str | None, Query(max_length=64)] = None,
                 since: Annotated[str | None, Query(max_length=10)] = None,
                 until: Annotated[str | None, Query(max_length=10)] = None,
                 page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> Response:
    assert ctx.principal is not None
    f = audit_queries.AuditFilter(action=action or None, actor=actor or None, target_type=target_type or None,
                                  target_id=target_id or None, since=_parse_day(since, "since"),
                                  until=_parse_day(until, "until"), page=page_no)
    with ctx.db.read() as s:
        records, total = audit_queries.list_records(s, ctx.principal, f)
        actions = audit_queries.action_names(s, ctx.principal)
    return page(ctx, "audit.html", records=records, total=total, actions=actions,
                filters={"action": action or "", "actor": actor or "", "target_type": target_type or "",
                         "target_id": target_id or "", "since": since or "", "until": until or ""},
                page_no=page_no, page_size=audit_queries.PAGE_SIZE)
