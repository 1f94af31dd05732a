"""Server-rendered pages: one Jinja2 environment, translations active while a template renders."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse

from entrepot import policy
from entrepot.core.types import Level
from entrepot.web import i18n, labels
from entrepot.web.context import Ctx

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _gettext(message: str, **params: Any) -> str:
    return i18n.current().gettext(message, **params)


def _ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    return i18n.current().ngettext(singular, plural, n, **params)


def _pager_query(params: Any, page_no: int) -> str:
    kept = [(k, v) for k, v in params.multi_items() if k != "page"]
    return urlencode([*kept, ("page", str(page_no))])


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(Action=policy.Action, Level=Level, LANGUAGE_NAMES=i18n.LANGUAGE_NAMES,
                       ROLES=labels.ROLES, STATUSES=labels.STATUSES, KINDS=labels.KINDS,
                       AUTHORITIES=labels.AUTHORITIES, LEVELS=labels.LEVELS, REQUEST_KINDS=labels.REQUEST_KINDS,
                       CATEGORIES=labels.CATEGORIES, DOC_STATUSES=labels.DOC_STATUSES,
                       LANGUAGE_LABELS=labels.LANGUAGES)
    env.filters["level"] = lambda value: Level(value).name
    env.filters["stored_message"] = lambda text: i18n.current().stored(text) if text else text
    env.filters["pager_query"] = _pager_query
    return env


def render_html(env: Environment, t: i18n.Translations, name: str, **context: Any) -> str:
    token = i18n.activate(t)
    try:
        return env.get_template(name).render(**context)
    finally:
        i18n.deactivate(token)


def page(ctx: Ctx, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    env: Environment = ctx.request.app.state.templates
    html = render_html(env, ctx.t, name, ctx=ctx, principal=ctx.principal, lang=ctx.lang,
                       csrf_token=ctx.csrf_token, settings=ctx.settings, request=ctx.request, **context)
    return HTMLResponse(html, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
