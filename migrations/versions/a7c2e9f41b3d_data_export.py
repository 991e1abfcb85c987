"""Large exports built in the background: data_export (core/exports.py).

Revision ID: a7c2e9f41b3d
Revises: a68212dafa60
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "a7c2e9f41b3d"
down_revision = "a68212dafa60"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "data_export",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("fmt", sa.String(length=10), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("params_hash", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("storage_key", sa.String(length=60), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_export")),
    )
    op.create_index("ix_data_export_lookup", "data_export", ["kind", "fmt", "params_hash", "requested_at"])
    op.create_index("ix_data_export_requested_at", "data_export", ["requested_at"])


def downgrade():
    op.drop_table("data_export")
