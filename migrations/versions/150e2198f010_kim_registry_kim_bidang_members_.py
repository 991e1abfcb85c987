"""KIM registry: kim, bidang, members, invitations, number sequences.

Revision ID: 150e2198f010
Revises: 9bd679489121
Create Date: 2026-11-22 17:11:32.773175

"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '150e2198f010'
down_revision = '9bd679489121'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bidang',
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('parent_slug', sa.String(length=40), nullable=True),
    sa.Column('name_id', sa.String(length=80), nullable=False),
    sa.Column('name_en', sa.String(length=80), nullable=False),
    sa.Column('sort', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parent_slug'], ['bidang.slug'], name=op.f('fk_bidang_parent_slug_bidang')),
    sa.PrimaryKeyConstraint('slug', name=op.f('pk_bidang'))
    )
    op.create_table('kim_number_sequence',
    sa.Column('kabupaten_code', sa.String(length=13, collation='C'), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kabupaten_code', name=op.f('pk_kim_number_sequence'))
    )
    op.create_geospatial_table('kim',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('number', sa.String(length=24), nullable=True),
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('slug', sa.String(length=180), nullable=False),
    sa.Column('desa_code', sa.String(length=13, collation='C'), nullable=False),
    sa.Column('point', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('bidang', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('status', sa.String(length=12), server_default='draft', nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('founded_on', sa.Date(), nullable=True),
    sa.Column('sk_number', sa.String(length=120), nullable=True),
    sa.Column('sk_issuer', sa.String(length=150), nullable=True),
    sa.Column('sk_date', sa.Date(), nullable=True),
    sa.Column('sk_file_key', sa.String(length=80), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('whatsapp', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('socials', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('logo_key', sa.String(length=80), nullable=True),
    sa.Column('join_code', sa.String(length=12), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'verified', 'rejected', 'inactive')", name=op.f('ck_kim_status')),
    sa.CheckConstraint('cardinality(bidang) >= 1', name=op.f('ck_kim_bidang')),
    sa.ForeignKeyConstraint(['desa_code'], ['region.code'], name=op.f('fk_kim_desa_code_region')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['user_account.id'], name=op.f('fk_kim_verified_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kim')),
    sa.UniqueConstraint('join_code', name=op.f('uq_kim_join_code')),
    sa.UniqueConstraint('number', name=op.f('uq_kim_number')),
    sa.UniqueConstraint('slug', name=op.f('uq_kim_slug'))
    )
    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_kim_point', ['point'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index('ix_kim_bidang', ['bidang'], unique=False, postgresql_using='gin')
        batch_op.create_index('ix_kim_desa_code', ['desa_code'], unique=False)
        batch_op.create_index('ix_kim_name_trgm', ['name'], unique=False, postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
        batch_op.create_index('ix_kim_status_desa_code', ['status', 'desa_code'], unique=False)
        batch_op.create_index('ix_kim_submitted_at', ['submitted_at'], unique=False, postgresql_where="status = 'submitted'")

    op.create_table('kim_invitation',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('kim_id', sa.BigInteger(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('invited_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('ketua', 'admin', 'anggota')", name=op.f('ck_kim_invitation_role')),
    sa.ForeignKeyConstraint(['invited_by_id'], ['user_account.id'], name=op.f('fk_kim_invitation_invited_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['kim_id'], ['kim.id'], name=op.f('fk_kim_invitation_kim_id_kim'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kim_invitation')),
    sa.UniqueConstraint('kim_id', 'email', name='uq_kim_invitation_kim_email')
    )
    with op.batch_alter_table('kim_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_kim_invitation_email', ['email'], unique=False)

    op.create_table('kim_membership',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('kim_id', sa.BigInteger(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('ketua', 'admin', 'anggota')", name=op.f('ck_kim_membership_role')),
    sa.ForeignKeyConstraint(['kim_id'], ['kim.id'], name=op.f('fk_kim_membership_kim_id_kim'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_kim_membership_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kim_membership')),
    sa.UniqueConstraint('user_id', 'kim_id', name='uq_kim_membership_user_kim')
    )
    with op.batch_alter_table('kim_membership', schema=None) as batch_op:
        batch_op.create_index('ix_kim_membership_kim_id', ['kim_id'], unique=False)



def downgrade():
    with op.batch_alter_table('kim_membership', schema=None) as batch_op:
        batch_op.drop_index('ix_kim_membership_kim_id')

    op.drop_table('kim_membership')
    with op.batch_alter_table('kim_invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_kim_invitation_email')

    op.drop_table('kim_invitation')
    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.drop_index('ix_kim_submitted_at', postgresql_where="status = 'submitted'")
        batch_op.drop_index('ix_kim_status_desa_code')
        batch_op.drop_index('ix_kim_name_trgm', postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
        batch_op.drop_index('ix_kim_desa_code')
        batch_op.drop_index('ix_kim_bidang', postgresql_using='gin')
        batch_op.drop_geospatial_index('idx_kim_point', postgresql_using='gist', column_name='point')

    op.drop_geospatial_table('kim')
    op.drop_table('kim_number_sequence')
    op.drop_table('bidang')
