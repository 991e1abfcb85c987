"""Verified-KIM counts per region, kept by a trigger.

Revision ID: 220bd421d2b6
Revises: 2194334f19dd
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "220bd421d2b6"
down_revision = "2194334f19dd"
branch_labels = None
depends_on = None

# Every writer (pages, API, CLI, demo COPY) changes kim; the trigger keeps the counts exact in
# the same transaction. Ancestors are always locked in the same order (desa, provinsi,
# kabupaten, kecamatan), so concurrent verifications cannot deadlock on them.
FUNCTIONS = """
CREATE FUNCTION kim_stats_change(p_desa text, p_delta integer) RETURNS void AS $$
DECLARE
    after_change integer;
    covered_delta integer := 0;
BEGIN
    INSERT INTO region_kim_stats AS s (code, kim_verified, desa_covered) VALUES (p_desa, p_delta, 0)
    ON CONFLICT (code) DO UPDATE SET kim_verified = s.kim_verified + EXCLUDED.kim_verified
    RETURNING kim_verified INTO after_change;
    IF p_delta > 0 AND after_change = p_delta THEN
        covered_delta := 1;
    ELSIF p_delta < 0 AND after_change = 0 THEN
        covered_delta := -1;
    END IF;
    UPDATE region_kim_stats SET desa_covered = CASE WHEN kim_verified > 0 THEN 1 ELSE 0 END WHERE code = p_desa;
    INSERT INTO region_kim_stats AS s (code, kim_verified, desa_covered)
    SELECT ancestor, p_delta, covered_delta
    FROM unnest(ARRAY[left(p_desa, 2), left(p_desa, 5), left(p_desa, 8)]) AS ancestor
    ON CONFLICT (code) DO UPDATE SET kim_verified = s.kim_verified + EXCLUDED.kim_verified,
                                     desa_covered = s.desa_covered + EXCLUDED.desa_covered;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION kim_stats_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'verified' THEN
        PERFORM kim_stats_change(OLD.desa_code, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'verified' THEN
        PERFORM kim_stats_change(NEW.desa_code, 1);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION kim_stats_rebuild() RETURNS void AS $$
BEGIN
    DELETE FROM region_kim_stats;
    INSERT INTO region_kim_stats (code, kim_verified, desa_covered)
    SELECT code, sum(n), count(*) FILTER (WHERE n > 0) FROM (
        SELECT desa_code, count(*) AS n FROM kim WHERE status = 'verified' GROUP BY desa_code
    ) d, LATERAL unnest(ARRAY[d.desa_code, left(d.desa_code, 2), left(d.desa_code, 5), left(d.desa_code, 8)]) AS code
    GROUP BY code;
END
$$ LANGUAGE plpgsql;
"""


def upgrade():
    op.create_table(
        "region_kim_stats",
        sa.Column("code", sa.String(length=13, collation="C"), nullable=False),
        sa.Column("kim_verified", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("desa_covered", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_region_kim_stats")),
    )
    op.execute(FUNCTIONS)
    op.execute("CREATE TRIGGER kim_stats AFTER INSERT OR DELETE OR UPDATE OF status, desa_code ON kim "
               "FOR EACH ROW EXECUTE FUNCTION kim_stats_trigger()")
    op.execute("SELECT kim_stats_rebuild()")


def downgrade():
    op.execute("DROP TRIGGER kim_stats ON kim")
    op.execute("DROP FUNCTION kim_stats_rebuild(); DROP FUNCTION kim_stats_trigger(); "
               "DROP FUNCTION kim_stats_change(text, integer)")
    op.drop_table("region_kim_stats")
