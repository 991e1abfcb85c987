"""A large photo uploaded one by one (PUT .../photos/<n>) waits for the job worker too: the pending
photo keeps the client's Idempotency-Key and holds its position, as a stored photo does, and the
report counts those with the worker (`activity.photos_with_worker`, so no list queries them).

Revision ID: b3d8f5a2c6e1
Revises: a7c2e9f41b3d
"""
import sqlalchemy as sa
from alembic import op

revision = "b3d8f5a2c6e1"
down_revision = "a7c2e9f41b3d"
branch_labels = None
depends_on = None


def upgrade():
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column("activity", sa.Column("photos_with_worker", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column("activity_pending_photo", sa.Column("client_key", sa.String(length=64), nullable=True))
    op.create_index("uq_activity_pending_photo_client_position", "activity_pending_photo",
                    ["activity_id", "position"], unique=True, postgresql_where=sa.text("client_key IS NOT NULL"))


def downgrade():
    op.drop_index("uq_activity_pending_photo_client_position", table_name="activity_pending_photo",
                  postgresql_where=sa.text("client_key IS NOT NULL"))
    op.drop_column("activity_pending_photo", "client_key")
    op.drop_column("activity", "photos_with_worker")
