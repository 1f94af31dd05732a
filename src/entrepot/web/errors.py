"""Errors become a translated page or a JSON body with a 4xx status; never a stack trace or a secret."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from entrepot.core.errors import EntrepotError, NotAuthenticated, RateLimited
from entrepot.core.messages import N_
from entrepot.web.context import Ctx, choose_language
from entrepot.web.render import redirect, render_html

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: N_("The request was not understood."),
    401: N_("Please sign in."),
    403: N_("You do not have access to this page."),
    404: N_("This page does not exist."),
    405: N_("This action is not available here."),
    413: N_("Request body too large."),
    422: N_("Some fields are missing or invalid."),
    429: N_("Too many requests. Try again later."),
}


def is_api(request: Request) -> bool:
    """JSON for the API, feeds and the pages' own scripts (which ask for JSON); HTML for the rest."""
    return request.url.path.startswith(("/api/", "/feeds/")) or "application/json" in request.headers.get("accept", "")


def _respond(request: Request, status: int, message: str, field: str | None = None,
             params: dict[str, object] | None = None, headers: dict[str, str] | None = None) -> Response:
    ctx: Ctx | None = getattr(request.state, "ctx", None)
    settings = request.app.state.settings
    lang = ctx.lang if ctx else choose_language(request, settings)
    t = request.app.state.catalogs[lang]
    try:
        text = t.gettext(message, **(params or {}))
    except (KeyError, ValueError, TypeError):
        text = message
    if is_api(request):
        body = {"error": {"status": status, "message": text, "field": field}}
        return JSONResponse(body, status_code=status, headers=headers)
    html = render_html(request.app.state.templates, t, "error.html", status=status, message=text,
                       ctx=ctx, principal=ctx.principal if ctx else None, lang=lang,
                       csrf_token=ctx.csrf_token if ctx else "", settings=settings, request=request)
    return HTMLResponse(html, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(EntrepotError)
    async def entrepot_error(request: Request, exc: EntrepotError) -> Response:
        if isinstance(exc, NotAuthenticated) and not is_api(request):
            ctx: Ctx | None = getattr(request.state, "ctx", None)
            if ctx and ctx.principal and ctx.principal.second_factor_owed:
                return redirect("/login/second-factor")
            return redirect("/login?next=" + quote(request.url.path, safe="/"))
        headers = {"retry-after": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return _respond(request, exc.status_code, exc.message, exc.field, exc.params, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        field = str(errors[0]["loc"][-1]) if errors and errors[0].get("loc") else None
        return _respond(request, 422, HTTP_MESSAGES[422], field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = HTTP_MESSAGES.get(exc.status_code, "The request was not understood.")
        return _respond(request, exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(request, 500, N_("Something went wrong on our side. The error was logged."))

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> Response:
        """A number or text the database cannot hold (an id past 64 bits, say) is the caller's mistake."""
        if isinstance(exc, OverflowError) and "SQLite INTEGER" not in str(exc):
            return await unexpected(request, exc)
        log.warning("value out of the database's range on %s %s", request.method, request.url.path)
        return _respond(request, 400, HTTP_MESSAGES[400])
