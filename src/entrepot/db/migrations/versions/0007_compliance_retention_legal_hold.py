"""Compliance: retention periods, legal holds, export jobs, prune checkpoints of hash chains

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import entrepot.db.base

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    # The checkpoint left by the retention job; existing chains start from the genesis hash.
    with op.batch_alter_table('chain_heads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('base_seq', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('base_hash', sa.String(length=64), server_default=GENESIS, nullable=False))
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.create_index('ix_audit_records_action_target', ['action', 'target_id'], unique=False)

    op.create_table('retention_policies',
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', entrepot.db.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'],
                            name=op.f('fk_retention_policies_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_retention_policies_set_by_id_users')),
    sa.PrimaryKeyConstraint('enterprise_id', name=op.f('pk_retention_policies'))
    )

    op.create_table('legal_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=False),
    sa.Column('placed_at', entrepot.db.base.UTCDateTime(), nullable=False),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('released_at', entrepot.db.base.UTCDateTime(), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('(user_id IS NULL) <> (conversation_id IS NULL)', name=op.f('ck_legal_holds_one_target')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                            name=op.f('fk_legal_holds_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_legal_holds_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['placed_by_id'], ['users.id'], name=op.f('fk_legal_holds_placed_by_id_users')),
    sa.ForeignKeyConstraint(['released_by_id'], ['users.id'], name=op.f('fk_legal_holds_released_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_legal_holds_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index('ix_legal_holds_active', ['released_at', 'enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_legal_holds_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_legal_holds_user_id'), ['user_id'], unique=False)

    op.create_table('export_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('since', entrepot.db.base.UTCDateTime(), nullable=True),
    sa.Column('until', entrepot.db.base.UTCDateTime(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('done', sa.BigInteger(), nullable=False),
    sa.Column('file', sa.String(length=100), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', entrepot.db.base.UTCDateTime(), nullable=False),
    sa.Column('finished_at', entrepot.db.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_export_jobs_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_export_jobs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_jobs'))
    )
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_export_jobs_requested_by_created', ['requested_by_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_export_jobs_requested_by_created')
    op.drop_table('export_jobs')
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_holds_user_id'))
        batch_op.drop_index(batch_op.f('ix_legal_holds_conversation_id'))
        batch_op.drop_index('ix_legal_holds_active')
    op.drop_table('legal_holds')
    op.drop_table('retention_policies')
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_records_action_target')
    with op.batch_alter_table('chain_heads', schema=None) as batch_op:
        batch_op.drop_column('base_hash')
        batch_op.drop_column('base_seq')
