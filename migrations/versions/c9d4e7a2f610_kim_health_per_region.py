"""KIM health per region (issue 19): the verified KIMs in each health state per region code, rebuilt
by the daily run, shown in coverage beside "registered"; its nation row versions the map's health
tiles and the coverage exports.

Revision ID: c9d4e7a2f610
Revises: c7d2e9f4a6b1
Create Date: 2026-12-01 18:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c9d4e7a2f610'
down_revision = "c7d2e9f4a6b1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'kim_health_region',
        sa.Column('code', sa.String(length=13, collation='C'), nullable=False),
        sa.Column('aktif', sa.Integer(), server_default='0', nullable=False),
        sa.Column('perlu_pendampingan', sa.Integer(), server_default='0', nullable=False),
        sa.Column('vakum', sa.Integer(), server_default='0', nullable=False),
        sa.Column('computed_on', sa.Date(), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_kim_health_region')),
    )
    # The states stored so far, counted once (the daily run rebuilds them from now on).
    op.execute("""
        INSERT INTO kim_health_region (code, aktif, perlu_pendampingan, vakum, computed_on, changed_at)
        SELECT p.code, count(*) FILTER (WHERE h.state = 'aktif'), count(*) FILTER (WHERE h.state = 'perlu_pendampingan'),
               count(*) FILTER (WHERE h.state = 'vakum'), max(h.computed_on), clock_timestamp()
        FROM kim_health h JOIN kim k ON k.id = h.kim_id
        CROSS JOIN LATERAL (VALUES (''), (left(k.desa_code, 2)), (left(k.desa_code, 5)), (left(k.desa_code, 8)),
                                   (k.desa_code)) AS p(code)
        WHERE k.status = 'verified'
        GROUP BY p.code
    """)


def downgrade():
    op.drop_table('kim_health_region')
