"""Sign-in (password, then the entry card), enrolment, sign-out, registration, language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from entrepot.accounts import totp
from entrepot.actions import accounts, auth
from entrepot.core.config import LANGUAGES
from entrepot.core.errors import EntrepotError, InvalidInput
from entrepot.queries import accounts as account_queries
from entrepot.web.context import LANG_COOKIE, SESSION_COOKIE, Ctx, set_cookie_later
from entrepot.web.render import page, redirect
from entrepot.web.routes._forms import CsrfField, Public, SecondFactor, SignedIn, safe_next

router = APIRouter(include_in_schema=False)


def _start_session(ctx: Ctx, token: str) -> None:
    set_cookie_later(ctx.request, SESSION_COOKIE, token, httponly=True, samesite="lax")


@router.get("/login")
def login_form(ctx: Public, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    if ctx.principal and ctx.principal.active:
        return redirect(safe_next(next))
    return page(ctx, "login.html", next=safe_next(next))


@router.post("/login")
def login(ctx: Public, csrf_token: CsrfField, username: Annotated[str, Form(max_length=200)],
          password: Annotated[str, Form(max_length=1000)],
          next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    error: EntrepotError | None = None
    with ctx.db.write() as s:
        try:
            signin = auth.login_password(s, ctx.settings, username, password, ip=ctx.ip,
                                         user_agent=ctx.request.headers.get("user-agent"))
        except EntrepotError as exc:
            error = exc  # caught inside the transaction so the failed attempt is recorded
    if error is not None:
        return page(ctx, "login.html", status_code=error.status_code, error=ctx._(error.message, **error.params),
                    next=safe_next(next), username="" if ctx.settings.shared_terminal else username)
    _start_session(ctx, signin.token)
    return redirect("/login/second-factor?next=" + safe_next(next))


@router.get("/login/second-factor")
def second_factor_form(ctx: SecondFactor, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    with ctx.db.read() as s:
        resolved = auth.resolve_session(s, ctx.settings, ctx.session_token)
    assert resolved is not None  # the guard resolved this session a moment ago
    if resolved.user.totp_secret is not None:
        return page(ctx, "second_factor.html", next=safe_next(next))
    secret = auth.enrolment_secret(resolved.ws, resolved.user)
    uri = totp.provisioning_uri(secret, resolved.user.username, ctx.settings.totp_issuer)
    return page(ctx, "enrol.html", secret=secret, qr_svg=totp.qr_svg(uri), next=safe_next(next))


@router.post("/login/second-factor")
def second_factor(ctx: SecondFactor, csrf_token: CsrfField, code: Annotated[str, Form(max_length=40)],
                  next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    error: EntrepotError | None = None
    with ctx.db.write() as s:
        resolved = auth.resolve_session(s, ctx.settings, ctx.session_token)
        assert resolved is not None
        try:
            token = auth.verify_second_factor(s, ctx.settings, resolved.ws, resolved.user, code, ip=ctx.ip)
        except EntrepotError as exc:
            error = exc
    if error is not None:
        return page(ctx, "second_factor.html", status_code=error.status_code, next=safe_next(next),
                    error=ctx._(error.message, **error.params))
    _start_session(ctx, token)
    return redirect(safe_next(next))


@router.post("/login/enrol")
def enrol(ctx: SecondFactor, csrf_token: CsrfField, code: Annotated[str, Form(max_length=40)],
          next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    error: EntrepotError | None = None
    with ctx.db.write() as s:
        resolved = auth.resolve_session(s, ctx.settings, ctx.session_token)
        assert resolved is not None
        try:
            token, codes = auth.confirm_enrolment(s, ctx.settings, resolved.ws, resolved.user, code, ip=ctx.ip)
        except EntrepotError as exc:
            error = exc
    if error is not None:
        with ctx.db.read() as s:
            resolved = auth.resolve_session(s, ctx.settings, ctx.session_token)
            assert resolved is not None
            secret = auth.enrolment_secret(resolved.ws, resolved.user)
            uri = totp.provisioning_uri(secret, resolved.user.username, ctx.settings.totp_issuer)
        return page(ctx, "enrol.html", status_code=error.status_code, secret=secret, qr_svg=totp.qr_svg(uri),
                    next=safe_next(next), error=ctx._(error.message, **error.params))
    _start_session(ctx, token)
    return page(ctx, "recovery_codes.html", codes=codes, next=safe_next(next))


@router.post("/logout")
def logout(ctx: Public, csrf_token: CsrfField) -> Response:
    with ctx.db.write() as s:
        auth.logout(s, ctx.session_token, ctx.principal if ctx.principal and ctx.principal.active else None,
                    ip=ctx.ip)
    set_cookie_later(ctx.request, SESSION_COOKIE, "", max_age=0)
    return redirect("/login")


@router.get("/register")
def register_form(ctx: Public) -> Response:
    with ctx.db.read() as s:
        enterprises = account_queries.list_enterprises(s)
    return page(ctx, "register.html", enterprises=enterprises, form={})


@router.post("/register")
def register(ctx: Public, csrf_token: CsrfField, enterprise_id: Annotated[int, Form()],
             username: Annotated[str, Form(max_length=200)], display_name: Annotated[str, Form(max_length=500)],
             password: Annotated[str, Form(max_length=1000)], password2: Annotated[str, Form(max_length=1000)],
             kind: Annotated[str, Form(max_length=20)] = "staff") -> Response:
    form = {"enterprise_id": enterprise_id, "username": username, "display_name": display_name, "kind": kind}
    try:
        if password != password2:
            raise InvalidInput("The two passwords differ.", field="password2")
        with ctx.db.write() as s:
            accounts.create_user(s, ctx.settings, None, enterprise_id=enterprise_id, username=username,
                                 display_name=display_name, password=password, kind=kind, language=ctx.lang,
                                 ip=ctx.ip)
    except EntrepotError as exc:
        with ctx.db.read() as s:
            enterprises = account_queries.list_enterprises(s)
        return page(ctx, "register.html", status_code=exc.status_code, enterprises=enterprises, form=form,
                    error=ctx._(exc.message, **exc.params), error_field=exc.field)
    return page(ctx, "registered.html")


@router.post("/language")
def set_language(ctx: Public, csrf_token: CsrfField, language: Annotated[str, Form(max_length=8)],
                 next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    if language not in LANGUAGES:
        raise InvalidInput("Unknown language.", field="language")
    if ctx.principal and ctx.principal.active:
        with ctx.db.write() as s:
            accounts.set_language(s, ctx.principal, language)
    set_cookie_later(ctx.request, LANG_COOKIE, language, max_age=365 * 86400, httponly=False)
    return redirect(safe_next(next))


@router.get("/")
def home(ctx: SignedIn) -> Response:
    return page(ctx, "home.html")
