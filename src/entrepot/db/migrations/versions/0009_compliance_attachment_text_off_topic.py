"""Compliance: flag details (attachment text, off-topic window), message trade scores, drift episodes

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import entrepot.db.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))

    op.create_table(
        "topic_scores",
        sa.Column("message_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_topic_scores_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_topic_scores")),
    )
    with op.batch_alter_table("topic_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_topic_scores_conversation_message", ["conversation_id", "message_id"], unique=False
        )

    op.create_table(
        "topic_states",
        sa.Column("conversation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("drifting", sa.Boolean(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", entrepot.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_topic_states_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_topic_states")),
    )


def downgrade() -> None:
    op.drop_table("topic_states")
    with op.batch_alter_table("topic_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_topic_scores_conversation_message")
    op.drop_table("topic_scores")
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.drop_column("details")
