"""SQLite FTS5 page index (the embedded default)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, column, literal_column, select, table, text
from sqlalchemy.orm import Session

from entrepot.search.analyzers import IndexedText, quote_token
from entrepot.search.backend import WEIGHTS, Query

TABLE = "page_fts"


def match_expression(q: Query) -> str | None:
    """The scored part of the match (terms and grams, minus the excluded); every token quoted, so
    nothing a user types can become an FTS5 operator. Phrases are a separate filter (phrase_expression)."""
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
    return _excluding(expr, q) if expr else None


def phrase_expression(q: Query) -> str | None:
    """Every phrase of the query, each in its column; None without phrases."""
    parts = [f"{p.column} : {quote_token(' '.join(p.tokens))}" for p in q.phrases if p.tokens]
    return " AND ".join(parts) or None


def _excluding(expr: str, q: Query) -> str:
    for term in q.excluded:
        expr = f"({expr}) NOT {quote_token(term)}"
    return expr


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """SQLite's big-endian varint at `at`: (value, position after it)."""
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + i + 1
    raise AssertionError("unreachable")


class Fts5Index:
    """An FTS5 table of (terms, grams, lang UNINDEXED) whose rowid is the indexed row's id; results are
    labelled `key`. The library's pages by default; the messenger indexes messages the same way."""

    def __init__(self, name: str = TABLE, key: str = "page_id") -> None:
        self.name, self.key = name, key
        self.table = table(name, column("rowid"), column("terms"), column("grams"), column("lang"))

    def replace(self, session: Session, rows: Sequence[tuple[int, IndexedText]]) -> None:
        self.remove(session, [page_id for page_id, _ in rows])
        self.add(session, rows)

    def add(self, session: Session, rows: Sequence[tuple[int, IndexedText]]) -> None:
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

    def segments(self, session: Session) -> int:
        # The count is the second varint after the 4-byte cookie of the structure record, row 10 of
        # the %_data table (the on-disk format described in SQLite's fts5_index.c).
        block = session.execute(text(f"SELECT block FROM {self.name}_data WHERE id = 10")).scalar()  # nosec B608
        if not block:
            return 0
        _levels, at = _varint(block, 4)
        count, _ = _varint(block, at)
        return count

    def merge_step(self, session: Session, pages: int) -> bool:
        # A negative count merges toward a single segment whatever the segments' levels; FTS5 says the
        # command did work when total_changes() moved by two or more.
        changes = text("SELECT total_changes()")
        before = session.execute(changes).scalar_one()
        session.execute(text(f"INSERT INTO {self.name}({self.name}, rank) VALUES ('merge', :n)"),  # nosec B608
                        {"n": -abs(pages)})
        return int(session.execute(changes).scalar_one()) - int(before) >= 2

    def rows_with(self, session: Session, column: str, token: str, limit: int) -> int:
        match = f"{column} : {quote_token(token)}"
        capped = text(f"SELECT count(*) FROM (SELECT 1 FROM {self.name} "  # nosec B608 # our table name
                      f"WHERE {self.name} MATCH :m LIMIT :n)")
        return int(session.execute(capped, {"m": match, "n": limit}).scalar_one())

    def _match(self, expr: str) -> ColumnElement[bool]:
        return literal_column(self.name).op("MATCH", is_comparison=True)(expr)

    def _with_phrases(self, stmt: Select, query: Query) -> Select:
        """Phrases filter through their own MATCH on the same table, so bm25 never counts them
        (PostgreSQL cannot score a phrase; both backends must rank alike)."""
        phrases = phrase_expression(query)
        if phrases is None:
            return stmt
        inner = text(f"SELECT rowid FROM {self.name} WHERE {self.name} MATCH :phrase_match")  # noqa: S608 # nosec B608
        return stmt.where(self.table.c.rowid.in_(inner.bindparams(phrase_match=phrases).columns(column("rowid"))))

    def rows_with_each(self, session: Session, wanted: Sequence[tuple[str, str]], limit: int) -> list[int]:
        counts = [f"(SELECT count(*) FROM (SELECT 1 FROM {self.name} WHERE {self.name} MATCH :m{i} LIMIT :n))"  # nosec B608 # our table name
                  for i in range(len(wanted))]
        params: dict[str, object] = {f"m{i}": f"{col} : {quote_token(tok)}" for i, (col, tok) in enumerate(wanted)}
        params["n"] = limit
        return [int(n) for n in session.execute(text("SELECT " + ", ".join(counts)), params).one()] if wanted else []  # noqa: S608 # nosec B608

    def matching_pages(self, query: Query) -> Select | None:
        expr = match_expression(query)
        if expr is None:
            phrases = phrase_expression(query)
            if phrases is None:
                return None
            return select(self.table.c.rowid.label(self.key)).where(self._match(_excluding(phrases, query)))
        return self._with_phrases(select(self.table.c.rowid.label(self.key)).where(self._match(expr)), query)

    def scored_pages(self, session: Session, query: Query) -> Select | None:
        expr = match_expression(query)
        if expr is None:
            # Only phrases (their words all stop words): they match, nothing is scored.
            matching = self.matching_pages(query)
            return None if matching is None else matching.add_columns(literal_column("0.0").label("score"))
        bm25 = f"-bm25({self.name}, {WEIGHTS['terms']}, {WEIGHTS['grams']}, 0.0)"
        score: ColumnElement[float] = literal_column(bm25)
        stmt = select(self.table.c.rowid.label(self.key), score.label("score")).where(self._match(expr))
        return self._with_phrases(stmt, query)
