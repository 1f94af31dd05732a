"""The signed-in user's own account: password, language, API tokens; the enterprise directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from entrepot.actions import accounts, auth
from entrepot.core.errors import EntrepotError, InvalidInput
from entrepot.queries import accounts as account_queries
from entrepot.web.render import page, redirect
from entrepot.web.routes._forms import CsrfField, Directory, SignedIn

router = APIRouter(include_in_schema=False)


def _account_page(ctx: SignedIn, status_code: int = 200, **extra: object) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        tokens = account_queries.api_tokens(s, ctx.principal)
        me = accounts.get_user(s, ctx.principal.user_id)
    return page(ctx, "account.html", status_code=status_code, tokens=tokens, me=me, **extra)


@router.get("/account")
def account(ctx: SignedIn) -> Response:
    return _account_page(ctx)


@router.post("/account/password")
def change_password(ctx: SignedIn, csrf_token: CsrfField, current_password: Annotated[str, Form(max_length=1000)],
                    new_password: Annotated[str, Form(max_length=1000)],
                    new_password2: Annotated[str, Form(max_length=1000)]) -> Response:
    assert ctx.principal is not None
    try:
        if new_password != new_password2:
            raise InvalidInput("The two passwords differ.", field="new_password2")
        with ctx.db.write() as s:
            accounts.change_password(s, ctx.settings, ctx.principal, current_password, new_password, ip=ctx.ip)
    except EntrepotError as exc:
        return _account_page(ctx, exc.status_code, error=ctx._(exc.message, **exc.params))
    return _account_page(ctx, notice=ctx._("Your password was changed."))


@router.post("/account/tokens")
def create_token(ctx: SignedIn, csrf_token: CsrfField, name: Annotated[str, Form(max_length=200)],
                 days: Annotated[int | None, Form()] = None) -> Response:
    assert ctx.principal is not None
    try:
        with ctx.db.write() as s:
            _row, secret = auth.create_api_token(s, ctx.principal, name, days, ip=ctx.ip)
    except EntrepotError as exc:
        return _account_page(ctx, exc.status_code, error=ctx._(exc.message, **exc.params))
    return _account_page(ctx, new_token=secret)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(ctx: SignedIn, csrf_token: CsrfField, token_id: int) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        auth.revoke_api_token(s, ctx.principal, token_id, ip=ctx.ip)
    return redirect("/account")


@router.get("/directory")
def directory(ctx: Directory, q: Annotated[str | None, Query(max_length=100)] = None,
              page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        users, total = account_queries.list_users(
            s, ctx.principal, account_queries.UserFilter(status="active", text=q, page=page_no,
                                                         enterprise_id=ctx.principal.enterprise_id))
    return page(ctx, "directory.html", users=users, total=total, q=q or "", page_no=page_no,
                page_size=account_queries.PAGE_SIZE)
