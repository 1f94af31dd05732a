"""Compliance: lexicon rules scoped to one enterprise or to everyone, per-enterprise off-topic settings

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import entrepot.db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rules keep applying to everyone (enterprise_id NULL).
    with op.batch_alter_table("lexicon_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enterprise_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_lexicon_rules_enterprise_id_enterprises"), "enterprises", ["enterprise_id"], ["id"]
        )
        batch_op.create_index("ix_lexicon_rules_enterprise_id", ["enterprise_id"], unique=False)

    op.create_table(
        "topic_settings",
        sa.Column("enterprise_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", entrepot.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_topic_settings_enterprise_id_enterprises"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_topic_settings_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("enterprise_id", name=op.f("pk_topic_settings")),
    )


def downgrade() -> None:
    op.drop_table("topic_settings")
    with op.batch_alter_table("lexicon_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_lexicon_rules_enterprise_id")
        batch_op.drop_constraint(batch_op.f("fk_lexicon_rules_enterprise_id_enterprises"), type_="foreignkey")
        batch_op.drop_column("enterprise_id")
