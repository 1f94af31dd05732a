"""SQLite FTS5 page index (the embedded default)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, column, literal_column, select, table, text
from sqlalchemy.orm import Session

from entrepot.search.analyzers import IndexedText, quote_token
from entrepot.search.backend import WEIGHTS, Query

TABLE = "page_fts"


def match_expression(q: Query) -> str | None:
    """Every token quoted, so nothing a user types can become an FTS5 operator."""
    star = "*" if q.prefix else ""  # a lone Hangul syllable (차) searches word beginnings (차량)
    terms = "terms : (" + " OR ".join(quote_token(t) + star for t in q.terms) + ")" if q.terms else ""
    grams = "grams : (" + " OR ".join(quote_token(g) for g in q.grams) + ")" if q.grams else ""
    if terms and grams and not q.needs_words:
        expr = f"{terms} OR {grams}"
    elif terms and grams:
        # A page must share a word with the query (so 京都 never matches inside 東京都); the grams
        # only add to its score. "T AND (G OR T)" matches exactly T while bm25 still counts G.
        expr = f"{terms} AND ({grams} OR {terms})"
    else:
        expr = terms or grams
    for phrase in q.phrases:
        quoted = quote_token(" ".join(phrase))
        expr = f"({expr}) AND terms : {quoted}" if expr else f"terms : {quoted}"
    if not expr:
        return None
    for term in q.excluded:
        expr = f"({expr}) NOT {quote_token(term)}"
    return expr


class Fts5Index:
    """An FTS5 table of (terms, grams, lang UNINDEXED) whose rowid is the indexed row's id; results are
    labelled `key`. The library's pages by default; the messenger indexes messages the same way."""

    def __init__(self, name: str = TABLE, key: str = "page_id") -> None:
        self.name, self.key = name, key
        self.table = table(name, column("rowid"), column("terms"), column("grams"), column("lang"))

    def replace(self, session: Session, rows: Sequence[tuple[int, IndexedText]]) -> None:
        self.remove(session, [page_id for page_id, _ in rows])
        if rows:
            session.execute(text(f"INSERT INTO {self.name}(rowid, terms, grams, lang) VALUES (:id, :t, :g, :l)"),  # nosec B608
                            [{"id": pid, "t": " ".join(a.terms), "g": " ".join(a.grams), "l": a.lang}
                             for pid, a in rows])

    def remove(self, session: Session, page_ids: Sequence[int]) -> None:
        for start in range(0, len(page_ids), 500):
            chunk = list(page_ids[start:start + 500])
            session.execute(self.table.delete().where(self.table.c.rowid.in_(chunk)))

    def clear(self, session: Session) -> None:
        session.execute(text(f"DELETE FROM {self.name}"))  # nosec B608 # our table name

    def rows_with(self, session: Session, column: str, token: str, limit: int) -> int:
        match = f"{column} : {quote_token(token)}"
        return int(session.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {self.name} "  # noqa: S608 # nosec B608 # our names
                                         f"WHERE {self.name} MATCH :m LIMIT :n)"), {"m": match, "n": limit}).scalar_one())

    def matching_pages(self, query: Query) -> Select | None:
        expr = match_expression(query)
        if expr is None:
            return None
        return select(self.table.c.rowid.label(self.key)).where(literal_column(self.name).op("MATCH")(expr))

    def scored_pages(self, session: Session, query: Query) -> Select | None:
        expr = match_expression(query)
        if expr is None:
            return None
        score = literal_column(f"-bm25({self.name}, {WEIGHTS['terms']}, {WEIGHTS['grams']}, 0.0)")
        return (select(self.table.c.rowid.label(self.key), score.label("score"))
                .where(literal_column(self.name).op("MATCH")(expr)))
