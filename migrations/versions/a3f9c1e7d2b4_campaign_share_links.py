"""Campaign share links (issue 17): one short /p/<code> link per campaign and KIM with its visit
counters, and the day's salted visitor hashes that de-duplicate visits (deleted after the day).

Revision ID: a3f9c1e7d2b4
Revises: d7c3a9e1f5b2
Create Date: 2026-12-01 14:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a3f9c1e7d2b4'
down_revision = "d7c3a9e1f5b2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'campaign_share_link',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('campaign_id', sa.BigInteger(), nullable=False),
        sa.Column('kim_id', sa.BigInteger(), nullable=False),
        sa.Column('code', sa.String(length=8), nullable=False),
        sa.Column('visits', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('visitors', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('created_by_id', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_share_link_campaign_id_campaign')),
        sa.ForeignKeyConstraint(['kim_id'], ['kim.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_share_link_kim_id_kim')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ondelete='SET NULL',
                                name=op.f('fk_campaign_share_link_created_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_share_link')),
        sa.UniqueConstraint('code', name=op.f('uq_campaign_share_link_code')),
        sa.UniqueConstraint('campaign_id', 'kim_id', name='uq_campaign_share_link_campaign_kim'),
    )
    op.create_index('ix_campaign_share_link_kim_id', 'campaign_share_link', ['kim_id'])

    op.create_table(
        'campaign_share_visit',
        sa.Column('link_id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('visitor', sa.LargeBinary(length=16), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['campaign_share_link.id'], ondelete='CASCADE',
                                name=op.f('fk_campaign_share_visit_link_id_campaign_share_link')),
        sa.PrimaryKeyConstraint('link_id', 'day', 'visitor', name=op.f('pk_campaign_share_visit')),
    )
    op.create_index('ix_campaign_share_visit_day', 'campaign_share_visit', ['day'])


def downgrade():
    op.drop_index('ix_campaign_share_visit_day', table_name='campaign_share_visit')
    op.drop_table('campaign_share_visit')
    op.drop_index('ix_campaign_share_link_kim_id', table_name='campaign_share_link')
    op.drop_table('campaign_share_link')
