"""The per-request context and the Guard every route depends on.

`Guard(action)` authenticates the caller (API token or session cookie), picks the language, asks the
policy whether the action is allowed and checks the CSRF token on state-changing requests. Routes get
a `Ctx`. The authorisation test finds the Guard on every route, so no route can skip the policy.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from entrepot import policy
from entrepot.accounts import tokens
from entrepot.actions import auth
from entrepot.core.config import LANGUAGES, Settings
from entrepot.core.errors import Forbidden, NotAuthenticated
from entrepot.core.types import Principal
from entrepot.db import Database
from entrepot.web import i18n

SESSION_COOKIE = "entrepot_session"
PRE_CSRF_COOKIE = "entrepot_csrf"
LANG_COOKIE = "entrepot_lang"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Ctx:
    request: Request
    settings: Settings
    db: Database
    principal: Principal | None
    session_token: str | None
    csrf_token: str
    lang: str
    t: i18n.Translations
    ip: str
    via_api_token: bool = False

    def _(self, message: str, **params: Any) -> str:
        return self.t.gettext(message, **params)

    def may(self, action: policy.Action) -> bool:
        return policy.allows(self.principal, action)

    def unseen_alerts(self) -> int:
        from entrepot.web.routes.alerts_feeds import unseen_alerts

        return unseen_alerts(self)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def choose_language(request: Request, settings: Settings, user_language: str | None = None) -> str:
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    if user_language in LANGUAGES:
        return user_language  # type: ignore[return-value]
    return i18n.negotiate(request.headers.get("accept-language"), settings.default_language)


def set_cookie_later(request: Request, name: str, value: str, **options: Any) -> None:
    """Cookies the security middleware adds to whatever response the route returns."""
    request.state.pending_cookies = [*getattr(request.state, "pending_cookies", []), (name, value, options)]


def _authenticate(request: Request, settings: Settings, db: Database) -> tuple[Principal | None, str | None,
                                                                                 str | None, str | None, bool]:
    """(principal, session token, session csrf token, user language, via api token)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        with db.read() as s:
            principal = auth.resolve_api_token(s, header[7:].strip())
        if principal is None:
            raise NotAuthenticated("Invalid or expired API token.")
        return principal, None, None, None, True
    token = request.cookies.get(SESSION_COOKIE)
    with db.read() as s:
        resolved = auth.resolve_session(s, settings, token)
    if resolved is None:
        return None, None, None, None, False
    if resolved.needs_touch:
        with db.write() as s:
            auth.touch_session(s, resolved.ws.id)
    return resolved.principal, token, resolved.ws.csrf_token, resolved.user.language, False


class Guard:
    """FastAPI dependency: `Depends(Guard(Action.X))`. The only way routes obtain a `Ctx`."""

    def __init__(self, action: policy.Action) -> None:
        self.action = action

    def __repr__(self) -> str:
        return f"Guard({self.action.value})"

    async def __call__(self, request: Request) -> Ctx:
        settings: Settings = request.app.state.settings
        db: Database = request.app.state.db
        principal, token, session_csrf, user_lang, via_api = await run_in_threadpool(
            _authenticate, request, settings, db)
        lang = choose_language(request, settings, user_lang)
        ctx = Ctx(request, settings, db, principal, token, session_csrf or _pre_session_csrf(request),
                  lang, request.app.state.catalogs[lang], client_ip(request), via_api)
        request.state.ctx = ctx
        if not policy.allows(principal, self.action):
            if principal is None:
                raise NotAuthenticated("Please sign in.")
            if principal.second_factor_owed:
                raise NotAuthenticated("Please complete the second sign-in step.")
            raise Forbidden("You do not have access to this page.")
        if request.method not in SAFE_METHODS and not via_api:
            await _check_csrf(request, ctx.csrf_token)
        return ctx


def _pre_session_csrf(request: Request) -> str:
    """Before sign-in, forms use a double-submit cookie; after, the session's own token."""
    value = request.cookies.get(PRE_CSRF_COOKIE)
    if not value or len(value) > 64:
        value = tokens.new_token()
        set_cookie_later(request, PRE_CSRF_COOKIE, value, httponly=True, samesite="strict")
        request.state.fresh_pre_csrf = True
    return value


async def _check_csrf(request: Request, expected: str) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if getattr(request.state, "fresh_pre_csrf", False) or not sent or not hmac.compare_digest(sent, expected):
        raise Forbidden("The form has expired or did not come from this site. Reload the page and try again.")


class FeedGuard(Guard):
    """For Atom feeds: feed readers cannot sign in, so a personal token in the address stands for the
    user. The policy decides as for any route; the token only says who is asking."""

    async def __call__(self, request: Request) -> Ctx:
        from entrepot.actions.saved_searches import feed_principal

        settings: Settings = request.app.state.settings
        db: Database = request.app.state.db
        secret = request.query_params.get("token", "")

        def resolve() -> Principal | None:
            with db.read() as s:
                return feed_principal(s, secret)

        principal = await run_in_threadpool(resolve)
        lang = choose_language(request, settings)
        ctx = Ctx(request, settings, db, principal, None, "", lang, request.app.state.catalogs[lang],
                  client_ip(request), via_api_token=True)
        request.state.ctx = ctx
        if principal is None:
            raise NotAuthenticated("Invalid or expired feed token.")
        if not policy.allows(principal, self.action):
            raise Forbidden("You do not have access to this page.")
        return ctx
