"""dispatch: leases, uncertain sends, redeliveries, alert errors and the shared rate bucket

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_bucket',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error', sa.String(), nullable=True))

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('uncertain', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('segments', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('redeliveries', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_index('ix_delivery_alert_id')
        batch_op.create_index('ix_delivery_alert_state', ['alert_id', 'state', 'next_attempt_at', 'id'], unique=False)
        batch_op.drop_index('ix_delivery_claim')
        batch_op.create_index('ix_delivery_claim', ['state', 'priority', 'next_attempt_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_claim')
        batch_op.create_index('ix_delivery_claim', ['state', 'priority', 'next_attempt_at'], unique=False)
        batch_op.drop_index('ix_delivery_alert_state')
        batch_op.create_index('ix_delivery_alert_id', ['alert_id'], unique=False)
        batch_op.drop_column('redeliveries')
        batch_op.drop_column('segments')
        batch_op.drop_column('uncertain')
        batch_op.drop_column('lease_owner')

    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_column('error')

    op.drop_table('rate_bucket')
