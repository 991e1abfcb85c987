"""API tokens expire: api_token.expires_at.

Tokens that exist at upgrade time get created_at + 90 days (the default lifetime); those
already older than that stop working at once, which is the point.

Revision ID: b5e1c7a2d913
Revises: a3d9e0b7c411
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "b5e1c7a2d913"
down_revision = "a3d9e0b7c411"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("api_token", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE api_token SET expires_at = created_at + interval '90 days'")
    op.alter_column("api_token", "expires_at", nullable=False)


def downgrade():
    op.drop_column("api_token", "expires_at")
