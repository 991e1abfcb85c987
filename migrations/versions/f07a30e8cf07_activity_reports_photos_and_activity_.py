"""Activity reports, photos and activity types.

Revision ID: f07a30e8cf07
Revises: 150e2198f010
Create Date: 2026-11-22 17:25:43.701398

"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'f07a30e8cf07'
down_revision = '150e2198f010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('activity_type',
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('adinda', sa.String(length=20), nullable=True),
    sa.Column('name_id', sa.String(length=80), nullable=False),
    sa.Column('name_en', sa.String(length=80), nullable=False),
    sa.Column('sort', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('slug', name=op.f('pk_activity_type'))
    )
    op.create_geospatial_table('activity',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('kim_id', sa.BigInteger(), nullable=False),
    sa.Column('author_id', sa.BigInteger(), nullable=True),
    sa.Column('title', sa.String(length=150), nullable=False),
    sa.Column('activity_date', sa.Date(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('description_md', sa.Text(), server_default='', nullable=False),
    sa.Column('description_html', sa.Text(), server_default='', nullable=False),
    sa.Column('desa_code', sa.String(length=13, collation='C'), nullable=False),
    sa.Column('point', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('reach_offline', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reach_online', sa.Integer(), server_default='0', nullable=False),
    sa.Column('links', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=40)), server_default='{}', nullable=False),
    sa.Column('late_reason', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='published', nullable=False),
    sa.Column('hidden_reason', sa.Text(), nullable=True),
    sa.Column('review_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'published', 'hidden')", name=op.f('ck_activity_status')),
    sa.CheckConstraint('reach_offline >= 0 AND reach_online >= 0', name=op.f('ck_activity_reach')),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_activity_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['desa_code'], ['region.code'], name=op.f('fk_activity_desa_code_region')),
    sa.ForeignKeyConstraint(['kim_id'], ['kim.id'], name=op.f('fk_activity_kim_id_kim'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['type'], ['activity_type.slug'], name=op.f('fk_activity_type_activity_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity'))
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_activity_point', ['point'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index('ix_activity_kim_date', ['kim_id', 'activity_date'], unique=False)
        batch_op.create_index('ix_activity_status_date', ['status', 'activity_date'], unique=False)
        batch_op.create_index('ix_activity_status_desa_date', ['status', 'desa_code', 'activity_date'], unique=False)

    op.create_table('activity_photo',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('activity_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('thumb_key', sa.String(length=80), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_activity_photo_activity_id_activity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_photo')),
    sa.UniqueConstraint('key', name=op.f('uq_activity_photo_key')),
    sa.UniqueConstraint('thumb_key', name=op.f('uq_activity_photo_thumb_key'))
    )
    with op.batch_alter_table('activity_photo', schema=None) as batch_op:
        batch_op.create_index('ix_activity_photo_activity_id', ['activity_id'], unique=False)



def downgrade():
    with op.batch_alter_table('activity_photo', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_photo_activity_id')

    op.drop_table('activity_photo')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_status_desa_date')
        batch_op.drop_index('ix_activity_status_date')
        batch_op.drop_index('ix_activity_kim_date')
        batch_op.drop_geospatial_index('idx_activity_point', postgresql_using='gist', column_name='point')

    op.drop_geospatial_table('activity')
    op.drop_table('activity_type')
