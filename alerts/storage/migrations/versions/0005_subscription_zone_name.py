"""subscription zone name: what a layer import that leaves a subscription without a zone keeps

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zone_name', sa.String(), nullable=True))
    # Existing subscriptions were made for the zone they hold now.
    op.execute(
        'UPDATE subscription SET zone_name = '
        '(SELECT zone.name FROM zone WHERE zone.id = subscription.zone_id) '
        'WHERE zone_id IS NOT NULL'
    )


def downgrade() -> None:
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_column('zone_name')
