"""Aspirations and hoax reports (issue 18): items with routing, state, deadlines and escalation,
their evidence photos and their history.

Revision ID: a8f2c4e6b913
Revises: b3e9f2a7c4d1
Create Date: 2026-12-01 14:45:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'a8f2c4e6b913'
down_revision = "b3e9f2a7c4d1"
branch_labels = None
depends_on = None

KINDS = ('aspirasi', 'pengaduan', 'informasi', 'hoaks')
STATES = ('baru', 'diverifikasi', 'diteruskan', 'dijawab', 'selesai', 'duplikat', 'ditolak')
CODE = sa.String(length=13, collation='C')


def upgrade():
    op.create_table(
        'aspiration',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('kim_id', sa.BigInteger(), nullable=False),
        sa.Column('author_id', sa.BigInteger(), nullable=True),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('topic', sa.String(length=40), nullable=False),
        sa.Column('desa_code', CODE, nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('residents_count', sa.Integer(), nullable=False),
        sa.Column('links', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
        sa.Column('resident_name', sa.String(length=120), nullable=True),
        sa.Column('resident_contact', sa.String(length=120), nullable=True),
        sa.Column('personal_purged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('hoax_claim', sa.Text(), nullable=True),
        sa.Column('hoax_channel', sa.String(length=24), nullable=True),
        sa.Column('hoax_link', sa.String(length=500), nullable=True),
        sa.Column('state', sa.String(length=14), server_default='baru', nullable=False),
        sa.Column('handler_scope', CODE, nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('second_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('escalation_level', sa.SmallInteger(), server_default='0', nullable=False),
        sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('extended', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('agency', sa.String(length=200), nullable=True),
        sa.Column('agency_reference', sa.String(length=100), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answer_links', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
        sa.Column('verdict', sa.String(length=24), nullable=True),
        sa.Column('factcheck_link', sa.String(length=500), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('original_id', sa.BigInteger(), nullable=True),
        sa.Column('delivered_how', sa.String(length=500), nullable=True),
        sa.Column('delivered_on', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answered_in_time', sa.Boolean(), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"kind IN {KINDS}", name=op.f('ck_aspiration_kind')),
        sa.CheckConstraint(f"state IN {STATES}", name=op.f('ck_aspiration_state')),
        sa.CheckConstraint('residents_count >= 1', name=op.f('ck_aspiration_residents_count')),
        sa.CheckConstraint('escalation_level BETWEEN 0 AND 2', name=op.f('ck_aspiration_escalation_level')),
        sa.ForeignKeyConstraint(['kim_id'], ['kim.id'], ondelete='CASCADE', name=op.f('fk_aspiration_kim_id_kim')),
        sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], ondelete='SET NULL',
                                name=op.f('fk_aspiration_author_id_user_account')),
        sa.ForeignKeyConstraint(['desa_code'], ['region.code'], name=op.f('fk_aspiration_desa_code_region')),
        sa.ForeignKeyConstraint(['original_id'], ['aspiration.id'], ondelete='SET NULL',
                                name=op.f('fk_aspiration_original_id_aspiration')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_aspiration')),
    )
    op.create_index('ix_aspiration_kim_id', 'aspiration', ['kim_id', 'id'])
    op.create_index('ix_aspiration_handler_scope', 'aspiration', ['handler_scope'],
                    postgresql_ops={'handler_scope': 'text_pattern_ops'})
    op.create_index('ix_aspiration_desa_code', 'aspiration', ['desa_code'],
                    postgresql_ops={'desa_code': 'text_pattern_ops'})
    op.create_index('ix_aspiration_state_due_at', 'aspiration', ['state', 'due_at'])
    op.create_index('ix_aspiration_closed_at', 'aspiration', ['closed_at'])
    op.create_index('ix_aspiration_author_id', 'aspiration', ['author_id'])
    op.create_index('ix_aspiration_original_id', 'aspiration', ['original_id'])

    op.create_table(
        'aspiration_photo',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('aspiration_id', sa.BigInteger(), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('thumb_key', sa.String(length=80), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('position', sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(['aspiration_id'], ['aspiration.id'], ondelete='CASCADE',
                                name=op.f('fk_aspiration_photo_aspiration_id_aspiration')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_aspiration_photo')),
        sa.UniqueConstraint('key', name=op.f('uq_aspiration_photo_key')),
        sa.UniqueConstraint('thumb_key', name=op.f('uq_aspiration_photo_thumb_key')),
    )
    op.create_index('ix_aspiration_photo_aspiration_id', 'aspiration_photo', ['aspiration_id'])

    op.create_table(
        'aspiration_event',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('aspiration_id', sa.BigInteger(), nullable=False),
        sa.Column('actor_id', sa.BigInteger(), nullable=True),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('from_state', sa.String(length=14), nullable=True),
        sa.Column('to_state', sa.String(length=14), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['aspiration_id'], ['aspiration.id'], ondelete='CASCADE',
                                name=op.f('fk_aspiration_event_aspiration_id_aspiration')),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], ondelete='SET NULL',
                                name=op.f('fk_aspiration_event_actor_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_aspiration_event')),
    )
    op.create_index('ix_aspiration_event_aspiration_id', 'aspiration_event', ['aspiration_id', 'id'])
    op.create_index('ix_aspiration_event_actor_id', 'aspiration_event', ['actor_id'])


def downgrade():
    op.drop_table('aspiration_event')
    op.drop_table('aspiration_photo')
    op.drop_table('aspiration')
