"""Indexes for the public lists at national scale (issue 20): the feed by region prefix, eligible scores.

The public activity feed of a province or a kabupaten reads its newest published reports in index
order and stops after a page, instead of sorting every report of the region (2,700 for a
kabupaten, 30,000 for a province at national scale) per request. `activities.queries.feed_query`
matches a code of those two levels as `left(desa_code, n) = code` (the same rows as the prefix
match), so these indexes answer it; kecamatan and desa use ix_activity_status_desa_date. Partial
on what the public sees (published, no photo awaited); the KIM id included, so the capped total
counts from the index (and the KIM table).

The eligible scores by KIM: the teladan ranking of a province counts its eligible verified KIMs
(2,900 of 5,100 in Jawa Barat) from this index instead of reading all 70,000 scores.

Revision ID: a37f0c5e9d21
Revises: b82740980ed0
Create Date: 2026-12-01 20:50:00.000000
"""
from alembic import op

revision = "a37f0c5e9d21"
down_revision = "b82740980ed0"
branch_labels = None
depends_on = None

INDEXES = {"ix_activity_feed_provinsi": 2, "ix_activity_feed_kabupaten": 5}


def upgrade():
    for name, width in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON activity (left(desa_code, {width}), activity_date, id) INCLUDE (kim_id) "
                   "WHERE status = 'published' AND pending_action IS NULL")
    op.execute("CREATE INDEX ix_kim_score_eligible ON kim_score (kim_id) WHERE eligible")


def downgrade():
    op.execute("DROP INDEX ix_kim_score_eligible")
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
