"""Messenger: membership changes, delivery state, replies

Delivery marks per member, and the search indexes of messages (what members may find) and of the
compliance archive (what reviewers may find, originals of edits and deletions included): FTS5 tables on
SQLite, tsvector tables under GIN on PostgreSQL, exactly as 0003 builds the library's page index.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# As in 0003: every letter, number, mark and private-use character is part of a token; only our spaces split.
FTS5_TOKENIZE = "unicode61 remove_diacritics 0 categories 'L* N* M* Co'"
#: (index table, key column, indexed table, row in search_stats); the library's pages hold row 1.
INDEXES = (("message", "message_id", "messages", 2), ("archive", "record_id", "archive_records", 3))


def upgrade() -> None:
    with op.batch_alter_table('conversation_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivered_up_to', sa.BigInteger(), server_default='0', nullable=False))
    if op.get_bind().dialect.name == "sqlite":
        for name, _key, parent, _stats in INDEXES:
            op.execute(f"CREATE VIRTUAL TABLE {name}_fts USING fts5(terms, grams, lang UNINDEXED, "
                       f"tokenize=\"{FTS5_TOKENIZE}\")")
            # A row removed by a cascade or by the retention job leaves the index too, as the foreign keys
            # of the PostgreSQL tables below do.
            op.execute(f"CREATE TRIGGER {parent}_fts_delete AFTER DELETE ON {parent} "  # noqa: S608 - our names
                       f"BEGIN DELETE FROM {name}_fts WHERE rowid = old.id; END")
        return
    for name, key, parent, stats in INDEXES:
        op.execute(f"""
            CREATE TABLE {name}_search (
                {key} integer PRIMARY KEY REFERENCES {parent}(id) ON DELETE CASCADE,
                terms tsvector NOT NULL,
                grams tsvector NOT NULL,
                lang varchar(8) NOT NULL,
                dl integer NOT NULL
            )""")
        op.execute(f"CREATE INDEX ix_{name}_search_terms ON {name}_search USING gin (terms)")
        op.execute(f"CREATE INDEX ix_{name}_search_grams ON {name}_search USING gin (grams)")
        op.execute(f"INSERT INTO search_stats (id, rows, tokens) VALUES ({stats}, 0, 0)")  # noqa: S608 - constants


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, _key, parent, _stats in INDEXES:
            op.execute(f"DROP TRIGGER {parent}_fts_delete")
            op.execute(f"DROP TABLE {name}_fts")
    else:
        for name, _key, _parent, stats in INDEXES:
            op.execute(f"DROP TABLE {name}_search")
            op.execute(f"DELETE FROM search_stats WHERE id = {stats}")  # noqa: S608 - constants
    with op.batch_alter_table('conversation_members', schema=None) as batch_op:
        batch_op.drop_column('delivered_up_to')
