"""Searching the library: parse, analyse, match and rank inside one SQL query that carries the access
policy's clause and the filters; group pages by document; facets and snippets from the same set."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time as dtime
from typing import Any

from markupsafe import Markup
from sqlalchemy import Select, and_, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from entrepot import policy
from entrepot.core.types import Principal
from entrepot.db.library import Document, DocumentCountry, DocumentHsCode, DocumentTag, Page
from entrepot.search.analyzers import IndexedText, get_analyzer
from entrepot.search.analyzers.korean import compound_parts
from entrepot.search.backend import Query, page_index
from entrepot.search.parse import parse_query
from entrepot.search.snippets import snippet
from entrepot.search.tokens import fts_tokens

#: Pages considered when grouping by document; enough for many result pages of distinct documents.
MAX_CANDIDATE_PAGES = 1000
FACET_LIMIT = 12


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    category: str | None = None
    language: str | None = None
    country: str | None = None
    hs_code: str | None = None
    tag: str | None = None
    collection_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    #: Only documents changed after this moment (saved-search alerts).
    updated_after: datetime | None = None
    sort: str = "relevance"  # or "date"
    page: int = 1
    page_size: int = 10


@dataclass
class Hit:
    document: Document
    score: float
    page_number: int
    snippet: Markup


@dataclass
class SearchResult:
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    notice: str | None = None
    took_ms: float = 0.0


def analyse(text: str) -> tuple[Query, list[str]]:
    """The query and the folded terms to highlight."""
    parsed = parse_query(text)
    analyzer = get_analyzer("multilingual")
    base = analyzer.analyze_query(" ".join([parsed.free, *parsed.phrases]))
    analysed = IndexedText(terms=fts_tokens(base.terms), grams=fts_tokens(base.grams), lang=base.lang,
                           prefix=base.prefix)
    phrases = tuple(tuple(fts_tokens(analyzer.analyze_query(p).terms)) for p in parsed.phrases)
    excluded = tuple(t for word in parsed.excluded for t in fts_tokens(analyzer.analyze_query(word).terms))
    query = Query(analysed, tuple(p for p in phrases if p), excluded)
    return query, analysed.terms + analysed.grams


def _filters(req: SearchRequest) -> list[Any]:
    out: list[Any] = []
    if req.category:
        out.append(Document.category == req.category)
    if req.collection_id:
        out.append(Document.collection_id == req.collection_id)
    if req.language:
        out.append(Page.language == req.language)
    if req.country:
        out.append(Document.id.in_(select(DocumentCountry.document_id).where(DocumentCountry.code == req.country)))
    if req.hs_code:
        prefix = req.hs_code.replace(".", "")[:6]
        out.append(Document.id.in_(select(DocumentHsCode.document_id).where(DocumentHsCode.code.startswith(prefix))))
    if req.tag:
        out.append(Document.id.in_(select(DocumentTag.document_id).where(DocumentTag.tag == req.tag)))
    if req.updated_after:
        out.append(Document.updated_at > req.updated_after)
    if req.date_from or req.date_to:
        lo = req.date_from or date(1900, 1, 1)
        hi = req.date_to or date(2999, 12, 31)
        out.append(or_(Document.issued_on.between(lo, hi), and_(
            Document.issued_on.is_(None),
            Document.updated_at.between(datetime.combine(lo, dtime.min, UTC), datetime.combine(hi, dtime.max, UTC)))))
    return out


def _visible_pages(principal: Principal, req: SearchRequest) -> Select:
    """Pages of current versions of documents the principal may read, filtered: the policy in the query."""
    return (select(Page.id).join(Document, Document.current_version_id == Page.version_id)
            .where(policy.document_clause(principal), *_filters(req)))


def _counts(session: Session, principal: Principal, req: SearchRequest, matching: Select
            ) -> tuple[int, dict[str, list[tuple[str, int]]]]:
    """The total and every facet from one statement over the matching, visible pages, matched once
    (a materialised CTE): the full-text match is the costly part, so it must not run per facet."""
    hits = (select(Page.id.label("page_id"), Document.id.label("doc_id"), Document.category.label("category"),
                   Page.language.label("language"))
            .join(Document, Document.current_version_id == Page.version_id)
            .where(Page.id.in_(matching), policy.document_clause(principal), *_filters(req))
            .cte("hits").prefix_with("MATERIALIZED"))
    docs = select(hits.c.doc_id)
    # Inline constants: PostgreSQL must see the grouped expression and the selected one as the same.
    heading = func.substr(DocumentHsCode.code, literal_column("1"), literal_column("4"))
    parts = [
        select(literal("total").label("facet"), literal("").label("value"),
               func.count(func.distinct(hits.c.doc_id)).label("n")),
        select(literal("category"), hits.c.category, func.count(func.distinct(hits.c.doc_id)))
        .group_by(hits.c.category),
        select(literal("language"), hits.c.language, func.count(func.distinct(hits.c.doc_id)))
        .where(hits.c.language.is_not(None)).group_by(hits.c.language),
        select(literal("country"), DocumentCountry.code, func.count(func.distinct(DocumentCountry.document_id)))
        .where(DocumentCountry.document_id.in_(docs)).group_by(DocumentCountry.code),
        select(literal("hs_code"), heading, func.count(func.distinct(DocumentHsCode.document_id)))
        .where(DocumentHsCode.document_id.in_(docs)).group_by(heading),
        select(literal("tag"), DocumentTag.tag, func.count(func.distinct(DocumentTag.document_id)))
        .where(DocumentTag.document_id.in_(docs)).group_by(DocumentTag.tag),
    ]
    total = 0
    facets: dict[str, list[tuple[str, int]]] = {"category": [], "language": [], "country": [], "hs_code": [], "tag": []}
    for facet, value, n in session.execute(union_all(*parts)):
        if facet == "total":
            total = int(n)
        elif value:
            facets[facet].append((str(value), int(n)))
    for name in facets:
        facets[name] = sorted(facets[name], key=lambda vn: (-vn[1], vn[0]))[:FACET_LIMIT]
    return total, facets


def search(session: Session, principal: Principal, req: SearchRequest) -> SearchResult:
    started = time.perf_counter()
    result = SearchResult()
    query, highlight = analyse(req.text)
    if len(req.text) > 500:
        result.notice = "Only the first 500 characters of the query were used."
    index = page_index(session)
    scored = index.scored_pages(session, query)
    matching = index.matching_pages(query)
    if scored is None or matching is None:
        result.notice = result.notice or "Type a word or more to search."
        return result
    sp = scored.subquery("sp")
    rows = session.execute(
        select(Document.id, Page.id, Page.number, sp.c.score)
        .join(Page, Page.id == sp.c.page_id).join(Document, Document.current_version_id == Page.version_id)
        .where(Page.id.in_(_visible_pages(principal, req)))
        .order_by(sp.c.score.desc(), Page.id).limit(MAX_CANDIDATE_PAGES)).all()
    best: dict[int, tuple[float, int, int]] = {}
    for doc_id, page_id, number, score in rows:
        if doc_id not in best:
            best[doc_id] = (float(score), page_id, number)
    docs = {d.id: d for d in session.execute(select(Document).where(Document.id.in_(list(best)))).unique().scalars()}
    ordered = list(best)
    if req.sort == "date":
        ordered.sort(key=lambda i: (docs[i].issued_on or docs[i].updated_at.date(), docs[i].updated_at), reverse=True)
    start = (max(req.page, 1) - 1) * req.page_size
    chosen = ordered[start:start + req.page_size]
    texts = dict(session.execute(select(Page.id, Page.text).where(Page.id.in_([best[i][1] for i in chosen]))).all())
    result.hits = [Hit(docs[i], best[i][0], best[i][2], snippet(texts.get(best[i][1], ""), highlight)) for i in chosen]
    result.total, result.facets = _counts(session, principal, req, matching)
    result.took_ms = (time.perf_counter() - started) * 1000
    return result


def _with_compound_parts(terms: list[str]) -> list[str]:
    out: list[str] = []
    for t in terms:
        out.append(t)
        out.extend(compound_parts(t))
    return out


def index_rows(pages: list[tuple[int, str]]) -> list[tuple[int, IndexedText]]:
    """Analyse page texts for the index, with tokens split exactly as FTS5 splits them; long Korean
    nouns written without spaces also bring their parts."""
    analyzer = get_analyzer("multilingual")
    analysed = analyzer.index_batch([t for _, t in pages])
    return [(pid, IndexedText(terms=fts_tokens(_with_compound_parts(a.terms)), grams=fts_tokens(a.grams), lang=a.lang))
            for (pid, _), a in zip(pages, analysed, strict=True)]
