"""Search: a page, a live-results fragment for the search box, and the JSON API. The policy is in the
query itself (search.service), so results, counts, facets and snippets never go above a clearance."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.responses import Response

from entrepot.core.errors import InvalidInput
from entrepot.core.types import Category
from entrepot.search.service import SearchRequest, SearchResult, search
from entrepot.web.context import Ctx
from entrepot.web.render import page
from entrepot.web.routes._forms import Library

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["search"])
Text = Annotated[str, Query(max_length=10_000)]
Opt = Annotated[str | None, Query(max_length=40)]


def _date(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput("Dates are written YYYY-MM-DD.", field=field) from exc


def _request(q: str, category: str | None, language: str | None, country: str | None, hs: str | None,
             tag: str | None, collection: int | None, since: str | None, until: str | None, sort: str | None,
             page_no: int) -> SearchRequest:
    return SearchRequest(text=q, category=category if category in {c.value for c in Category} else None,
                         language=language or None, country=(country or "").upper() or None, hs_code=hs or None,
                         tag=tag or None, collection_id=collection, date_from=_date(since, "since"),
                         date_to=_date(until, "until"), sort="date" if sort == "date" else "relevance",
                         page=page_no)


def _run(ctx: Ctx, req: SearchRequest) -> SearchResult:
    assert ctx.principal is not None
    with ctx.db.read() as s:
        return search(s, ctx.principal, req)


@router.get("/search")
def search_page(ctx: Library, q: Text = "", category: Opt = None, language: Opt = None, country: Opt = None,
                hs: Opt = None, tag: Opt = None, collection: int | None = None, since: Opt = None, until: Opt = None,
                sort: Opt = None, page_no: Annotated[int, Query(alias="page", ge=1, le=1000)] = 1,
                partial: bool = False) -> Response:
    req = _request(q, category, language, country, hs, tag, collection, since, until, sort, page_no)
    result = _run(ctx, req)
    name = "_search_results.html" if partial or ctx.request.headers.get("hx-request") else "search.html"
    return page(ctx, name, q=q, req=req, result=result, page_no=page_no, total=result.total,
                page_size=req.page_size, categories=list(Category))


class HitOut(BaseModel):
    document_id: int
    title: str
    category: str
    score: float
    page: int
    snippet_html: str


class SearchOut(BaseModel):
    total: int
    #: The total counts the best candidates only (a very common query on a large library).
    total_is_lower_bound: bool = False
    hits: list[HitOut]
    facets: dict[str, list[tuple[str, int]]]
    notice: str | None
    took_ms: float


@api.get("/search", response_model=SearchOut)
def search_api(ctx: Library, q: Text = "", category: Opt = None, language: Opt = None, country: Opt = None,
               hs: Opt = None, tag: Opt = None, collection: int | None = None, since: Opt = None, until: Opt = None,
               sort: Opt = None, page: Annotated[int, Query(ge=1, le=1000)] = 1) -> SearchOut:
    result = _run(ctx, _request(q, category, language, country, hs, tag, collection, since, until, sort, page))
    return SearchOut(total=result.total, total_is_lower_bound=result.total_is_lower_bound, facets=result.facets,
                     notice=result.notice, took_ms=round(result.took_ms, 2),
                     hits=[HitOut(document_id=h.document.id, title=h.document.title, category=h.document.category,
                                  score=round(h.score, 6), page=h.page_number, snippet_html=str(h.snippet))
                           for h in result.hits])
