"""Region codes over time (issue 19): retired regions keep resolving (retired_on, replaced_by) and
every change a Kepmendagri makes is kept in region_change.

Revision ID: b3e9f2a7c4d1
Revises: b8f2e4d6a1c3
Create Date: 2026-12-01 14:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3e9f2a7c4d1'
down_revision = "b8f2e4d6a1c3"
branch_labels = None
depends_on = None

CODE = sa.String(length=13, collation="C")
KINDS = ('new', 'remove', 'rename', 'move', 'split', 'merge')


def upgrade():
    op.add_column('region', sa.Column('retired_on', sa.Date(), nullable=True))
    op.add_column('region', sa.Column('replaced_by', CODE, nullable=True))
    op.create_foreign_key('fk_region_replaced_by_region', 'region', 'region', ['replaced_by'], ['code'])
    op.create_index('ix_region_replaced_by', 'region', ['replaced_by'],
                    postgresql_where=sa.text('replaced_by IS NOT NULL'))
    op.create_table(
        'region_change',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('old_code', CODE, nullable=True),
        sa.Column('new_code', CODE, nullable=True),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('old_name', sa.Text(), nullable=True),
        sa.Column('new_name', sa.Text(), nullable=True),
        sa.Column('decree', sa.String(length=200), nullable=False),
        sa.Column('effective_on', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name=op.f('ck_region_change_kind')),
        sa.CheckConstraint("old_code IS NOT NULL OR new_code IS NOT NULL", name=op.f('ck_region_change_codes')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_region_change')),
    )
    op.create_index('ix_region_change_old_code', 'region_change', ['old_code'])
    op.create_index('ix_region_change_new_code', 'region_change', ['new_code'])
    op.create_index('ix_region_change_created_id', 'region_change', ['created_at', 'id'])


def downgrade():
    op.drop_index('ix_region_change_created_id', table_name='region_change')
    op.drop_index('ix_region_change_new_code', table_name='region_change')
    op.drop_index('ix_region_change_old_code', table_name='region_change')
    op.drop_table('region_change')
    op.drop_index('ix_region_replaced_by', table_name='region')
    op.drop_constraint('fk_region_replaced_by_region', 'region', type_='foreignkey')
    op.drop_column('region', 'replaced_by')
    op.drop_column('region', 'retired_on')
