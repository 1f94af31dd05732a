"""The page index behind one interface, with FTS5's BM25 on both backends.

Rows hold a page's analysed text in two columns: `terms` (words) and `grams` (single CJK characters,
weighted lower). SQLite keeps them in an FTS5 table; PostgreSQL in tsvectors built from our exact
tokens (never re-parsed) with GIN indexes, and computes the same BM25 formula FTS5 uses
(k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6; a row's length is its
token count in all columns), so both return the same ranking.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import Select
from sqlalchemy.orm import Session

from entrepot.search.analyzers import IndexedText

K1, B = 1.2, 0.75
#: The single-character column's weight, measured on the shared corpus (bench/search.py): 1.4 best for
#: traditional Chinese (0.951 against 0.946 at 0.5), neutral elsewhere.
WEIGHTS = {"terms": 1.0, "grams": 1.4}
MAX_QUERY_TERMS = 64
#: Postings a query may walk (the sum of its tokens' document frequencies). BM25 gives the commonest
#: tokens the least weight, so past this budget they are left out of the match, rarest kept first;
#: that bounds the work of a long question on a large index (bench/search.py --scale).
POSTINGS_BUDGET = 4_000
#: Queries of at most this many words are word searches (see Query.needs_words).
WORD_SEARCH_TERMS = 2


@dataclass(frozen=True)
class Phrase:
    """Tokens that must stand next to each other, in this order, in one column of a row: words for
    Latin and Hangul text, single characters ("grams") for Han text, whose word segmentation
    differs with the context (a quoted 好易 is one word alone, two inside its sentence). Phrases
    only filter: they add nothing to the score, alike on both backends."""

    column: str  # "terms" or "grams"
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    """What to match: any of the terms and grams (scored), all phrases, none of the excluded."""

    analysed: IndexedText
    phrases: tuple[Phrase, ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def terms(self) -> list[str]:
        return list(dict.fromkeys(t for t in self.analysed.terms if t.strip()))[:MAX_QUERY_TERMS]

    @property
    def grams(self) -> list[str]:
        return list(dict.fromkeys(g for g in self.analysed.grams if g.strip()))[:MAX_QUERY_TERMS]

    @property
    def prefix(self) -> bool:
        return bool(getattr(self.analysed, "prefix", False))

    @property
    def needs_words(self) -> bool:
        """Whether a page must share a word with the query: so for a short query (a word or two is a
        word search: 京都 must not match inside 東京都), unless it is lone CJK characters (a
        one-character search). A longer question is ranked retrieval: a page sharing its characters
        but segmented differently is often the answer (bench/search.py: without this, zh-Hant MRR@10
        fell from 0.942 to 0.895)."""
        return len(self.terms) <= WORD_SEARCH_TERMS and any(len(t) > 1 or t.isascii() for t in self.terms)

    @property
    def empty(self) -> bool:
        return not (self.terms or self.grams or self.phrases)

    def within_budget(self, frequencies: dict[tuple[str, str], int], budget: int = POSTINGS_BUDGET) -> Query:
        """This query without its commonest tokens once their postings pass the budget; the rarest
        word always stays, so a page must still share a word with the query. `frequencies` maps
        (column, token) to the number of rows holding it."""
        if self.prefix:
            return self
        tokens = sorted([(frequencies.get(("terms", t), 0), 0, t) for t in self.terms]
                        + [(frequencies.get(("grams", g), 0), 1, g) for g in self.grams])
        if sum(df for df, _, _ in tokens) <= budget:
            return self
        kept: set[tuple[int, str]] = set()
        spent = 0
        for df, col, tok in tokens:
            if spent + df > budget:
                break
            kept.add((col, tok))
            spent += df
        if self.terms and not any(col == 0 for col, _ in kept):
            kept.add(next((0, tok) for _, col, tok in tokens if col == 0))
        analysed = replace(self.analysed, terms=[t for t in self.terms if (0, t) in kept],
                           grams=[g for g in self.grams if (1, g) in kept])
        return replace(self, analysed=analysed)


class PageIndex(Protocol):
    def replace(self, session: Session, rows: Sequence[tuple[int, IndexedText]]) -> None:
        """Index these pages (page id, analysed text), replacing what they had."""

    def add(self, session: Session, rows: Sequence[tuple[int, IndexedText]]) -> None:
        """Index rows that are not in the index yet (new ids): `replace` without the removal."""

    def remove(self, session: Session, page_ids: Sequence[int]) -> None: ...

    def matching_pages(self, query: Query) -> Select | None:
        """A SELECT of page_id for every matching page (for counts and facets: no scoring)."""

    def scored_pages(self, session: Session, query: Query) -> Select | None:
        """A SELECT of (page_id, score) for every matching page, higher score better."""

    def clear(self, session: Session) -> None: ...

    def segments(self, session: Session) -> int:
        """How many separately stored segments a query must visit."""

    def merge_step(self, session: Session, pages: int) -> bool:
        """Merge about `pages` pages of the index's segments toward one; True if there was work to do.
        Every write transaction adds a segment that each query must visit (see search/compact.py)."""

    def rows_with(self, session: Session, column: str, token: str, limit: int) -> int:
        """How many rows hold the token in this column, counting no further than `limit`."""

    def rows_with_each(self, session: Session, wanted: Sequence[tuple[str, str]], limit: int) -> list[int]:
        """rows_with for each (column, token), in one statement."""


def page_index(session: Session) -> PageIndex:
    from entrepot.search.fts5 import Fts5Index
    from entrepot.search.pg import PostgresIndex

    return PostgresIndex() if session.get_bind().dialect.name == "postgresql" else Fts5Index()


#: (database, index, column, token) -> (rows holding it, capped at the budget; when to ask again).
#: Frequencies move slowly and pruning needs only their size, so they are kept for a while.
_frequencies: dict[tuple[str, str, str, str], tuple[int, float]] = {}
FREQUENCY_TTL_S = 600.0
FREQUENCY_CACHE_SIZE = 200_000


def frequencies(index: PageIndex, session: Session, query: Query, budget: int = POSTINGS_BUDGET
                ) -> dict[tuple[str, str], int]:
    """(column, token) -> rows holding it (at most budget + 1) for the query's terms and grams."""
    bind = session.get_bind()
    where = (str(bind.engine.url), getattr(index, "name", ""))
    now = time.monotonic()
    wanted = [("terms", t) for t in query.terms] + [("grams", g) for g in query.grams]
    known = {ct: _frequencies.get((*where, *ct)) for ct in wanted}
    missing = [ct for ct, hit in known.items() if hit is None or hit[1] < now]
    if missing:
        if len(_frequencies) + len(missing) > FREQUENCY_CACHE_SIZE:
            _frequencies.clear()
        # One statement for all the tokens not known yet: a statement each cost more in Python
        # than the counting itself (bench/search.py --scale 100000).
        for ct, n in zip(missing, index.rows_with_each(session, missing, budget + 1), strict=True):
            known[ct] = _frequencies[(*where, *ct)] = (n, now + FREQUENCY_TTL_S)
    return {ct: hit[0] for ct, hit in known.items() if hit is not None}
