"""Dissemination campaigns (issue 17): campaigns, their target regions and materials, the reports
linked to them as disseminations (with the channel), and the notices and daily digests of publishing.

Revision ID: d7c3a9e1f5b2
Revises: e8a4c2d6b1f7
Create Date: 2026-12-12 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'd7c3a9e1f5b2'
down_revision = "e8a4c2d6b1f7"
branch_labels = None
depends_on = None

CHANNELS = ('pertemuan-warga', 'tempat-ibadah', 'radio-komunitas', 'grup-whatsapp', 'media-sosial',
            'papan-informasi', 'rumah-ke-rumah', 'lainnya')


def upgrade():
    op.create_table(
        'campaign',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('title', sa.String(length=150), nullable=False),
        sa.Column('key_message', sa.String(length=1000), nullable=False),
        sa.Column('description_md', sa.Text(), server_default='', nullable=False),
        sa.Column('description_html', sa.Text(), server_default='', nullable=False),
        sa.Column('links', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
        sa.Column('hashtags', postgresql.ARRAY(sa.String(length=40)), server_default='{}', nullable=False),
        sa.Column('target_bidang', postgresql.ARRAY(sa.String(length=40)), server_default='{}', nullable=False),
        sa.Column('start_on', sa.Date(), nullable=False),
        sa.Column('end_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=10), server_default='draft', nullable=False),
        sa.Column('owner_scope', sa.String(length=13, collation='C'), nullable=True),
        sa.Column('created_by_id', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'published', 'closed')", name=op.f('ck_campaign_status')),
        sa.CheckConstraint('end_on >= start_on', name=op.f('ck_campaign_period')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ondelete='SET NULL',
                                name=op.f('fk_campaign_created_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
    )
    op.create_index('ix_campaign_status_end_on', 'campaign', ['status', 'end_on'])
    op.create_index('ix_campaign_created_by_id', 'campaign', ['created_by_id'])
    op.create_index('ix_campaign_owner_scope', 'campaign', ['owner_scope'])

    op.create_table(
        'campaign_target',
        sa.Column('campaign_id', sa.BigInteger(), nullable=False),
        sa.Column('region_code', sa.String(length=13, collation='C'), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_target_campaign_id_campaign')),
        sa.ForeignKeyConstraint(['region_code'], ['region.code'],
                                name=op.f('fk_campaign_target_region_code_region')),
        sa.PrimaryKeyConstraint('campaign_id', 'region_code', name=op.f('pk_campaign_target')),
    )
    op.create_index('ix_campaign_target_region_code', 'campaign_target', ['region_code'])

    op.create_table(
        'campaign_material',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('campaign_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('title', sa.String(length=150), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('thumb_key', sa.String(length=80), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=True),
        sa.Column('height', sa.Integer(), nullable=True),
        sa.Column('position', sa.SmallInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("kind IN ('image', 'pdf')", name=op.f('ck_campaign_material_kind')),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_material_campaign_id_campaign')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_material')),
        sa.UniqueConstraint('key', name=op.f('uq_campaign_material_key')),
        sa.UniqueConstraint('thumb_key', name=op.f('uq_campaign_material_thumb_key')),
    )
    op.create_index('ix_campaign_material_campaign_id', 'campaign_material', ['campaign_id'])

    op.create_table(
        'campaign_dissemination',
        sa.Column('activity_id', sa.BigInteger(), nullable=False),
        sa.Column('campaign_id', sa.BigInteger(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(f"channel IN {CHANNELS}", name=op.f('ck_campaign_dissemination_channel')),
        sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_dissemination_activity_id_activity')),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_dissemination_campaign_id_campaign')),
        sa.PrimaryKeyConstraint('activity_id', name=op.f('pk_campaign_dissemination')),
    )
    op.create_index('ix_campaign_dissemination_campaign_id', 'campaign_dissemination',
                    ['campaign_id', 'activity_id'])

    op.create_table(
        'campaign_notice',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('campaign_id', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('sent_on', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_notice_campaign_id_campaign')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_notice_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_notice')),
        sa.UniqueConstraint('campaign_id', 'user_id', name='uq_campaign_notice_campaign_user'),
    )
    op.create_index('ix_campaign_notice_user_id', 'campaign_notice', ['user_id'])

    op.create_table(
        'campaign_digest',
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('notices', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_digest_user_id_user_account')),
        sa.PrimaryKeyConstraint('user_id', 'day', name=op.f('pk_campaign_digest')),
    )


def downgrade():
    op.drop_table('campaign_digest')
    op.drop_index('ix_campaign_notice_user_id', table_name='campaign_notice')
    op.drop_table('campaign_notice')
    op.drop_index('ix_campaign_dissemination_campaign_id', table_name='campaign_dissemination')
    op.drop_table('campaign_dissemination')
    op.drop_index('ix_campaign_material_campaign_id', table_name='campaign_material')
    op.drop_table('campaign_material')
    op.drop_index('ix_campaign_target_region_code', table_name='campaign_target')
    op.drop_table('campaign_target')
    op.drop_index('ix_campaign_owner_scope', table_name='campaign')
    op.drop_index('ix_campaign_created_by_id', table_name='campaign')
    op.drop_table('campaign')
