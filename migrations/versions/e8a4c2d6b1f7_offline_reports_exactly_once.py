"""Offline reports sent exactly once: idempotency key and body hash per report (unique per
author), device time, photos announced and the action waiting for them; per photo its client key.

A report waiting for its photos is stored as a draft with `pending_action` set; the check
constraint keeps a published report complete, so every count that reads status = 'published'
(coverage triggers, teladan, feeds) never sees a half-sent report.

Revision ID: e8a4c2d6b1f7
Revises: c5e1f3a8b902
Create Date: 2026-12-10 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e8a4c2d6b1f7'
down_revision = "c5e1f3a8b902"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('request_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('written_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('photos_expected', sa.SmallInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('pending_action', sa.String(length=10), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_activity_author_idempotency_key'), ['author_id', 'idempotency_key'])
        batch_op.create_check_constraint(
            op.f('ck_activity_pending_action'), "pending_action IN ('publish', 'review', 'draft')")
        batch_op.create_check_constraint(
            op.f('ck_activity_published_complete'), "status <> 'published' OR pending_action IS NULL")
        batch_op.create_check_constraint(op.f('ck_activity_photos_expected'), 'photos_expected BETWEEN 0 AND 6')
        # The author's newest reports (/api/v1/me/reporting) and the daily cap.
        batch_op.create_index(op.f('ix_activity_author_created'), ['author_id', 'created_at'], unique=False)
    with op.batch_alter_table('activity_photo', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch_op.create_index(op.f('uq_activity_photo_client_position'), ['activity_id', 'position'], unique=True,
                              postgresql_where='client_key IS NOT NULL')


def downgrade():
    with op.batch_alter_table('activity_photo', schema=None) as batch_op:
        batch_op.drop_index(op.f('uq_activity_photo_client_position'), postgresql_where='client_key IS NOT NULL')
        batch_op.drop_column('client_key')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index(op.f('ix_activity_author_created'))
        batch_op.drop_constraint(op.f('ck_activity_photos_expected'), type_='check')
        batch_op.drop_constraint(op.f('ck_activity_published_complete'), type_='check')
        batch_op.drop_constraint(op.f('ck_activity_pending_action'), type_='check')
        batch_op.drop_constraint(op.f('uq_activity_author_idempotency_key'), type_='unique')
        batch_op.drop_column('pending_action')
        batch_op.drop_column('photos_expected')
        batch_op.drop_column('written_at')
        batch_op.drop_column('request_hash')
        batch_op.drop_column('idempotency_key')
