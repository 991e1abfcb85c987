"""Teladan: one KIM's rescoring (every posted report) as a PL/pgSQL function instead of a
statement PREPAREd on each connection (#20, #21).

A PREPARE belongs to the server connection: behind pgbouncer in transaction pooling the next
transaction of the worker may get another connection, where the statement is unknown (or was
prepared by someone else). The plans of a PL/pgSQL function's statements are cached by the
server per connection just the same, without anything the client has to remember.

The function body is `teladan.scoring.rescore_function_sql()` as of this revision (a copy:
migrations do not import code that changes); tests/test_posting_cost.py checks that the
function in the database is what the module renders, so a change to the score's SQL comes with
a new migration.

Revision ID: 1edcf9cb9aee
Revises: c4d1e8a2b6f0
Create Date: 2026-12-01 23:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '1edcf9cb9aee'
down_revision = "c4d1e8a2b6f0"
branch_labels = None
depends_on = None

FUNCTION = r"""CREATE OR REPLACE FUNCTION teladan_rescore_kim(p_kim_id bigint, p_as_of date, p_past_as_of date, p_verified_status text, p_period_days integer, p_published_status text, p_window_days integer, p_periods integer, p_zero_days integer, p_full_days integer, p_variety_full integer, p_reach_full integer, p_description_min integer, p_sk_days integer, p_min_members integer, p_w_regularity integer, p_w_recency integer, p_w_variety integer, p_w_reach integer, p_w_evidence integer, p_w_completeness integer) RETURNS integer
LANGUAGE plpgsql AS $function$
DECLARE
    written integer;
BEGIN

        WITH gone AS (
            DELETE FROM kim_score s USING kim k WHERE k.id = s.kim_id AND k.status <> $4 AND s.kim_id = $1
        )
        INSERT INTO kim_score AS s (kim_id, as_of, score, regularity, recency, variety, reach, evidence,
                                    completeness, active_months, last_report_on, eligible, score_90_days_ago,
                                    computed_at)
        SELECT c.kim_id, $2, c.score, c.regularity, c.recency, c.variety, c.reach, c.evidence, c.completeness,
               c.months, c.last_on, c.months > 0, coalesce(p.score, 0), now()
        FROM (
WITH target AS (
    SELECT k.id, k.description, k.sk_number, k.sk_date, k.socials
    FROM kim k WHERE k.status = $4 AND k.id = $1
),
reports AS (
    SELECT a.kim_id, a.activity_date, a.type, a.reach_offline + a.reach_online AS reach,
           (CAST($2 AS date) - a.activity_date) / $5 AS period,
           (jsonb_array_length(a.links) > 0
            OR EXISTS (SELECT 1 FROM activity_photo p WHERE p.activity_id = a.id)) AS evidenced
    FROM activity a JOIN target t ON t.id = a.kim_id
    WHERE a.status = $6 AND a.activity_date > CAST($2 AS date) - $7
      AND a.activity_date <= $2
),
facts AS (
    SELECT kim_id, count(DISTINCT period) AS months, max(activity_date) AS last_on,
           count(DISTINCT type) AS types, sum(reach) AS reach,
           count(DISTINCT period) FILTER (WHERE evidenced) AS evidenced_months
    FROM reports GROUP BY kim_id
),
members AS (
    SELECT m.kim_id, count(*) AS n FROM kim_membership m JOIN target t ON t.id = m.kim_id
    WHERE (m.created_at AT TIME ZONE INTERVAL '+07:00')::date <= $2 GROUP BY m.kim_id
),
components AS (
    SELECT t.id AS kim_id, coalesce(f.months, 0) AS months, f.last_on,
           round((100.0 * coalesce(f.months, 0) / $8)::numeric, 1) AS regularity,
           round(CASE WHEN f.last_on IS NULL THEN 0 ELSE 100.0 * greatest(0.0, least(1.0,
                 ($9 - (CAST($2 AS date) - f.last_on))::numeric / ($9 - $10))) END, 1)
               AS recency,
           round(100.0 * least(coalesce(f.types, 0), $11) / $11, 1) AS variety,
           round((100.0 * least(1.0, ln(1 + coalesce(f.reach, 0)) / ln(1 + $12)))::numeric, 1) AS reach,
           round((100.0 * coalesce(f.evidenced_months, 0) / $8)::numeric, 1) AS evidence,
           25.0 * (length(coalesce(t.description, '')) >= $13)::int
             + 25.0 * coalesce(t.sk_number IS NOT NULL AND t.sk_date > CAST($2 AS date) - $14, false)::int
             + 25.0 * (coalesce(mm.n, 0) >= $15)::int
             + 25.0 * coalesce(t.socials <> '{}'::jsonb, false)::int AS completeness
    FROM target t LEFT JOIN facts f ON f.kim_id = t.id LEFT JOIN members mm ON mm.kim_id = t.id
)
SELECT kim_id, months, last_on, regularity, recency, variety, reach, evidence, completeness,
       round(($16 * regularity + $17 * recency + $18 * variety + $19 * reach
              + $20 * evidence + $21 * completeness) / 100.0, 1) AS score
FROM components
) c LEFT JOIN (
WITH target AS (
    SELECT k.id, k.description, k.sk_number, k.sk_date, k.socials
    FROM kim k WHERE k.status = $4 AND k.id = $1
),
reports AS (
    SELECT a.kim_id, a.activity_date, a.type, a.reach_offline + a.reach_online AS reach,
           (CAST($3 AS date) - a.activity_date) / $5 AS period,
           (jsonb_array_length(a.links) > 0
            OR EXISTS (SELECT 1 FROM activity_photo p WHERE p.activity_id = a.id)) AS evidenced
    FROM activity a JOIN target t ON t.id = a.kim_id
    WHERE a.status = $6 AND a.activity_date > CAST($3 AS date) - $7
      AND a.activity_date <= $3
),
facts AS (
    SELECT kim_id, count(DISTINCT period) AS months, max(activity_date) AS last_on,
           count(DISTINCT type) AS types, sum(reach) AS reach,
           count(DISTINCT period) FILTER (WHERE evidenced) AS evidenced_months
    FROM reports GROUP BY kim_id
),
members AS (
    SELECT m.kim_id, count(*) AS n FROM kim_membership m JOIN target t ON t.id = m.kim_id
    WHERE (m.created_at AT TIME ZONE INTERVAL '+07:00')::date <= $3 GROUP BY m.kim_id
),
components AS (
    SELECT t.id AS kim_id, coalesce(f.months, 0) AS months, f.last_on,
           round((100.0 * coalesce(f.months, 0) / $8)::numeric, 1) AS regularity,
           round(CASE WHEN f.last_on IS NULL THEN 0 ELSE 100.0 * greatest(0.0, least(1.0,
                 ($9 - (CAST($3 AS date) - f.last_on))::numeric / ($9 - $10))) END, 1)
               AS recency,
           round(100.0 * least(coalesce(f.types, 0), $11) / $11, 1) AS variety,
           round((100.0 * least(1.0, ln(1 + coalesce(f.reach, 0)) / ln(1 + $12)))::numeric, 1) AS reach,
           round((100.0 * coalesce(f.evidenced_months, 0) / $8)::numeric, 1) AS evidence,
           25.0 * (length(coalesce(t.description, '')) >= $13)::int
             + 25.0 * coalesce(t.sk_number IS NOT NULL AND t.sk_date > CAST($3 AS date) - $14, false)::int
             + 25.0 * (coalesce(mm.n, 0) >= $15)::int
             + 25.0 * coalesce(t.socials <> '{}'::jsonb, false)::int AS completeness
    FROM target t LEFT JOIN facts f ON f.kim_id = t.id LEFT JOIN members mm ON mm.kim_id = t.id
)
SELECT kim_id, months, last_on, regularity, recency, variety, reach, evidence, completeness,
       round(($16 * regularity + $17 * recency + $18 * variety + $19 * reach
              + $20 * evidence + $21 * completeness) / 100.0, 1) AS score
FROM components
) p ON p.kim_id = c.kim_id
        ON CONFLICT (kim_id) DO UPDATE SET
            as_of = EXCLUDED.as_of, score = EXCLUDED.score, regularity = EXCLUDED.regularity,
            recency = EXCLUDED.recency, variety = EXCLUDED.variety, reach = EXCLUDED.reach,
            evidence = EXCLUDED.evidence, completeness = EXCLUDED.completeness,
            active_months = EXCLUDED.active_months, last_report_on = EXCLUDED.last_report_on,
            eligible = EXCLUDED.eligible, score_90_days_ago = EXCLUDED.score_90_days_ago,
            computed_at = EXCLUDED.computed_at;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$function$"""

SIGNATURE = "teladan_rescore_kim(bigint, date, date, text, integer, text, integer, integer, integer, integer, integer, integer, integer, integer, integer, integer, integer, integer, integer, integer, integer)"


def upgrade():
    op.execute(FUNCTION)


def downgrade():
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
