"""Saved searches, in-app alerts for new matches, and Atom feeds for saved searches and categories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from xml.sax.saxutils import escape  # nosec B406 # escapes our Atom output; parses nothing

from fastapi import APIRouter, Depends, Form
from sqlalchemy import func, select
from starlette.responses import Response

from entrepot import policy
from entrepot.actions import saved_searches
from entrepot.core.types import Category
from entrepot.db.library import Document, SavedSearch, SearchAlert
from entrepot.queries import library as q
from entrepot.search.service import search
from entrepot.web.context import Ctx, FeedGuard
from entrepot.web.render import page, redirect
from entrepot.web.routes._forms import CsrfField, Library

router = APIRouter(include_in_schema=False)
Feed = Annotated[Ctx, Depends(FeedGuard(policy.Action.LIBRARY))]
FEED_SIZE = 50


@router.post("/search/save")
def save(ctx: Library, csrf_token: CsrfField, q_text: Annotated[str, Form(alias="q", max_length=500)],
         name: Annotated[str, Form(max_length=200)] = "", category: Annotated[str, Form(max_length=32)] = "",
         language: Annotated[str, Form(max_length=8)] = "", country: Annotated[str, Form(max_length=2)] = "",
         hs: Annotated[str, Form(max_length=7)] = "") -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        saved_searches.save_search(s, ctx.principal, name, q_text, {"category": category, "language": language,
                                                                    "country": country.upper(), "hs_code": hs})
    return redirect("/alerts")


@router.post("/search/saved/{saved_id}/delete")
def delete(ctx: Library, csrf_token: CsrfField, saved_id: int) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        saved_searches.delete_search(s, ctx.principal, saved_id)
    return redirect("/alerts")


@router.get("/alerts")
def alerts(ctx: Library) -> Response:
    """New matches of the user's saved searches; the policy is asked again, as clearances change."""
    assert ctx.principal is not None
    with ctx.db.write() as s:
        saved = s.execute(select(SavedSearch).where(SavedSearch.user_id == ctx.principal.user_id)
                          .order_by(SavedSearch.name)).scalars().all()
        rows = s.execute(select(SearchAlert, Document, SavedSearch.name)
                         .join(Document, Document.id == SearchAlert.document_id)
                         .join(SavedSearch, SavedSearch.id == SearchAlert.saved_search_id)
                         .where(SearchAlert.user_id == ctx.principal.user_id, policy.document_clause(ctx.principal))
                         .order_by(SearchAlert.id.desc()).limit(200)).unique().all()
        saved_searches.mark_seen(s, ctx.principal)
    return page(ctx, "alerts.html", saved=saved, rows=rows)


def unseen_alerts(ctx: Ctx) -> int:
    if ctx.principal is None or not ctx.principal.active:
        return 0
    with ctx.db.read() as s:
        return int(s.execute(select(func.count()).select_from(SearchAlert).join(
            Document, Document.id == SearchAlert.document_id).where(
            SearchAlert.user_id == ctx.principal.user_id, SearchAlert.seen_at.is_(None),
            policy.document_clause(ctx.principal))).scalar_one())


def _atom(ctx: Ctx, title: str, self_path: str, docs: list[Document]) -> Response:
    base = str(ctx.request.base_url).rstrip("/")
    updated = max((d.updated_at for d in docs), default=datetime.now(UTC)).isoformat()
    entries = "".join(
        f"<entry><id>{escape(base)}/documents/{d.id}</id><title>{escape(d.title)}</title>"
        f"<updated>{d.updated_at.isoformat()}</updated><link href=\"{escape(base)}/documents/{d.id}\"/>"
        f"<summary>{escape(d.summary or '')}</summary></entry>" for d in docs)
    xml = (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
           f"<id>{escape(base + self_path)}</id><title>{escape(title)}</title><updated>{updated}</updated>"
           f"{entries}</feed>")
    return Response(xml, media_type="application/atom+xml", headers={"cache-control": "no-store"})


@router.get("/feeds/category/{category}.atom")
def category_feed(ctx: Feed, category: str) -> Response:
    assert ctx.principal is not None
    if category not in {c.value for c in Category}:
        category = ""
    with ctx.db.read() as s:
        docs, _ = q.browse(s, ctx.principal, q.Browse(category=category or None))
    return _atom(ctx, f"Entrepot: {category or 'library'}", ctx.request.url.path, docs[:FEED_SIZE])


@router.get("/feeds/saved/{saved_id}.atom")
def saved_feed(ctx: Feed, saved_id: int) -> Response:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        saved = saved_searches.own_search(s, ctx.principal, saved_id)
        result = search(s, ctx.principal, saved_searches.request_for(saved, sort="date", page_size=FEED_SIZE))
    return _atom(ctx, f"Entrepot: {saved.name}", ctx.request.url.path, [h.document for h in result.hits])


@router.post("/account/feed-token")
def feed_token(ctx: Library, csrf_token: CsrfField) -> Response:
    assert ctx.principal is not None
    with ctx.db.write() as s:
        secret = saved_searches.new_feed_token(s, ctx.principal, ip=ctx.ip)
        saved = s.execute(select(SavedSearch).where(SavedSearch.user_id == ctx.principal.user_id)).scalars().all()
    return page(ctx, "feed_token.html", token=secret, saved=saved, categories=list(Category))
