"""FTS5 ranking recipe: table layout, safe MATCH expressions and BM25 weights.

Documents are stored pre-tokenised (tokens joined by spaces) in two columns, `terms` and
`grams` (see multilingual.IndexedText). The tokenizer below treats every letter, number,
mark and private-use character as part of a token, so our tokens (Hangul, Han, kana, digits,
stems) pass through FTS5 intact and only the spaces we put in separate them.

Queries are an OR of the query's terms, BM25-ranked, with the gram column at a lower weight.
Every token is emitted as a quoted FTS5 string, so user input can never inject operators
(OR, NEAR, *, ^, column filters): FTS5 treats a quoted string as plain phrase text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .bulk import ParallelAnalyzer, analyze_many
from .multilingual import IndexedText, MultilingualAnalyzer

__all__ = [
    "FTS5_TOKENIZE",
    "RankingWeights",
    "DEFAULT_WEIGHTS",
    "quote_token",
    "build_match_expression",
    "create_fts_table",
    "insert_documents",
    "search_fts",
    "ranked_sql",
    "sql_params",
]

FTS5_TOKENIZE = "unicode61 remove_diacritics 0 categories 'L* N* M* Co'"


@dataclass(frozen=True, slots=True)
class RankingWeights:
    terms: float = 1.0
    grams: float = 1.4  # gram-column BM25 weight; full bench zh-Hans/zh-Hant MRR: 0.5 -> 0.985/0.946,
    # 1.0 -> 0.986/0.949, 1.4 -> 0.986/0.951 (bench/search.py --gram-weight)
    # Score factor for documents in the query's language. Kanji are folded like hanzi, so a
    # Chinese query also matches Japanese documents; a mild preference for the query's own
    # language keeps those cross-language hits available but behind same-language ones.
    same_language: float = 1.0  # measured no gain on the corpus (IDF, not ranking, is shared); a knob


DEFAULT_WEIGHTS = RankingWeights()


def quote_token(token: str) -> str:
    """An FTS5 string literal: double quotes doubled, so the token is always plain text."""
    return '"' + token.replace('"', '""') + '"'


def _or_group(tokens: Iterable[str], *, prefix: bool = False) -> str:
    # Drop tokens with nothing FTS5 would index: an empty phrase is a syntax error. A prefix
    # query is the quoted string followed by *, still free of user-controlled syntax.
    star = "*" if prefix else ""
    quoted = [quote_token(t) + star for t in tokens if t and not t.isspace()]
    return " OR ".join(quoted)


def build_match_expression(query: IndexedText | Sequence[str], *, max_terms: int = 64) -> str | None:
    """MATCH expression for a query; None when there is nothing to search (empty, punctuation).

    A plain token list searches every column. An IndexedText restricts terms to the `terms`
    column and grams to the `grams` column.
    """
    if isinstance(query, IndexedText):
        terms = list(dict.fromkeys(query.terms))[:max_terms]
        grams = list(dict.fromkeys(query.grams))[:max_terms]
        groups = []
        if query.prefix and (t := _or_group(terms, prefix=True)):
            groups.append(f"terms : ({t})")
        elif t := _or_group(terms):
            groups.append(f"terms : ({t})")
        if g := _or_group(grams):
            groups.append(f"grams : ({g})")
        return " OR ".join(groups) or None
    return _or_group(list(dict.fromkeys(query))[:max_terms]) or None


def create_fts_table(conn: sqlite3.Connection, table: str = "search_fts") -> None:
    """Create the FTS5 table (rowid = the document's integer key)."""
    if not table.isidentifier():
        raise ValueError(f"bad table name {table!r}")
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(terms, grams, lang UNINDEXED, "
        f'tokenize="{FTS5_TOKENIZE}")'
    )


def insert_documents(
    conn: sqlite3.Connection,
    analyzer: MultilingualAnalyzer,
    docs: Iterable[tuple[int, str]],
    *,
    table: str = "search_fts",
    batch_size: int = 128,
    processes: int = 0,
    parallel: ParallelAnalyzer | None = None,
) -> int:
    """Analyse and insert (rowid, text) pairs; returns the number inserted.

    processes > 0 adds temporary worker processes for the analysis; pass a warm, long-lived
    `parallel` (bulk.ParallelAnalyzer) instead to keep model loading out of every build.
    """
    if not table.isidentifier():
        raise ValueError(f"bad table name {table!r}")
    sql = f"INSERT INTO {table}(rowid, terms, grams, lang) VALUES (?, ?, ?, ?)"  # noqa: S608 # nosec B608 # checked
    count = 0
    rows: list[tuple[int, str, str, str]] = []
    analysed_docs = (
        parallel.analyze_many(docs, batch_size=batch_size)
        if parallel is not None
        else analyze_many(analyzer, docs, batch_size=batch_size, processes=processes)
    )
    for rowid, analysed in analysed_docs:
        rows.append((rowid, *analysed.joined(), analysed.lang))
        if len(rows) >= batch_size:
            conn.executemany(sql, rows)
            count += len(rows)
            rows = []
    if rows:
        conn.executemany(sql, rows)
        count += len(rows)
    return count


def search_fts(
    conn: sqlite3.Connection,
    analyzer: MultilingualAnalyzer,
    query: str,
    *,
    table: str = "search_fts",
    limit: int = 10,
    weights: RankingWeights = DEFAULT_WEIGHTS,
) -> list[tuple[int, float]]:
    """(rowid, bm25 score) best first; lower FTS5 bm25 is better, so scores are negated."""
    if not table.isidentifier():
        raise ValueError(f"bad table name {table!r}")
    analysed = analyzer.analyze_query(query)
    expr = build_match_expression(analysed)
    if expr is None:
        return []
    rows = conn.execute(ranked_sql(table), (*sql_params(weights, analysed.lang), expr, limit)).fetchall()
    return [(rowid, -score) for rowid, score in rows]


def ranked_sql(table: str) -> str:
    """SELECT rowid, score ... best first; parameters: sql_params(...), MATCH expression, limit."""
    if not table.isidentifier():
        raise ValueError(f"bad table name {table!r}")
    # FTS5 bm25() is negative (lower is better), so the language factor multiplies it.
    return (
        f"SELECT rowid, bm25({table}, ?, ?, 0.0) * (CASE WHEN lang = ? THEN ? ELSE 1.0 END) AS s "  # noqa: S608 # nosec B608
        f"FROM {table} WHERE {table} MATCH ? ORDER BY s LIMIT ?"
    )


def sql_params(weights: RankingWeights, query_lang: str) -> tuple[float, float, str, float]:
    return (weights.terms, weights.grams, query_lang, weights.same_language)
