"""KIM health (issue 19): the SK's validity end and its version history, pengurus positions on
memberships, the yearly data confirmation, the daily health state with its reasons, SK reminders
sent, contact notes of the pembina, monthly digests sent, and the daily jobs' runs.

Revision ID: b8f2e4d6a1c3
Revises: b4f8e2a6c9d1
Create Date: 2026-12-01 15:00:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'b8f2e4d6a1c3'
down_revision = "b4f8e2a6c9d1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('kim', sa.Column('sk_valid_until', sa.Date(), nullable=True))
    op.add_column('kim', sa.Column('data_confirmed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('kim_membership', sa.Column('position', sa.String(length=12), nullable=True))
    op.create_check_constraint(op.f('ck_kim_membership_position'), 'kim_membership',
                               "position IN ('ketua', 'sekretaris', 'bendahara')")
    # One person per pengurus position in a KIM.
    op.create_index('uq_kim_membership_position', 'kim_membership', ['kim_id', 'position'], unique=True,
                    postgresql_where=sa.text('position IS NOT NULL'))

    op.create_table(
        'kim_sk_version',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('kim_id', sa.BigInteger(), nullable=False),
        sa.Column('sk_number', sa.String(length=120), nullable=True),
        sa.Column('sk_issuer', sa.String(length=150), nullable=True),
        sa.Column('sk_date', sa.Date(), nullable=True),
        sa.Column('valid_until', sa.Date(), nullable=True),
        sa.Column('file_key', sa.String(length=80), nullable=True),
        sa.Column('uploaded_by_id', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['kim_id'], ['kim.id'], ondelete='CASCADE',
                                name=op.f('fk_kim_sk_version_kim_id_kim')),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], ondelete='SET NULL',
                                name=op.f('fk_kim_sk_version_uploaded_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kim_sk_version')),
    )
    op.create_index('ix_kim_sk_version_kim_id', 'kim_sk_version', ['kim_id'])
    op.create_index('ix_kim_sk_version_uploaded_by_id', 'kim_sk_version', ['uploaded_by_id'])
    op.create_index('ix_kim_sk_version_file_key', 'kim_sk_version', ['file_key'],
                    postgresql_where=sa.text('file_key IS NOT NULL'))

    op.create_table(
        'kim_health',
        sa.Column('kim_id', sa.BigInteger(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('reasons', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False),
        sa.Column('last_report_on', sa.Date(), nullable=True),
        sa.Column('computed_on', sa.Date(), nullable=False),
        sa.Column('state_since', sa.Date(), nullable=False),
        sa.Column('previous_state', sa.String(length=20), nullable=True),
        sa.CheckConstraint("state IN ('aktif', 'perlu_pendampingan', 'vakum')", name=op.f('ck_kim_health_state')),
        sa.ForeignKeyConstraint(['kim_id'], ['kim.id'], ondelete='CASCADE', name=op.f('fk_kim_health_kim_id_kim')),
        sa.PrimaryKeyConstraint('kim_id', name=op.f('pk_kim_health')),
    )
    op.create_index('ix_kim_health_state', 'kim_health', ['state', 'kim_id'])

    op.create_table(
        'kim_sk_reminder',
        sa.Column('kim_id', sa.BigInteger(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=False),
        sa.Column('days_before', sa.Integer(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['kim_id'], ['kim.id'], ondelete='CASCADE',
                                name=op.f('fk_kim_sk_reminder_kim_id_kim')),
        sa.PrimaryKeyConstraint('kim_id', 'valid_until', 'days_before', name=op.f('pk_kim_sk_reminder')),
    )

    op.create_table(
        'kim_contact_note',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('kim_id', sa.BigInteger(), nullable=False),
        sa.Column('author_id', sa.BigInteger(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['kim_id'], ['kim.id'], ondelete='CASCADE',
                                name=op.f('fk_kim_contact_note_kim_id_kim')),
        sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], ondelete='SET NULL',
                                name=op.f('fk_kim_contact_note_author_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kim_contact_note')),
    )
    op.create_index('ix_kim_contact_note_kim_id', 'kim_contact_note', ['kim_id', 'created_at'])
    op.create_index('ix_kim_contact_note_author_id', 'kim_contact_note', ['author_id'])

    op.create_table(
        'health_digest',
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='CASCADE',
                                name=op.f('fk_health_digest_user_id_user_account')),
        sa.PrimaryKeyConstraint('user_id', 'month', name=op.f('pk_health_digest')),
    )

    op.create_table(
        'job_run',
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('summary', sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint('name', 'day', name=op.f('pk_job_run')),
    )


def downgrade():
    op.drop_table('job_run')
    op.drop_table('health_digest')
    op.drop_index('ix_kim_contact_note_author_id', table_name='kim_contact_note')
    op.drop_index('ix_kim_contact_note_kim_id', table_name='kim_contact_note')
    op.drop_table('kim_contact_note')
    op.drop_table('kim_sk_reminder')
    op.drop_index('ix_kim_health_state', table_name='kim_health')
    op.drop_table('kim_health')
    op.drop_index('ix_kim_sk_version_file_key', table_name='kim_sk_version')
    op.drop_index('ix_kim_sk_version_uploaded_by_id', table_name='kim_sk_version')
    op.drop_index('ix_kim_sk_version_kim_id', table_name='kim_sk_version')
    op.drop_table('kim_sk_version')
    op.drop_index('uq_kim_membership_position', table_name='kim_membership')
    op.drop_constraint(op.f('ck_kim_membership_position'), 'kim_membership', type_='check')
    op.drop_column('kim_membership', 'position')
    op.drop_column('kim', 'data_confirmed_at')
    op.drop_column('kim', 'sk_valid_until')
