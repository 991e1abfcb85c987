"""Aspirations: an index on created_at, for the oversight figures' window (issue 18).

The time-to-answer table and the repeated topics read the items raised in the last 90 or 365
days; the directorate's national view has no region to narrow it by otherwise.

Revision ID: c9d4e2f7a6b1
Revises: a8f2c4e6b913
Create Date: 2026-12-01 17:45:00.000000

"""
from alembic import op

revision = 'c9d4e2f7a6b1'
down_revision = "a8f2c4e6b913"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_aspiration_created_at', 'aspiration', ['created_at'])


def downgrade():
    op.drop_index('ix_aspiration_created_at', table_name='aspiration')
