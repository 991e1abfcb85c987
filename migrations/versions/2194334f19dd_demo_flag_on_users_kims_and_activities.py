"""Demo flag on users, KIMs and activities.

Revision ID: 2194334f19dd
Revises: 9fd7b784362a
Create Date: 2026-11-22 17:45:41.486721

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2194334f19dd'
down_revision = '9fd7b784362a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_demo', sa.Boolean(), server_default='false', nullable=False))

    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_demo', sa.Boolean(), server_default='false', nullable=False))

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_demo', sa.Boolean(), server_default='false', nullable=False))
    # Is there demo data? answered from a tiny partial index (the banner asks on every page).
    op.create_index('ix_kim_is_demo', 'kim', ['id'], postgresql_where=sa.text('is_demo'))



def downgrade():
    op.drop_index('ix_kim_is_demo', table_name='kim', postgresql_where=sa.text('is_demo'))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('is_demo')

    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.drop_column('is_demo')

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_column('is_demo')

