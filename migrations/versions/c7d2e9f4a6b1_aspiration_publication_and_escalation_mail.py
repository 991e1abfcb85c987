"""Aspirations (issue 18, continued): the public version of an answered item that its handler
chose to publish (title, text, a hoax's claim, who and when), and the escalation digests: one
notice per newly escalated item and recipient, one mail per person per day.

Revision ID: c7d2e9f4a6b1
Revises: c9d4e2f7a6b1
Create Date: 2026-12-01 17:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = 'c7d2e9f4a6b1'
down_revision = "c9d4e2f7a6b1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('aspiration', sa.Column('public_title', sa.String(length=120), nullable=True))
    op.add_column('aspiration', sa.Column('public_text', sa.Text(), nullable=True))
    op.add_column('aspiration', sa.Column('public_claim', sa.Text(), nullable=True))
    op.add_column('aspiration', sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('aspiration', sa.Column('published_by_id', sa.BigInteger(), nullable=True))
    op.create_foreign_key(op.f('fk_aspiration_published_by_id_user_account'), 'aspiration', 'user_account',
                          ['published_by_id'], ['id'], ondelete='SET NULL')
    op.create_index('ix_aspiration_published_by_id', 'aspiration', ['published_by_id'])
    # The public list: newest published first, keyset pages.
    op.create_index('ix_aspiration_published', 'aspiration', ['published_at', 'id'],
                    postgresql_where=sa.text('published_at IS NOT NULL'))

    op.create_table(
        'aspiration_escalation_notice',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('aspiration_id', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('level', sa.SmallInteger(), nullable=False),
        sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_on', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['aspiration_id'], ['aspiration.id'], ondelete='CASCADE',
                                name=op.f('fk_aspiration_escalation_notice_aspiration_id_aspiration')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE',
                                name=op.f('fk_aspiration_escalation_notice_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_aspiration_escalation_notice')),
        sa.UniqueConstraint('aspiration_id', 'user_id', 'level', 'escalated_at',
                            name='uq_aspiration_escalation_notice_once'),
    )
    op.create_index('ix_aspiration_escalation_notice_user_id', 'aspiration_escalation_notice', ['user_id', 'sent_on'])
    op.create_table(
        'aspiration_escalation_digest',
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('items', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE',
                                name=op.f('fk_aspiration_escalation_digest_user_id_user_account')),
        sa.PrimaryKeyConstraint('user_id', 'day', name=op.f('pk_aspiration_escalation_digest')),
    )


def downgrade():
    op.drop_table('aspiration_escalation_digest')
    op.drop_table('aspiration_escalation_notice')
    op.drop_index('ix_aspiration_published', table_name='aspiration')
    op.drop_index('ix_aspiration_published_by_id', table_name='aspiration')
    op.drop_constraint(op.f('fk_aspiration_published_by_id_user_account'), 'aspiration', type_='foreignkey')
    for column in ('published_by_id', 'published_at', 'public_claim', 'public_text', 'public_title'):
        op.drop_column('aspiration', column)
