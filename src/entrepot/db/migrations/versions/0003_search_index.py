"""search index: FTS5 on SQLite, tsvector + GIN on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Every letter, number, mark and private-use character is part of a token; only our spaces split.
FTS5_TOKENIZE = "unicode61 remove_diacritics 0 categories 'L* N* M* Co'"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE VIRTUAL TABLE page_fts USING fts5(terms, grams, lang UNINDEXED, tokenize=\"{FTS5_TOKENIZE}\")")
        return
    op.execute("""
        CREATE TABLE page_search (
            page_id integer PRIMARY KEY REFERENCES pages(id) ON DELETE CASCADE,
            terms tsvector NOT NULL,
            grams tsvector NOT NULL,
            lang varchar(8) NOT NULL,
            dl integer NOT NULL
        )""")
    op.execute("CREATE INDEX ix_page_search_terms ON page_search USING gin (terms)")
    op.execute("CREATE INDEX ix_page_search_grams ON page_search USING gin (grams)")
    op.execute("CREATE TABLE search_stats (id integer PRIMARY KEY, rows bigint NOT NULL, tokens bigint NOT NULL)")
    op.execute("INSERT INTO search_stats (id, rows, tokens) VALUES (1, 0, 0)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE page_fts")
        return
    op.execute("DROP TABLE search_stats")
    op.execute("DROP TABLE page_search")
