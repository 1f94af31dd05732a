"""The page index behind one interface, with FTS5's BM25 on both backends.

Rows hold a page's analysed text in two columns: `terms` (words) and `grams` (single CJK characters,
weighted lower). SQLite keeps them in an FTS5 table; PostgreSQL in tsvectors built from our exact
tokens (never re-parsed) with GIN indexes, and computes the same BM25 formula FTS5 uses
(k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6; a row's length is its
token count in all columns), so both return the same ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Select
from sqlalchemy.orm import Session

from entrepot.search.analyzers import IndexedText

K1, B = 1.2, 0.75
#: The single-character column's weight, measured on the shared corpus (bench/search.py): 1.4 best for
#: traditional Chinese (0.951 against 0.946 at 0.5), neutral elsewhere.
WEIGHTS = {"terms": 1.0, "grams": 1.4}
MAX_QUERY_TERMS = 64


@dataclass(frozen=True)
class Query:
    """What to match: any of the terms and grams (scored), all phrases, none of the excluded."""

    analysed: IndexedText
    phrases: tuple[tuple[str, ...], ...] = ()
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
        """Whether a page must share a word with the query. Not so for a query of lone CJK
        characters (a one-character search), which matches on single characters."""
        return any(len(t) > 1 or t.isascii() for t in self.terms)

    @property
    def empty(self) -> bool:
        return not (self.terms or self.grams or self.phrases)


class PageIndex(Protocol):
    def replace(self, session: Session, rows: Sequence[tuple[int, IndexedText]]) -> None:
        """Index these pages (page id, analysed text), replacing what they had."""

    def remove(self, session: Session, page_ids: Sequence[int]) -> None: ...

    def matching_pages(self, query: Query) -> Select | None:
        """A SELECT of page_id for every matching page (for counts and facets: no scoring)."""

    def scored_pages(self, session: Session, query: Query) -> Select | None:
        """A SELECT of (page_id, score) for every matching page, higher score better."""

    def clear(self, session: Session) -> None: ...


def page_index(session: Session) -> PageIndex:
    from entrepot.search.fts5 import Fts5Index
    from entrepot.search.pg import PostgresIndex

    return PostgresIndex() if session.get_bind().dialect.name == "postgresql" else Fts5Index()
