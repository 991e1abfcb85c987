"""KIM invitations are answered by the invitee: status, expiry, answer time.

Until now an invitation became a membership as soon as its address logged in. Existing rows stay
pending and expire 14 days after this migration.

Revision ID: d41c7b2e9f53
Revises: b5e1c7a2d913
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "d41c7b2e9f53"
down_revision = "b5e1c7a2d913"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("kim_invitation", sa.Column("status", sa.String(length=10), server_default="pending",
                                              nullable=False))
    op.add_column("kim_invitation", sa.Column("expires_at", sa.DateTime(timezone=True),
                                              server_default=sa.text("now() + interval '14 days'"), nullable=False))
    op.add_column("kim_invitation", sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f("ck_kim_invitation_status"), "kim_invitation",
                               "status IN ('pending', 'accepted', 'declined')")


def downgrade():
    op.drop_constraint(op.f("ck_kim_invitation_status"), "kim_invitation", type_="check")
    op.drop_column("kim_invitation", "answered_at")
    op.drop_column("kim_invitation", "expires_at")
    op.drop_column("kim_invitation", "status")
