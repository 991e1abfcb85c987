"""KIM teladan scores.

Revision ID: a3d9e0b7c411
Revises: 7c1e5a9d2f40
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "a3d9e0b7c411"
down_revision = "7c1e5a9d2f40"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "kim_score",
        sa.Column("kim_id", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        *[sa.Column(name, sa.Float(), nullable=False)
          for name in ("regularity", "recency", "variety", "reach", "evidence", "completeness")],
        sa.Column("active_months", sa.Integer(), nullable=False),
        sa.Column("last_report_on", sa.Date(), nullable=True),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("score_90_days_ago", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["kim_id"], ["kim.id"], name=op.f("fk_kim_score_kim_id_kim"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("kim_id", name=op.f("pk_kim_score")),
    )
    op.create_index("ix_kim_score_score", "kim_score", ["score"])
    op.create_table(
        "teladan_run",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("kims", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teladan_run")),
    )


def downgrade():
    op.drop_table("teladan_run")
    op.drop_index("ix_kim_score_score", table_name="kim_score")
    op.drop_table("kim_score")
