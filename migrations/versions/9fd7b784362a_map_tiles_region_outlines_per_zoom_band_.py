"""Map tiles: region outlines per zoom band; kim.last_activity_on.

Revision ID: 9fd7b784362a
Revises: f07a30e8cf07
Create Date: 2026-11-22 17:36:58.192222

"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

# revision identifiers, used by Alembic.
revision = '9fd7b784362a'
down_revision = 'f07a30e8cf07'
branch_labels = None
depends_on = None


def upgrade():
    op.create_geospatial_table('region_tile_geom',
    sa.Column('code', sa.String(length=13, collation='C'), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('desa_total', sa.Integer(), nullable=False),
    sa.Column('tolerance_m', sa.SmallInteger(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=3857, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_region_tile_geom'))
    )
    with op.batch_alter_table('region_tile_geom', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_region_tile_geom_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_region_tile_geom_level'), ['level'], unique=False)

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index('ix_activity_updated_at', ['updated_at'], unique=False)

    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_activity_on', sa.Date(), nullable=True))
        batch_op.create_index('ix_kim_updated_at', ['updated_at'], unique=False)



def downgrade():
    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.drop_index('ix_kim_updated_at')
        batch_op.drop_column('last_activity_on')

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_updated_at')

    with op.batch_alter_table('region_tile_geom', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_region_tile_geom_level'))
        batch_op.drop_geospatial_index('idx_region_tile_geom_geom', postgresql_using='gist', column_name='geom')

    op.drop_geospatial_table('region_tile_geom')
