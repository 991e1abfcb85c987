"""Coverage: the delta log folded into coverage_stat row by row on the key (#20).

Every 200th report change folds the delta log (`coverage_compact`, called by the activity
trigger) inside the request that made it. Its UPDATE ... FROM of the running totals had the
planner join all of coverage_stat (1.4 million rows on the national data set: a sequential
scan and a hash join, or with join methods forced a plan costly enough to be JIT-compiled):
0.7-1.3 s for a fold of ~200 rows, which one poster in 200 waited for, about 5 ms per post
on average. The same sums are now applied row by row on the primary key (a few milliseconds);
the figures are the same to the unit (tests/test_coverage*.py).

Revision ID: 6db218927d9f
Revises: 1edcf9cb9aee
Create Date: 2026-12-02 00:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '6db218927d9f'
down_revision = "1edcf9cb9aee"
branch_labels = None
depends_on = None

COMPACT = r"""
CREATE OR REPLACE FUNCTION coverage_compact() RETURNS integer AS $$
DECLARE
    folded integer;
    r record;
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
    -- Every stored day of a code from the folded day on moves by the folded amounts, row by row
    -- on the primary key. As one UPDATE ... FROM, the planner (which cannot know that the folded
    -- days are nearly always the latest ones) joined the whole of coverage_stat, or JIT-compiled
    -- the join: 0.7-1.3 s nationally, paid by every 200th report posted.
    FOR r IN
        SELECT c2.code, c2.day, sum(f.activities) AS activities, sum(f.kims_last) AS kims_last,
               sum(f.desa_last) AS desa_last, sum(f.verified) AS verified,
               coalesce(sum(f.kims_month) FILTER (WHERE f.day = c2.day), 0) AS kims_month,
               coalesce(sum(f.desa_month) FILTER (WHERE f.day = c2.day), 0) AS desa_month
        FROM coverage_fold f JOIN coverage_stat c2 ON c2.code = f.code AND c2.day >= f.day
        GROUP BY c2.code, c2.day
    LOOP
        UPDATE coverage_stat c SET
            activities = c.activities + r.activities, kims_last = c.kims_last + r.kims_last,
            desa_last = c.desa_last + r.desa_last, verified = c.verified + r.verified,
            kims_month = c.kims_month + r.kims_month, desa_month = c.desa_month + r.desa_month
        WHERE c.code = r.code AND c.day = r.day;
    END LOOP;
    DELETE FROM coverage_fold;
    RETURN folded;
END
$$ LANGUAGE plpgsql;
"""

# As created by 7c1e5a9d2f40.
PREVIOUS = r"""
CREATE OR REPLACE FUNCTION coverage_compact() RETURNS integer AS $$
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
"""


def upgrade():
    op.execute(COMPACT)


def downgrade():
    op.execute(PREVIOUS)
