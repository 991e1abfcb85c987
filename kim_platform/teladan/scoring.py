"""The KIM teladan score: the platform's own indicator of a KIM worth following, not an official rank.

Six components, each 0–100, weighted into a score 0–100 (WEIGHTS; the /teladan/cara-penilaian
page is generated from these constants). All count the last six 30-day periods before the date:

- regularity: periods with at least one published report, out of 6;
- recency: 100 up to 14 days after the latest published report, falling to 0 at 90 days;
- variety: distinct activity types, 4 or more = 100;
- reach: people reached (offline + online) on a log scale, 5,000 or more = 100;
- evidence: periods with a report documented by a photo or a link, out of 6 (counted per
  period, not as a share of reports, so one more report can never lower it);
- completeness: a quarter each for a description, an SK not older than 3 years, at least 3
  members and a social-media account.

Every component only grows when a report is added, so more activity never lowers the score;
hidden and draft reports count for nothing; a KIM without a published report in the last six
periods is not eligible, whatever its profile. The score depends only on the data and the date.
"""
import functools
import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from kim_platform.activities.models import ActivityStatus
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import KimStatus

WEIGHTS = {"regularity": 30, "recency": 20, "variety": 15, "reach": 10, "evidence": 15, "completeness": 10}
COMPONENTS = tuple(WEIGHTS)
PERIODS = 6
PERIOD_DAYS = 30
RECENT_FULL_DAYS = 14
RECENT_ZERO_DAYS = 90
VARIETY_FULL = 4
REACH_FULL = 5000
SK_VALID_YEARS = 3
MIN_MEMBERS = 3
DESCRIPTION_MIN = 80
TELADAN_MIN_SCORE = 70
DROP_DAYS = 90

COMPONENT_LABELS = {
    "regularity": _l("Regularity"),
    "recency": _l("Recency"),
    "variety": _l("Variety"),
    "reach": _l("Reach"),
    "evidence": _l("Evidence"),
    "completeness": _l("Completeness"),
}

assert sum(WEIGHTS.values()) == 100

_SCORES = """
WITH target AS (
    SELECT k.id, k.description, k.sk_number, k.sk_date, k.socials
    FROM kim k WHERE k.status = :verified_status {only}
),
reports AS (
    SELECT a.kim_id, a.activity_date, a.type, a.reach_offline + a.reach_online AS reach,
           (CAST(:as_of AS date) - a.activity_date) / :period_days AS period,
           (jsonb_array_length(a.links) > 0
            OR EXISTS (SELECT 1 FROM activity_photo p WHERE p.activity_id = a.id)) AS evidenced
    FROM activity a JOIN target t ON t.id = a.kim_id
    WHERE a.status = :published_status AND a.activity_date > CAST(:as_of AS date) - :window_days
      AND a.activity_date <= :as_of
),
facts AS (
    SELECT kim_id, count(DISTINCT period) AS months, max(activity_date) AS last_on,
           count(DISTINCT type) AS types, sum(reach) AS reach,
           count(DISTINCT period) FILTER (WHERE evidenced) AS evidenced_months
    FROM reports GROUP BY kim_id
),
members AS (
    SELECT m.kim_id, count(*) AS n FROM kim_membership m JOIN target t ON t.id = m.kim_id
    WHERE (m.created_at AT TIME ZONE INTERVAL '+07:00')::date <= :as_of GROUP BY m.kim_id
),
components AS (
    SELECT t.id AS kim_id, coalesce(f.months, 0) AS months, f.last_on,
           round((100.0 * coalesce(f.months, 0) / :periods)::numeric, 1) AS regularity,
           round(CASE WHEN f.last_on IS NULL THEN 0 ELSE 100.0 * greatest(0.0, least(1.0,
                 (:zero_days - (CAST(:as_of AS date) - f.last_on))::numeric / (:zero_days - :full_days))) END, 1)
               AS recency,
           round(100.0 * least(coalesce(f.types, 0), :variety_full) / :variety_full, 1) AS variety,
           round((100.0 * least(1.0, ln(1 + coalesce(f.reach, 0)) / ln(1 + :reach_full)))::numeric, 1) AS reach,
           round((100.0 * coalesce(f.evidenced_months, 0) / :periods)::numeric, 1) AS evidence,
           25.0 * (length(coalesce(t.description, '')) >= :description_min)::int
             + 25.0 * coalesce(t.sk_number IS NOT NULL AND t.sk_date > CAST(:as_of AS date) - :sk_days, false)::int
             + 25.0 * (coalesce(mm.n, 0) >= :min_members)::int
             + 25.0 * coalesce(t.socials <> '{{}}'::jsonb, false)::int AS completeness
    FROM target t LEFT JOIN facts f ON f.kim_id = t.id LEFT JOIN members mm ON mm.kim_id = t.id
)
SELECT kim_id, months, last_on, regularity, recency, variety, reach, evidence, completeness,
       round((:w_regularity * regularity + :w_recency * recency + :w_variety * variety + :w_reach * reach
              + :w_evidence * evidence + :w_completeness * completeness) / 100.0, 1) AS score
FROM components
"""


def _params(as_of: date) -> dict:
    return {"as_of": as_of, "period_days": PERIOD_DAYS, "window_days": PERIODS * PERIOD_DAYS, "periods": PERIODS,
            "zero_days": RECENT_ZERO_DAYS, "full_days": RECENT_FULL_DAYS, "variety_full": VARIETY_FULL,
            "reach_full": REACH_FULL, "description_min": DESCRIPTION_MIN, "sk_days": SK_VALID_YEARS * 365,
            "min_members": MIN_MEMBERS, **{f"w_{name}": weight for name, weight in WEIGHTS.items()},
            "verified_status": KimStatus.VERIFIED, "published_status": ActivityStatus.PUBLISHED}


def scores_sql(ids: list[int] | None) -> str:
    return _SCORES.format(only="AND k.id = ANY(:ids)" if ids is not None else "")


@dataclass
class ScoreRow:
    kim_id: int
    months: int
    last_on: date | None
    regularity: float
    recency: float
    variety: float
    reach: float
    evidence: float
    completeness: float
    score: float


def compute(as_of: date | None = None, ids: list[int] | None = None) -> dict[int, ScoreRow]:
    """Scores of verified KIMs (all, or `ids`) as of a date, straight from the data; stores nothing."""
    as_of = as_of or clock.today()
    rows = db.session.execute(text(scores_sql(ids)), {**_params(as_of), "ids": ids}).all()
    return {row[0]: ScoreRow(row[0], row[1], row[2], *(float(v) for v in row[3:])) for row in rows}


def _rescore_sql(only_score: str, only_row: str) -> str:
    """One statement (one round trip per report posted): the rows of KIMs no longer verified go,
    and every verified KIM's score is written with its score 90 days before; the two score
    queries differ only in their date (:as_of, :past_as_of). Only constant SQL is formatted in."""
    scores = _SCORES.format(only=only_score)
    past = re.sub(r":as_of\b", ":past_as_of", scores)
    return f"""
        WITH gone AS (
            DELETE FROM kim_score s USING kim k WHERE k.id = s.kim_id AND k.status <> :verified_status {only_row}
        )
        INSERT INTO kim_score AS s (kim_id, as_of, score, regularity, recency, variety, reach, evidence,
                                    completeness, active_months, last_report_on, eligible, score_90_days_ago,
                                    computed_at)
        SELECT c.kim_id, :as_of, c.score, c.regularity, c.recency, c.variety, c.reach, c.evidence, c.completeness,
               c.months, c.last_on, c.months > 0, coalesce(p.score, 0), now()
        FROM ({scores}) c LEFT JOIN ({past}) p ON p.kim_id = c.kim_id
        ON CONFLICT (kim_id) DO UPDATE SET
            as_of = EXCLUDED.as_of, score = EXCLUDED.score, regularity = EXCLUDED.regularity,
            recency = EXCLUDED.recency, variety = EXCLUDED.variety, reach = EXCLUDED.reach,
            evidence = EXCLUDED.evidence, completeness = EXCLUDED.completeness,
            active_months = EXCLUDED.active_months, last_report_on = EXCLUDED.last_report_on,
            eligible = EXCLUDED.eligible, score_90_days_ago = EXCLUDED.score_90_days_ago,
            computed_at = EXCLUDED.computed_at
    """  # nosec B608


# One KIM's rescoring (what every posted report asks for) is a PL/pgSQL function: PostgreSQL
# caches the plans of a function's statements per connection, so the two score queries are not
# planned again at every post (planning cost several times their execution), and unlike a
# PREPARE, nothing is left on a connection that a pooler (pgbouncer, transaction pooling) may
# hand to another client. Its body is `_rescore_sql` for one KIM with the parameters by position;
# the migration that creates it holds a copy, and tests/test_posting_cost.py checks that the
# copy in the database is what this module renders now (a change to the SQL needs a migration).
RESCORE_FUNCTION = "teladan_rescore_kim"
_BIND = re.compile(r"(?<![:\w]):([a-z_]\w*)")


def _pg_type(name: str, value) -> str:
    """The SQL type of a parameter: ids as bigint like the id columns (an `integer` would refuse
    ids past 2**31), other whole numbers (days, counts) as integer."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if name == "id" or name.endswith("_id") else "integer"
    if isinstance(value, date):
        return "date"
    return "text"


def _one_kim_params(kim_id: int, as_of: date) -> dict:
    return {**_params(as_of), "past_as_of": as_of - timedelta(days=DROP_DAYS), "kim_id": kim_id}


@functools.cache
def _one_kim_sql() -> tuple[str, tuple[str, ...]]:
    """The rescoring of one KIM and the names of its parameters: the KIM and the two dates first,
    then the constants in order of first use."""
    sql = _rescore_sql("AND k.id = :kim_id", "AND s.kim_id = :kim_id")
    first = ["kim_id", "as_of", "past_as_of"]
    return sql, tuple(first + [name for name in dict.fromkeys(_BIND.findall(sql)) if name not in first])


def rescore_function_sql() -> str:
    """CREATE OR REPLACE FUNCTION teladan_rescore_kim(...): the number of scores written (0 or 1)."""
    sql, names = _one_kim_sql()
    example = _one_kim_params(1, date(2000, 1, 1))
    body = _BIND.sub(lambda m: f"${names.index(m.group(1)) + 1}", sql)
    arguments = ", ".join(f"p_{name} {_pg_type(name, example[name])}" for name in names)
    return (f"CREATE OR REPLACE FUNCTION {RESCORE_FUNCTION}({arguments}) RETURNS integer\n"
            f"LANGUAGE plpgsql AS $function$\nDECLARE\n    written integer;\nBEGIN\n{body.rstrip()};\n"
            f"    GET DIAGNOSTICS written = ROW_COUNT;\n    RETURN written;\nEND\n$function$")


def _rescore_one(kim_id: int, as_of: date) -> int:
    """The rescoring of one KIM: one call of the function, with this module's constants (sent
    as the driver's own parameters: a text() construct of 21 binds cost more Python than the
    call costs PostgreSQL)."""
    _, names = _one_kim_sql()
    params = _one_kim_params(kim_id, as_of)
    call = f"SELECT {RESCORE_FUNCTION}({', '.join(f'%({name})s' for name in names)})"
    return db.session.connection().exec_driver_sql(call, {name: params[name] for name in names}).scalar()


def recompute(ids: list[int] | None = None, as_of: date | None = None) -> int:
    """Store the scores of all verified KIMs (or of `ids`) as of today and 90 days before.

    KIMs no longer verified lose their row. Returns the number of scores written."""
    as_of = as_of or clock.today()
    if ids is not None and len(ids) == 1:
        return _rescore_one(ids[0], as_of)
    params = {**_params(as_of), "past_as_of": as_of - timedelta(days=DROP_DAYS)}
    sql = _rescore_sql(*(("AND k.id = ANY(:ids)", "AND s.kim_id = ANY(:ids)") if ids is not None else ("", "")))
    return db.session.execute(text(sql), {**params, "ids": ids}).rowcount


def recompute_all() -> tuple[int, float]:
    """Every verified KIM, noted as a run (the pages say when scores were last refreshed)."""
    import time

    from kim_platform.teladan.models import TeladanRun

    started = time.perf_counter()
    written = recompute()
    seconds = time.perf_counter() - started
    db.session.add(TeladanRun(kims=written, seconds=round(seconds, 2)))
    return written, seconds


def is_teladan(score) -> bool:
    """A model KIM: eligible (a report in the last six periods) and a score of at least 70."""
    return bool(score and score.eligible and score.score >= TELADAN_MIN_SCORE)


def is_teladan_sql(score):
    """`is_teladan` in SQL over `score` (KimScore or an alias of it), for answers PostgreSQL writes."""
    from sqlalchemy import and_, func

    return func.coalesce(and_(score.eligible, score.score >= TELADAN_MIN_SCORE), False)
