"""Aspirations through the offline outbox and the one-step hoax clarification (issue 18).

Like offline reports (e8a4c2d6b1f7): the client's Idempotency-Key and the hash of the parsed body
per item (unique per author), the device time and the evidence photos announced to follow one by
one; per photo its client key (a position holds one photo). And the klarifikasi hoaks activity
report published from an answered hoax item, at most one per item.

Revision ID: c9d4e7a1f352
Revises: c9d4e7a2f610
Create Date: 2026-12-01 17:40:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c9d4e7a1f352'
down_revision = "c9d4e7a2f610"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('aspiration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('request_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('written_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('photos_expected', sa.SmallInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('clarification_activity_id', sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_aspiration_author_idempotency_key'),
                                          ['author_id', 'idempotency_key'])
        batch_op.create_unique_constraint(op.f('uq_aspiration_clarification_activity_id'),
                                          ['clarification_activity_id'])
        batch_op.create_foreign_key(op.f('fk_aspiration_clarification_activity_id_activity'), 'activity',
                                    ['clarification_activity_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_aspiration_photos_expected'), 'photos_expected BETWEEN 0 AND 4')
    with op.batch_alter_table('aspiration_photo', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch_op.create_index(op.f('uq_aspiration_photo_client_position'), ['aspiration_id', 'position'],
                              unique=True, postgresql_where='client_key IS NOT NULL')


def downgrade():
    with op.batch_alter_table('aspiration_photo', schema=None) as batch_op:
        batch_op.drop_index(op.f('uq_aspiration_photo_client_position'), postgresql_where='client_key IS NOT NULL')
        batch_op.drop_column('client_key')
    with op.batch_alter_table('aspiration', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_aspiration_photos_expected'), type_='check')
        batch_op.drop_constraint(op.f('fk_aspiration_clarification_activity_id_activity'), type_='foreignkey')
        batch_op.drop_constraint(op.f('uq_aspiration_clarification_activity_id'), type_='unique')
        batch_op.drop_constraint(op.f('uq_aspiration_author_idempotency_key'), type_='unique')
        batch_op.drop_column('clarification_activity_id')
        batch_op.drop_column('photos_expected')
        batch_op.drop_column('written_at')
        batch_op.drop_column('request_hash')
        batch_op.drop_column('idempotency_key')
