"""Searching the library: parse, analyse, match and rank inside one SQL query that carries the access
policy's clause and the filters; group pages by document; facets and snippets from the same set."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time as dtime
from typing import Any

from markupsafe import Markup
from sqlalchemy import Select, and_, bindparam, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from entrepot import policy
from entrepot.core.types import Principal
from entrepot.db.library import Document, DocumentCountry, DocumentHsCode, DocumentTag, DocumentVersion, Page
from entrepot.search.analyzers import IndexedText, get_analyzer
from entrepot.search.analyzers.korean import compound_parts
from entrepot.search.backend import Query, frequencies, page_index
from entrepot.search.parse import parse_query
from entrepot.search.snippets import snippet
from entrepot.search.tokens import fts_tokens

#: Pages considered when grouping by document; enough for many result pages of distinct documents.
MAX_CANDIDATE_PAGES = 200
#: Ranked pages the policy and filters are first applied to (see _candidates).
RANKED_WINDOW = 400
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
    total_is_lower_bound: bool = False
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


def _facets(session: Session, rows: list[Any]) -> dict[str, list[tuple[str, int]]]:
    """Facets of the candidate hits (already matched, visible and filtered): categories and languages
    from the rows themselves, countries, HS headings and tags in one more statement over their documents."""
    docs = list(dict.fromkeys(r.doc_id for r in rows))
    counted: dict[str, dict[str, set[int]]] = {f: {} for f in ("category", "language", "country", "hs_code", "tag")}
    for r in rows:
        counted["category"].setdefault(r.category, set()).add(r.doc_id)
        if r.language:
            counted["language"].setdefault(r.language, set()).add(r.doc_id)
    heading = func.substr(DocumentHsCode.code, literal_column("1"), literal_column("4"))
    ids = bindparam("docs", expanding=True)  # one parameter for the list: no per-id statement work
    parts = [
        select(literal("country").label("facet"), DocumentCountry.code.label("value"), DocumentCountry.document_id)
        .where(DocumentCountry.document_id.in_(ids)),
        select(literal("hs_code"), heading, DocumentHsCode.document_id).where(DocumentHsCode.document_id.in_(ids)),
        select(literal("tag"), DocumentTag.tag, DocumentTag.document_id).where(DocumentTag.document_id.in_(ids)),
    ]
    if docs:
        for facet, value, doc_id in session.execute(union_all(*parts), {"docs": docs}):
            counted[facet].setdefault(str(value), set()).add(doc_id)
    return {name: sorted(((v, len(ids)) for v, ids in values.items() if v), key=lambda vn: (-vn[1], vn[0]))[:FACET_LIMIT]
            for name, values in counted.items()}


def _candidates(session: Session, principal: Principal, req: SearchRequest, scored: Select) -> list[Any]:
    """The best visible, filtered pages, best first. The index ranks first and the policy and filters
    are joined to its best RANKED_WINDOW pages: on a large index, joining every match before ranking
    cost three times the ranking itself. When too few of those pass (a narrow filter, a low
    clearance), the statement runs again over every match."""
    for window in (RANKED_WINDOW, None):
        ranked = scored.order_by(scored.selected_columns.score.desc())
        sp = (ranked.limit(window) if window else scored).subquery("sp")
        rows = session.execute(
            select(Document.id.label("doc_id"), Page.id.label("page_id"), Page.number, sp.c.score,
                   Document.category, Page.language, Document.issued_on, Document.updated_at)
            .join(Page, Page.id == sp.c.page_id)
            # Through the version's primary key: from a page, its document is one lookup, not a scan.
            .join(DocumentVersion, DocumentVersion.id == Page.version_id)
            .join(Document, and_(Document.id == DocumentVersion.document_id,
                                 Document.current_version_id == Page.version_id))
            .where(policy.document_clause(principal), *_filters(req))
            .order_by(sp.c.score.desc(), Page.id).limit(MAX_CANDIDATE_PAGES)).all()
        if len(rows) >= MAX_CANDIDATE_PAGES:
            break
    return rows


def search(session: Session, principal: Principal, req: SearchRequest) -> SearchResult:
    started = time.perf_counter()
    result = SearchResult()
    query, highlight = analyse(req.text)
    if len(req.text) > 500:
        result.notice = "Only the first 500 characters of the query were used."
    index = page_index(session)
    query = query.within_budget(frequencies(index, session, query))
    scored = index.scored_pages(session, query)
    if scored is None:
        result.notice = result.notice or "Type a word or more to search."
        return result
    rows = _candidates(session, principal, req, scored)
    best: dict[int, Any] = {}
    for r in rows:
        best.setdefault(r.doc_id, r)  # a document's best page
    ordered = list(best)
    if req.sort == "date":
        ordered.sort(key=lambda i: (best[i].issued_on or best[i].updated_at.date(), best[i].updated_at), reverse=True)
    start = (max(req.page, 1) - 1) * req.page_size
    chosen = ordered[start:start + req.page_size]
    docs = {d.id: d for d in session.execute(select(Document).where(Document.id.in_(chosen))).unique().scalars()}
    texts = dict(session.execute(select(Page.id, Page.text).where(Page.id.in_([best[i].page_id for i in chosen]))).all())
    result.hits = [Hit(docs[i], float(best[i].score), best[i].number, snippet(texts.get(best[i].page_id, ""), highlight))
                   for i in chosen]
    # Counts and facets describe the candidates: every match on a library of ordinary size, the best
    # MAX_CANDIDATE_PAGES pages on a large one (then the total reads "at least").
    result.total, result.total_is_lower_bound = len(best), len(rows) >= MAX_CANDIDATE_PAGES
    result.facets = _facets(session, rows)
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
