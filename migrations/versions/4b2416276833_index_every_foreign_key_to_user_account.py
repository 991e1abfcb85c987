"""Index every foreign key to user_account (deleting a user must not scan a million reports).

Revision ID: 4b2416276833
Revises: 220bd421d2b6
Create Date: 2026-11-22 18:24:00.624680

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4b2416276833'
down_revision = '220bd421d2b6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index('ix_activity_author_id', ['author_id'], unique=False)

    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_actor_id', ['actor_id'], unique=False)

    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.create_index('ix_kim_verified_by_id', ['verified_by_id'], unique=False)

    with op.batch_alter_table('kim_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_kim_invitation_invited_by_id', ['invited_by_id'], unique=False)

    with op.batch_alter_table('kim_membership', schema=None) as batch_op:
        batch_op.create_index('ix_kim_membership_user_id', ['user_id'], unique=False)

    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.create_index('ix_role_grant_granted_by_id', ['granted_by_id'], unique=False)



def downgrade():
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.drop_index('ix_role_grant_granted_by_id')

    with op.batch_alter_table('kim_membership', schema=None) as batch_op:
        batch_op.drop_index('ix_kim_membership_user_id')

    with op.batch_alter_table('kim_invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_kim_invitation_invited_by_id')

    with op.batch_alter_table('kim', schema=None) as batch_op:
        batch_op.drop_index('ix_kim_verified_by_id')

    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_actor_id')

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_author_id')

