"""Searching the library: parse, analyse, match and rank inside one SQL query that carries the access
policy's clause and the filters; group pages by document; facets and snippets from the same set."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

from markupsafe import Markup
from sqlalchemy import Select, and_, func, or_, select, text
from sqlalchemy.orm import Session, lazyload

from entrepot import policy
from entrepot.core.types import Principal
from entrepot.db.library import Document, DocumentCountry, DocumentHsCode, DocumentTag, DocumentVersion, Page
from entrepot.search.analyzers import IndexedText, get_analyzer
from entrepot.search.analyzers.korean import compound_parts
from entrepot.search.analyzers.multilingual import MultilingualAnalyzer
from entrepot.search.backend import Phrase, Query, frequencies, page_index
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


def _multilingual() -> MultilingualAnalyzer:
    analyzer = get_analyzer("multilingual")
    assert isinstance(analyzer, MultilingualAnalyzer)
    return analyzer


def analyse(text: str) -> tuple[Query, list[str]]:
    """The query and the folded terms to highlight."""
    parsed = parse_query(text)
    analyzer = _multilingual()
    base = analyzer.analyze_query(" ".join([parsed.free, *parsed.phrases]))
    analysed = IndexedText(terms=fts_tokens(base.terms), grams=fts_tokens(base.grams), lang=base.lang,
                           prefix=base.prefix)
    phrases = tuple(p for text in parsed.phrases for p in _phrases(text))
    excluded = tuple(t for word in parsed.excluded for t in fts_tokens(analyzer.analyze_query(word).terms))
    query = Query(analysed, phrases, excluded)
    return query, analysed.terms + analysed.grams


def _phrases(text: str) -> list[Phrase]:
    """A quoted phrase as the index analysed the same text (stop words kept, so "rules of origin"
    stays adjacent). Han characters must follow each other in the gram column: a word segmenter cuts
    a quoted phrase alone differently from the same words in a sentence (and adds its dictionary
    split after HMM guesses), so a phrase of words missed 7 of 27 such Chinese questions
    (bench/search.py). Words without those characters (Latin, digits, kana) are required one by one
    beside them; without Han characters the phrase is a phrase of words."""
    [(_, analysed)] = index_rows([(0, text)])
    if not analysed.grams:
        return [Phrase("terms", tuple(analysed.terms))] if analysed.terms else []
    chars = set(analysed.grams)
    words = dict.fromkeys(t for t in analysed.terms if not chars & set(t))
    return [Phrase("grams", tuple(analysed.grams)), *(Phrase("terms", (w,)) for w in words)]


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


def _id_list(session: Session) -> str:
    """A subselect of the integers in the JSON array bound as :ids; one parameter whatever its length
    (an expanding IN of 200 ids cost more to compile than to run)."""
    if session.get_bind().dialect.name == "postgresql":
        return "SELECT CAST(value AS integer) FROM json_array_elements_text(CAST(:ids AS json))"
    return "SELECT value FROM json_each(:ids)"


#: Countries, HS headings (first four digits) and tags: documents per value among the ids given.
_FACETS_SQL = (
    f"SELECT 'country', code, count(DISTINCT document_id) FROM {DocumentCountry.__tablename__} "  # noqa: S608 # nosec B608 # our table names
    "WHERE document_id IN ({ids}) GROUP BY code "
    "UNION ALL SELECT 'hs_code', substr(code, 1, 4), count(DISTINCT document_id) "
    f"FROM {DocumentHsCode.__tablename__} WHERE document_id IN ({{ids}}) GROUP BY substr(code, 1, 4) "
    f"UNION ALL SELECT 'tag', tag, count(DISTINCT document_id) FROM {DocumentTag.__tablename__} "
    "WHERE document_id IN ({ids}) GROUP BY tag")


def _facets(session: Session, rows: Sequence[Any]) -> dict[str, list[tuple[str, int]]]:
    """Facets of the candidate hits (already matched, visible and filtered): categories and languages
    from the rows themselves; countries, HS headings and tags counted per document in one grouped
    statement over those documents."""
    docs = list(dict.fromkeys(r.doc_id for r in rows))
    counted: dict[str, dict[str, set[int]]] = {"category": {}, "language": {}}
    for r in rows:
        counted["category"].setdefault(r.category, set()).add(r.doc_id)
        if r.language:
            counted["language"].setdefault(r.language, set()).add(r.doc_id)
    facets = {name: [(v, len(ids)) for v, ids in values.items()] for name, values in counted.items()}
    facets.update(country=[], hs_code=[], tag=[])
    if docs:
        sql = text(_FACETS_SQL.format(ids=_id_list(session)))
        for facet, value, n in session.execute(sql, {"ids": json.dumps(docs)}):
            facets[facet].append((str(value), int(n)))
    return {name: sorted(((v, n) for v, n in values if v), key=lambda vn: (-vn[1], vn[0]))[:FACET_LIMIT]
            for name, values in facets.items()}


def _candidates(session: Session, principal: Principal, req: SearchRequest, scored: Select) -> Sequence[Any]:
    """The best visible, filtered pages, best first. The index ranks first and the policy and filters
    are joined to its best RANKED_WINDOW pages: on a large index, joining every match before ranking
    cost three times the ranking itself. When too few of those pass (a narrow filter, a low
    clearance) and the window was full, the statement runs again over every match."""
    dates = [Document.issued_on, Document.updated_at] if req.sort == "date" else []
    for window in (RANKED_WINDOW, None):
        if window:
            ranked = scored.order_by(scored.selected_columns.score.desc()).limit(window).subquery("ranked")
            # How many pages the window held, policy not applied: never shown, it only says whether
            # a second pass could find more.
            sp = select(ranked.c.page_id, ranked.c.score, func.count().over().label("window_rows")).subquery("sp")
        else:
            sp = scored.subquery("sp")
        rows = session.execute(
            select(Document.id.label("doc_id"), Page.id.label("page_id"), Page.number, sp.c.score,
                   Document.category, Page.language, *dates, *([sp.c.window_rows] if window else []))
            .join(Page, Page.id == sp.c.page_id)
            # Through the version's primary key: from a page, its document is one lookup, not a scan.
            .join(DocumentVersion, DocumentVersion.id == Page.version_id)
            .join(Document, and_(Document.id == DocumentVersion.document_id,
                                 Document.current_version_id == Page.version_id))
            .where(policy.document_clause(principal), *_filters(req))
            .order_by(sp.c.score.desc(), Page.id).limit(MAX_CANDIDATE_PAGES)).all()
        if len(rows) >= MAX_CANDIDATE_PAGES or (window and rows and rows[0].window_rows < window):
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
    # Hits show column attributes only: the document's tags, countries and HS codes load when asked
    # (eagerly they were three more statements a search).
    docs = {d.id: d for d in session.execute(select(Document).options(lazyload("*"))
                                             .where(Document.id.in_(chosen))).scalars()}
    shown_pages = [best[i].page_id for i in chosen]
    texts = dict(session.execute(select(Page.id, Page.text).where(Page.id.in_(shown_pages))).all())
    result.hits = [
        Hit(docs[i], float(best[i].score), best[i].number, snippet(texts.get(best[i].page_id, ""), highlight))
        for i in chosen
    ]
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
        if "\uac00" <= t[:1] <= "\ud7a3":  # only Hangul words have parts; skip the call for the rest
            out.extend(compound_parts(t))
    return out


def index_rows(pages: list[tuple[int, str]]) -> list[tuple[int, IndexedText]]:
    """Analyse page texts for the index, with tokens split exactly as FTS5 splits them; long Korean
    nouns written without spaces also bring their parts."""
    analyzer = _multilingual()
    analysed = analyzer.index_batch([t for _, t in pages])
    return [(pid, IndexedText(terms=fts_tokens(_with_compound_parts(a.terms)), grams=fts_tokens(a.grams), lang=a.lang))
            for (pid, _), a in zip(pages, analysed, strict=True)]
