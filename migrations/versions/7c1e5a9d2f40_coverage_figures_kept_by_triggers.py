"""Coverage figures per region and day, kept by triggers on kim and activity.

Revision ID: 7c1e5a9d2f40
Revises: 4b2416276833
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "7c1e5a9d2f40"
down_revision = "4b2416276833"
branch_labels = None
depends_on = None

CODE = sa.String(length=13, collation="C")
FIGURES = ("activities", "kims_last", "desa_last", "verified", "kims_month", "desa_month")

# Locking, in short: region totals only ever get new rows in coverage_delta (no row is shared
# between writers); per-KIM rows are guarded by the KIM row itself (every report change locks
# its KIM first); per-desa rows are locked in month order. Only one session folds the deltas
# at a time (an advisory lock), so nothing here can deadlock with anything else.
FUNCTIONS = """
-- The nation ('') and the provinsi, kabupaten and kecamatan of a desa. A single kecamatan's desa
-- are few enough to count from the raw tables, which keeps these aggregates 3x smaller.
CREATE FUNCTION region_path(p_desa text) RETURNS text[] AS $$
    SELECT ARRAY['', left(p_desa, 2), left(p_desa, 5), left(p_desa, 8)]::text[]
$$ LANGUAGE sql IMMUTABLE;

CREATE SEQUENCE coverage_compact_tick;

-- Days are Jakarta (UTC+7, no daylight saving) days whatever the session's time zone, as in
-- kim_platform.core.clock, so every session agrees.
CREATE FUNCTION verification_day(p_verified_at timestamptz, p_created_at timestamptz) RETURNS date AS $$
    SELECT (coalesce(p_verified_at, p_created_at) AT TIME ZONE INTERVAL '+07:00')::date
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION coverage_add(p_desa text, p_day date, p_activities integer DEFAULT 0,
                             p_kims_last integer DEFAULT 0, p_desa_last integer DEFAULT 0,
                             p_verified integer DEFAULT 0, p_kims_month integer DEFAULT 0,
                             p_desa_month integer DEFAULT 0) RETURNS void AS $$
    INSERT INTO coverage_delta (code, day, activities, kims_last, desa_last, verified, kims_month, desa_month)
    SELECT code, p_day, p_activities, p_kims_last, p_desa_last, p_verified, p_kims_month, p_desa_month
    FROM unnest(region_path(p_desa)) AS code
    WHERE p_day IS NOT NULL
      AND (p_activities, p_kims_last, p_desa_last, p_verified, p_kims_month, p_desa_month) <> (0, 0, 0, 0, 0, 0)
$$ LANGUAGE sql;

-- coverage_stat keeps running totals: the row (code, day) holds, for the cumulative figures,
-- everything dated up to that day, so any window is two index probes per region whatever its
-- length. Folding a delta dated d adds it to every row of the code from d on (reports are
-- mostly recent, so few rows). kims_month and desa_month are plain monthly values.
CREATE FUNCTION coverage_compact() RETURNS integer AS $$
DECLARE
    folded integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('coverage_compact')) THEN
        RETURN 0;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS coverage_fold (
        code text COLLATE "C", day date, activities bigint, kims_last bigint, desa_last bigint,
        verified bigint, kims_month bigint, desa_month bigint
    ) ON COMMIT DELETE ROWS;
    WITH gone AS (DELETE FROM coverage_delta RETURNING *)
    INSERT INTO coverage_fold
    SELECT code, day, sum(activities), sum(kims_last), sum(desa_last), sum(verified), sum(kims_month),
           sum(desa_month)
    FROM gone GROUP BY code, day;
    GET DIAGNOSTICS folded = ROW_COUNT;
    IF folded = 0 THEN
        RETURN 0;
    END IF;
    -- a row for each new day, starting from the running totals of the day before
    INSERT INTO coverage_stat (code, day, activities, kims_last, desa_last, verified)
    SELECT f.code, f.day, coalesce(prev.activities, 0), coalesce(prev.kims_last, 0),
           coalesce(prev.desa_last, 0), coalesce(prev.verified, 0)
    FROM coverage_fold f LEFT JOIN LATERAL (
        SELECT * FROM coverage_stat c WHERE c.code = f.code AND c.day < f.day ORDER BY c.day DESC LIMIT 1
    ) prev ON true
    ORDER BY f.code, f.day
    ON CONFLICT (code, day) DO NOTHING;
    UPDATE coverage_stat c SET
        activities = c.activities + t.activities, kims_last = c.kims_last + t.kims_last,
        desa_last = c.desa_last + t.desa_last, verified = c.verified + t.verified,
        kims_month = c.kims_month + t.kims_month, desa_month = c.desa_month + t.desa_month
    FROM (
        SELECT c2.code, c2.day, sum(f.activities) AS activities, sum(f.kims_last) AS kims_last,
               sum(f.desa_last) AS desa_last, sum(f.verified) AS verified,
               coalesce(sum(f.kims_month) FILTER (WHERE f.day = c2.day), 0) AS kims_month,
               coalesce(sum(f.desa_month) FILTER (WHERE f.day = c2.day), 0) AS desa_month
        FROM coverage_fold f JOIN coverage_stat c2 ON c2.code = f.code AND c2.day >= f.day
        GROUP BY c2.code, c2.day
    ) t
    WHERE c.code = t.code AND c.day = t.day;
    DELETE FROM coverage_fold;
    RETURN folded;
END
$$ LANGUAGE plpgsql;

-- A verified KIM of p_desa starts (p_delta = 1) or stops (-1) counting as active in p_month.
CREATE FUNCTION desa_month_change(p_desa text, p_month date, p_delta integer) RETURNS void AS $$
DECLARE
    after_change integer;
BEGIN
    INSERT INTO desa_month AS d (desa_code, month, kims) VALUES (p_desa, p_month, p_delta)
    ON CONFLICT (desa_code, month) DO UPDATE SET kims = d.kims + EXCLUDED.kims
    RETURNING kims INTO after_change;
    PERFORM coverage_add(p_desa, p_month, p_kims_month => p_delta,
                         p_desa_month => (after_change > 0)::integer - (after_change - p_delta > 0)::integer);
END
$$ LANGUAGE plpgsql;

-- All active months of a KIM move into (1) or out of (-1) its desa.
CREATE FUNCTION kim_months_shift(p_kim bigint, p_desa text, p_sign integer) RETURNS void AS $$
DECLARE
    active_month date;
BEGIN
    FOR active_month IN SELECT month FROM kim_month WHERE kim_id = p_kim AND activities > 0 ORDER BY month LOOP
        PERFORM desa_month_change(p_desa, active_month, p_sign);
    END LOOP;
END
$$ LANGUAGE plpgsql;

-- All published reports of a KIM start (1) or stop (-1) counting.
CREATE FUNCTION coverage_add_reports(p_kim bigint, p_sign integer) RETURNS void AS $$
    INSERT INTO coverage_delta (code, day, activities)
    SELECT p.code, a.activity_date, p_sign * count(*)
    FROM activity a CROSS JOIN LATERAL unnest(region_path(a.desa_code)) AS p(code)
    WHERE a.kim_id = p_kim AND a.status = 'published'
    GROUP BY p.code, a.activity_date
$$ LANGUAGE sql;

-- Keep desa_last_activity equal to the latest report of the desa's verified KIMs.
CREATE FUNCTION desa_last_refresh(p_desa text, p_leaving_kim bigint) RETURNS void AS $$
DECLARE
    stored date;
    latest date;
BEGIN
    INSERT INTO desa_last_activity (desa_code) VALUES (p_desa) ON CONFLICT DO NOTHING;
    SELECT last_on INTO stored FROM desa_last_activity WHERE desa_code = p_desa FOR UPDATE;
    SELECT max(last_activity_on) INTO latest FROM kim
    WHERE desa_code = p_desa AND status = 'verified' AND id IS DISTINCT FROM p_leaving_kim;
    IF stored IS DISTINCT FROM latest THEN
        UPDATE desa_last_activity SET last_on = latest WHERE desa_code = p_desa;
        PERFORM coverage_add(p_desa, stored, p_desa_last => -1);
        PERFORM coverage_add(p_desa, latest, p_desa_last => 1);
    END IF;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION coverage_activity_change(p_kim bigint, p_desa text, p_day date, p_delta integer) RETURNS void AS $$
DECLARE
    owner record;
    after_change integer;
    month_start date := date_trunc('month', p_day)::date;
BEGIN
    -- The KIM's row serialises this with changes of its status (which move all its reports).
    SELECT status, desa_code INTO owner FROM kim WHERE id = p_kim FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;  -- the KIM itself is being deleted; its own trigger took its figures away
    END IF;
    IF owner.status IN ('verified', 'inactive') THEN
        PERFORM coverage_add(p_desa, p_day, p_activities => p_delta);
    END IF;
    INSERT INTO kim_month AS m (kim_id, month, activities) VALUES (p_kim, month_start, p_delta)
    ON CONFLICT (kim_id, month) DO UPDATE SET activities = m.activities + EXCLUDED.activities
    RETURNING activities INTO after_change;
    IF owner.status = 'verified' AND (after_change > 0) <> (after_change - p_delta > 0) THEN
        PERFORM desa_month_change(owner.desa_code, month_start, CASE WHEN after_change > 0 THEN 1 ELSE -1 END);
    END IF;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION coverage_activity_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'published' THEN
        PERFORM coverage_activity_change(OLD.kim_id, OLD.desa_code, OLD.activity_date, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'published' THEN
        PERFORM coverage_activity_change(NEW.kim_id, NEW.desa_code, NEW.activity_date, 1);
    END IF;
    IF nextval('coverage_compact_tick') % 200 = 0 THEN
        PERFORM coverage_compact();
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION coverage_kim_trigger() RETURNS trigger AS $$
DECLARE
    old_verified boolean := TG_OP <> 'INSERT' AND OLD.status = 'verified';
    new_verified boolean := TG_OP <> 'DELETE' AND NEW.status = 'verified';
    old_counted boolean := TG_OP <> 'INSERT' AND OLD.status IN ('verified', 'inactive');
    new_counted boolean := TG_OP <> 'DELETE' AND NEW.status IN ('verified', 'inactive');
    moved boolean := TG_OP = 'UPDATE' AND OLD.desa_code <> NEW.desa_code;
BEGIN
    IF old_counted AND NOT new_counted THEN
        PERFORM coverage_add_reports(OLD.id, -1);
    ELSIF new_counted AND NOT old_counted THEN
        PERFORM coverage_add_reports(NEW.id, 1);
    END IF;
    IF old_verified AND (NOT new_verified OR moved) THEN
        PERFORM kim_months_shift(OLD.id, OLD.desa_code, -1);
    END IF;
    IF new_verified AND (NOT old_verified OR moved) THEN
        PERFORM kim_months_shift(NEW.id, NEW.desa_code, 1);
    END IF;
    IF TG_OP = 'DELETE' THEN
        DELETE FROM kim_month WHERE kim_id = OLD.id;
    END IF;
    IF TG_OP <> 'UPDATE' OR old_verified <> new_verified OR moved
       OR OLD.last_activity_on IS DISTINCT FROM NEW.last_activity_on
       OR OLD.verified_at IS DISTINCT FROM NEW.verified_at THEN
        IF old_verified THEN
            PERFORM coverage_add(OLD.desa_code, OLD.last_activity_on, p_kims_last => -1);
            PERFORM coverage_add(OLD.desa_code, verification_day(OLD.verified_at, OLD.created_at), p_verified => -1);
        END IF;
        IF new_verified THEN
            PERFORM coverage_add(NEW.desa_code, NEW.last_activity_on, p_kims_last => 1);
            PERFORM coverage_add(NEW.desa_code, verification_day(NEW.verified_at, NEW.created_at), p_verified => 1);
        END IF;
        IF TG_OP <> 'INSERT' THEN
            PERFORM desa_last_refresh(OLD.desa_code, CASE WHEN TG_OP = 'DELETE' THEN OLD.id END);
        END IF;
        IF TG_OP = 'INSERT' OR moved THEN
            PERFORM desa_last_refresh(NEW.desa_code, NULL);
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION coverage_rebuild() RETURNS void AS $$
BEGIN
    LOCK TABLE kim, activity IN SHARE MODE;  -- writers wait for the rebuild; readers go on
    PERFORM pg_advisory_xact_lock(hashtext('coverage_compact'));
    DELETE FROM coverage_delta;
    DELETE FROM coverage_stat;
    DELETE FROM kim_month;
    DELETE FROM desa_month;
    DELETE FROM desa_last_activity;
    INSERT INTO kim_month (kim_id, month, activities)
    SELECT kim_id, date_trunc('month', activity_date)::date, count(*) FROM activity
    WHERE status = 'published' GROUP BY 1, 2;
    INSERT INTO desa_month (desa_code, month, kims)
    SELECT k.desa_code, m.month, count(*) FROM kim_month m JOIN kim k ON k.id = m.kim_id
    WHERE k.status = 'verified' GROUP BY 1, 2;
    INSERT INTO desa_last_activity (desa_code, last_on)
    SELECT desa_code, max(last_activity_on) FROM kim WHERE status = 'verified' GROUP BY 1;
    INSERT INTO coverage_stat (code, day, activities, kims_last, desa_last, verified, kims_month, desa_month)
    SELECT code, day,
           sum(activities) OVER running, sum(kims_last) OVER running, sum(desa_last) OVER running,
           sum(verified) OVER running, kims_month, desa_month
    FROM (
        SELECT p.code, x.day, sum(x.activities) AS activities, sum(x.kims_last) AS kims_last,
               sum(x.desa_last) AS desa_last, sum(x.verified) AS verified, sum(x.kims_month) AS kims_month,
               sum(x.desa_month) AS desa_month
        FROM (
            SELECT a.desa_code, a.activity_date AS day, count(*) AS activities, 0 AS kims_last, 0 AS desa_last,
                   0 AS verified, 0 AS kims_month, 0 AS desa_month
            FROM activity a JOIN kim k ON k.id = a.kim_id
            WHERE a.status = 'published' AND k.status IN ('verified', 'inactive') GROUP BY 1, 2
            UNION ALL
            SELECT desa_code, last_activity_on, 0, count(*), 0, 0, 0, 0 FROM kim
            WHERE status = 'verified' AND last_activity_on IS NOT NULL GROUP BY 1, 2
            UNION ALL
            SELECT desa_code, last_on, 0, 0, 1, 0, 0, 0 FROM desa_last_activity WHERE last_on IS NOT NULL
            UNION ALL
            SELECT desa_code, verification_day(verified_at, created_at), 0, 0, 0, count(*), 0, 0 FROM kim
            WHERE status = 'verified' GROUP BY 1, 2
            UNION ALL
            SELECT desa_code, month, 0, 0, 0, 0, kims, 1 FROM desa_month
        ) x CROSS JOIN LATERAL unnest(region_path(x.desa_code)) AS p(code)
        GROUP BY 1, 2
    ) daily
    WINDOW running AS (PARTITION BY code ORDER BY day);
END
$$ LANGUAGE plpgsql;
"""

# Also run by the region loader (kim_platform.regions.loader.DESA_TOTALS).
DESA_TOTALS = """
UPDATE region r SET desa_total = t.n FROM (
    SELECT p.code, count(*) AS n FROM region d
    CROSS JOIN LATERAL unnest(ARRAY[left(d.code, 2), left(d.code, 5), left(d.code, 8), d.code]) AS p(code)
    WHERE d.level = 'desa' GROUP BY 1
) t
WHERE r.code = t.code AND r.desa_total <> t.n
"""

DROP_FUNCTIONS = """
DROP FUNCTION coverage_rebuild();
DROP FUNCTION coverage_kim_trigger();
DROP FUNCTION coverage_activity_trigger();
DROP FUNCTION coverage_activity_change(bigint, text, date, integer);
DROP FUNCTION desa_last_refresh(text, bigint);
DROP FUNCTION coverage_add_reports(bigint, integer);
DROP FUNCTION kim_months_shift(bigint, text, integer);
DROP FUNCTION desa_month_change(text, date, integer);
DROP FUNCTION coverage_compact();
DROP FUNCTION coverage_add(text, date, integer, integer, integer, integer, integer, integer);
DROP SEQUENCE coverage_compact_tick;
DROP FUNCTION verification_day(timestamptz, timestamptz);
DROP FUNCTION region_path(text);
"""


def _figures():
    return [sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in FIGURES]


def upgrade():
    op.add_column("region", sa.Column("desa_total", sa.Integer(), nullable=False, server_default="0"))
    op.execute(DESA_TOTALS)
    op.create_table("coverage_stat", sa.Column("code", CODE, nullable=False), sa.Column("day", sa.Date(), nullable=False),
                    *_figures(), sa.PrimaryKeyConstraint("code", "day", name=op.f("pk_coverage_stat")))
    op.create_table("coverage_delta", sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
                    sa.Column("code", CODE, nullable=False), sa.Column("day", sa.Date(), nullable=False),
                    *_figures(), sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_delta")))
    op.create_index("ix_coverage_delta_code_day", "coverage_delta", ["code", "day"])
    op.create_table("kim_month", sa.Column("kim_id", sa.BigInteger(), nullable=False),
                    sa.Column("month", sa.Date(), nullable=False),
                    sa.Column("activities", sa.Integer(), nullable=False, server_default="0"),
                    sa.PrimaryKeyConstraint("kim_id", "month", name=op.f("pk_kim_month")))
    op.create_table("desa_month", sa.Column("desa_code", CODE, nullable=False), sa.Column("month", sa.Date(), nullable=False),
                    sa.Column("kims", sa.Integer(), nullable=False, server_default="0"),
                    sa.PrimaryKeyConstraint("desa_code", "month", name=op.f("pk_desa_month")))
    op.create_table("desa_last_activity", sa.Column("desa_code", CODE, nullable=False),
                    sa.Column("last_on", sa.Date(), nullable=True),
                    sa.PrimaryKeyConstraint("desa_code", name=op.f("pk_desa_last_activity")))
    op.execute(FUNCTIONS)
    op.execute("CREATE TRIGGER coverage_kim AFTER INSERT OR UPDATE OF status, desa_code, last_activity_on, verified_at "
               "ON kim FOR EACH ROW EXECUTE FUNCTION coverage_kim_trigger()")
    op.execute("CREATE TRIGGER coverage_kim_delete BEFORE DELETE ON kim FOR EACH ROW EXECUTE FUNCTION coverage_kim_trigger()")
    op.execute("CREATE TRIGGER coverage_activity AFTER INSERT OR DELETE OR UPDATE OF status, activity_date, desa_code, "
               "kim_id ON activity FOR EACH ROW EXECUTE FUNCTION coverage_activity_trigger()")
    op.execute("SELECT coverage_rebuild()")


def downgrade():
    op.drop_column("region", "desa_total")
    op.execute("DROP TRIGGER coverage_activity ON activity; DROP TRIGGER coverage_kim_delete ON kim; "
               "DROP TRIGGER coverage_kim ON kim")
    op.execute(DROP_FUNCTIONS)
    for table in ("desa_last_activity", "desa_month", "kim_month", "coverage_delta", "coverage_stat"):
        op.drop_table(table)
