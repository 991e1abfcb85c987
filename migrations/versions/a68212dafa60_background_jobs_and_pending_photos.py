"""The job queue (issue 21): background_job, the table of record behind RQ, and the large report
photos waiting for the worker to re-encode them.

`background_job` holds every job's state (queued, running, done, failed), attempts, lease and last
error; Redis only carries ids (kim_platform/core/queue.py). A unique dedup key makes the same work
enqueued twice one job. `activity_pending_photo` keeps the original of a large upload (a stored
file, so the orphan sweep leaves it alone) until its job has made the photo and its thumbnail.

Revision ID: a68212dafa60
Revises: 6db218927d9f
Create Date: 2026-12-02 02:00:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'a68212dafa60'
down_revision = "6db218927d9f"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'background_job',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('kind', sa.String(length=60), nullable=False),
        sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('state', sa.String(length=10), server_default='queued', nullable=False),
        sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
        sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('dedup_key', sa.String(length=200), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_background_job_state')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_background_job')),
        sa.UniqueConstraint('dedup_key', name=op.f('uq_background_job_dedup_key')),
    )
    op.create_index('ix_background_job_due', 'background_job', ['run_after'], unique=False,
                    postgresql_where="state IN ('queued', 'running')")
    op.create_table(
        'activity_pending_photo',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('activity_id', sa.BigInteger(), nullable=False),
        sa.Column('position', sa.SmallInteger(), nullable=False),
        sa.Column('original_key', sa.String(length=80), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_activity_pending_photo_activity_id_activity'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_pending_photo')),
        sa.UniqueConstraint('original_key', name=op.f('uq_activity_pending_photo_original_key')),
    )
    op.create_index('ix_activity_pending_photo_activity_id', 'activity_pending_photo', ['activity_id'], unique=False)


def downgrade():
    op.drop_index('ix_activity_pending_photo_activity_id', table_name='activity_pending_photo')
    op.drop_table('activity_pending_photo')
    op.drop_index('ix_background_job_due', table_name='background_job',
                  postgresql_where="state IN ('queued', 'running')")
    op.drop_table('background_job')
