"""Index kim.logo_key: the logo route looks its key up instead of serving any stored file.

Revision ID: c5e1f3a8b902
Revises: d41c7b2e9f53
Create Date: 2026-12-01 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c5e1f3a8b902'
down_revision = "d41c7b2e9f53"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.create_index('ix_kim_logo_key', ['logo_key'], unique=False,
                              postgresql_where='logo_key IS NOT NULL')


def downgrade():
    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.drop_index('ix_kim_logo_key', postgresql_where='logo_key IS NOT NULL')
