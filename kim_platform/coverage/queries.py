"""Coverage: how many desa of a region have a verified KIM, and an active one.

Definitions (shown on /cakupan): a desa/kelurahan is *covered* when at least one verified KIM
is registered in it, and *actively covered* when one of its verified KIMs has a published
report dated within the window (90 days by default). Every roll-up is a prefix match on the
region codes; covered desa and verified KIMs come from the trigger-kept region_kim_stats,
the window figures from the KIM and report tables.
"""
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import text

from kim_platform.activities.models import ActivityStatus
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import PUBLIC_STATUSES, KimStatus
from kim_platform.kims.slots import HEALTH_STATES, REGION_HEALTH
from kim_platform.regions.codes import LEVEL_DEPTH, LEVEL_WIDTH, LEVELS

DEFAULT_WINDOW_DAYS = 90
# The statuses the SQL below counts, bound as parameters: verified KIMs cover and are active;
# published reports of a KIM with a public profile (inactive ones too) count as reports.
STATUS_PARAMS = {"verified_status": KimStatus.VERIFIED, "public_statuses": list(PUBLIC_STATUSES),
                 "published_status": ActivityStatus.PUBLISHED}


@dataclass
class CoverageRow:
    code: str
    name: str
    level: str
    desa_total: int
    desa_covered: int
    desa_active: int
    kim_verified: int
    kim_active: int
    activities_window: int
    activities_previous: int
    # Verified KIMs per health state (aktif, perlu pendampingan, vakum) as of the daily run of
    # `health_as_of`, beside the report-based "active" above; None until a run has counted them.
    health_aktif: int | None = None
    health_perlu_pendampingan: int | None = None
    health_vakum: int | None = None
    health_as_of: date | None = None

    @property
    def coverage_pct(self) -> float:
        return round(100.0 * self.desa_covered / self.desa_total, 1) if self.desa_total else 0.0

    @property
    def active_pct(self) -> float:
        return round(100.0 * self.desa_active / self.desa_total, 1) if self.desa_total else 0.0

    @property
    def activities_delta(self) -> int:
        return self.activities_window - self.activities_previous

    def as_dict(self) -> dict:
        # vars(), not dataclasses.asdict(): no deep copy, a third of the time on 700-row tables
        return {**vars(self), "coverage_pct": self.coverage_pct, "active_pct": self.active_pct,
                "activities_delta": self.activities_delta,
                "health_as_of": self.health_as_of.isoformat() if self.health_as_of else None}


HEALTH_FIELDS = tuple(f"health_{state}" for state in HEALTH_STATES)


def region_health(codes):
    """KIMs per health state of these regions (kims.slots.REGION_HEALTH, filled by health: coverage
    may not import it), or None in an app without it. With no codes: only the as-of day and version."""
    found = REGION_HEALTH.collect(codes=list(codes))
    return found[0] if found else None


def health_version() -> str:
    health = region_health(())
    return health.version if health else ""


def _with_health(rows: list[CoverageRow]) -> list[CoverageRow]:
    """The health states of each row's region, read from the daily run's per-region totals (one query)."""
    health = region_health(row.code for row in rows)
    if health is None or health.as_of is None:
        return rows
    for row in rows:
        for state, n in health.counts[row.code].items():
            setattr(row, f"health_{state}", n)
        row.health_as_of = health.as_of
    return rows


def child_level(parent: str | None) -> str:
    return "provinsi" if not parent else LEVELS[LEVEL_DEPTH[_level_of(parent)]]


def _level_of(code: str) -> str:
    return LEVELS[code.count(".")]


def window_days_setting() -> int:
    return current_app.config.get("COVERAGE_WINDOW_DAYS", DEFAULT_WINDOW_DAYS)


_PLACES_AND_DESA = """
    places AS (SELECT code, name FROM region WHERE level = :level AND code LIKE :prefix AND retired_on IS NULL),
    desa AS (
        SELECT left(code, :width) AS code, count(*) AS n FROM region
        WHERE level = 'desa' AND code LIKE :prefix AND retired_on IS NULL GROUP BY 1
    )"""


def _window(level: str, parent: str | None, window_days: int, today: date | None) -> dict:
    today = today or clock.today()
    since = today - timedelta(days=window_days)
    return {"level": level, "width": LEVEL_WIDTH[level], "since": since,
            "previous_since": since - timedelta(days=window_days),
            "today": today, "prefix": (parent + ".%") if parent else "%", **STATUS_PARAMS}


def _rows(level: str, rows) -> list[CoverageRow]:
    if level == "desa":
        rows = [(c, n, 1, cov, act, kv, ka, aw, ap) for c, n, _, cov, act, kv, ka, aw, ap in rows]
    return [CoverageRow(code, name, level, *numbers) for code, name, *numbers in rows]


def coverage_rows(level: str, parent: str | None = None, window_days: int | None = None,
                  today: date | None = None) -> list[CoverageRow]:
    """One row per region of `level` under `parent` (all of Indonesia without a parent).

    Reads only the trigger-kept aggregates: per region code and day, so a window of any length
    costs a few hundred index rows per region instead of a scan of the reports. The desa of one
    kecamatan are few, and are counted from the raw tables."""
    if level == "desa":
        return _with_health(direct_coverage_rows(level, parent, window_days, today))
    params = _window(level, parent, window_days or window_days_setting(), today)
    rows = db.session.execute(text("""
        WITH places AS (SELECT code, name, desa_total FROM region
                        WHERE level = :level AND code LIKE :prefix AND retired_on IS NULL),
        pending AS (
            SELECT code,
                   sum(desa_last) FILTER (WHERE day >= :since) AS desa_last,
                   sum(kims_last) FILTER (WHERE day >= :since) AS kims_last,
                   sum(activities) FILTER (WHERE day >= :since) AS current,
                   sum(activities) FILTER (WHERE day < :since) AS previous
            FROM coverage_delta WHERE day >= :previous_since AND day <= :today AND code LIKE :prefix
            GROUP BY code
        )
        SELECT p.code, p.name, p.desa_total, coalesce(s.desa_covered, 0),
               coalesce(upto_today.desa_last, 0) - coalesce(before_window.desa_last, 0) + coalesce(d.desa_last, 0),
               coalesce(s.kim_verified, 0),
               coalesce(upto_today.kims_last, 0) - coalesce(before_window.kims_last, 0) + coalesce(d.kims_last, 0),
               coalesce(upto_today.activities, 0) - coalesce(before_window.activities, 0) + coalesce(d.current, 0),
               coalesce(before_window.activities, 0) - coalesce(before_previous.activities, 0)
                   + coalesce(d.previous, 0)
        FROM places p
        LEFT JOIN pending d ON d.code = p.code
        LEFT JOIN LATERAL (  -- lateral: a few hundred key lookups, never a hash of every desa's row
            SELECT desa_covered, kim_verified FROM region_kim_stats WHERE code = p.code
        ) s ON true
        LEFT JOIN LATERAL (
            SELECT desa_last, kims_last, activities FROM coverage_stat
            WHERE code = p.code AND day <= :today ORDER BY day DESC LIMIT 1
        ) upto_today ON true
        LEFT JOIN LATERAL (
            SELECT desa_last, kims_last, activities FROM coverage_stat
            WHERE code = p.code AND day < :since ORDER BY day DESC LIMIT 1
        ) before_window ON true
        LEFT JOIN LATERAL (
            SELECT activities FROM coverage_stat
            WHERE code = p.code AND day < :previous_since ORDER BY day DESC LIMIT 1
        ) before_previous ON true
        ORDER BY p.code
    """), params).all()
    return _with_health(_rows(level, rows))


def direct_coverage_rows(level: str, parent: str | None = None, window_days: int | None = None,
                         today: date | None = None) -> list[CoverageRow]:
    """The same rows counted from the raw kim and activity tables, with no aggregate at all.

    The oracle for the tests and the naive side of the benchmark. (nosec B608 below: the formatted
    CTE is a constant; every value is bound.)"""
    params = _window(level, parent, window_days or window_days_setting(), today)
    rows = db.session.execute(text(f"""
        WITH {_PLACES_AND_DESA},
        kims AS (
            SELECT left(k.desa_code, :width) AS code, count(*) AS kim_verified,
                   count(DISTINCT k.desa_code) AS desa_covered,
                   count(*) FILTER (WHERE active.yes) AS kim_active,
                   count(DISTINCT k.desa_code) FILTER (WHERE active.yes) AS desa_active
            FROM kim k CROSS JOIN LATERAL (
                SELECT EXISTS (SELECT 1 FROM activity a WHERE a.kim_id = k.id AND a.status = :published_status
                               AND a.activity_date >= :since AND a.activity_date <= :today) AS yes
            ) active
            WHERE k.status = :verified_status AND k.desa_code LIKE :prefix
            GROUP BY 1
        ),
        reports AS (
            SELECT left(a.desa_code, :width) AS code,
                   count(*) FILTER (WHERE a.activity_date >= :since) AS current,
                   count(*) FILTER (WHERE a.activity_date < :since) AS previous
            FROM activity a JOIN kim k ON k.id = a.kim_id
            WHERE a.status = :published_status AND k.status = ANY(:public_statuses) AND a.desa_code LIKE :prefix
              AND a.activity_date >= :previous_since AND a.activity_date <= :today
            GROUP BY 1
        )
        SELECT p.code, p.name, coalesce(d.n, 0), coalesce(k.desa_covered, 0), coalesce(k.desa_active, 0),
               coalesce(k.kim_verified, 0), coalesce(k.kim_active, 0), coalesce(r.current, 0),
               coalesce(r.previous, 0)
        FROM places p
        LEFT JOIN desa d ON d.code = p.code
        LEFT JOIN kims k ON k.code = p.code
        LEFT JOIN reports r ON r.code = p.code
        ORDER BY p.code
    """), params).all()  # nosec B608
    return _rows(level, rows)


@dataclass
class MonthPoint:
    month: date
    kim_verified: int
    kim_active: int
    desa_active: int
    activities: int

    def as_dict(self) -> dict:
        return asdict(self)


def _first_months(months: int, today: date) -> tuple[date, list[date]]:
    first = date(today.year, today.month, 1)
    starts = []
    for _ in range(months):
        starts.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    starts.reverse()
    return starts[0], starts


def timeseries(region: str | None, months: int = 24, today: date | None = None) -> list[MonthPoint]:
    """Per month, oldest first, the current month last (up to today): verified KIMs at the month's
    end, verified KIMs and desa with a published report dated in the month, and those reports.

    "Verified" is the KIMs' present status, dated by their verification."""
    if region and _level_of(region) == "desa":
        return direct_timeseries(region, months, today)
    today = today or clock.today()
    _, starts = _first_months(months, today)
    rows = db.session.execute(text("""
        SELECT m.month,
               coalesce(upto_end.verified, 0) + coalesce(d.verified, 0),
               coalesce(this_month.kims_month, 0) + coalesce(d.kims_month, 0),
               coalesce(this_month.desa_month, 0) + coalesce(d.desa_month, 0),
               coalesce(upto_end.activities, 0) - coalesce(before_start.activities, 0) + coalesce(d.activities, 0)
        FROM unnest(CAST(:starts AS date[])) AS m(month)
        CROSS JOIN LATERAL (SELECT least((m.month + interval '1 month')::date - 1, :today) AS last_day) e
        LEFT JOIN LATERAL (
            SELECT verified, activities FROM coverage_stat
            WHERE code = :code AND day <= e.last_day ORDER BY day DESC LIMIT 1
        ) upto_end ON true
        LEFT JOIN LATERAL (
            SELECT activities FROM coverage_stat WHERE code = :code AND day < m.month ORDER BY day DESC LIMIT 1
        ) before_start ON true
        LEFT JOIN coverage_stat this_month ON this_month.code = :code AND this_month.day = m.month
        LEFT JOIN LATERAL (
            SELECT sum(verified) AS verified,
                   sum(kims_month) FILTER (WHERE day = m.month) AS kims_month,
                   sum(desa_month) FILTER (WHERE day = m.month) AS desa_month,
                   sum(activities) FILTER (WHERE day >= m.month) AS activities
            FROM coverage_delta WHERE code = :code AND day <= e.last_day
        ) d ON true
        ORDER BY m.month
    """), {"code": region or "", "starts": starts, "today": today}).all()
    points = [MonthPoint(*row) for row in rows]
    return points


def direct_timeseries(region: str | None, months: int = 24, today: date | None = None) -> list[MonthPoint]:
    """The same series from the raw tables (the oracle for the tests, the naive side of the benchmark)."""
    today = today or clock.today()
    first, starts = _first_months(months, today)
    prefix = (region + "%") if region else "%"
    params = {"prefix": prefix, "first": first, "today": today, **STATUS_PARAMS}
    verified_days = db.session.execute(text("""
        SELECT verification_day(verified_at, created_at) FROM kim
        WHERE status = :verified_status AND desa_code LIKE :prefix
    """), params).scalars().all()
    active = {month: (kims, desa) for month, kims, desa in db.session.execute(text("""
        SELECT date_trunc('month', a.activity_date)::date, count(DISTINCT k.id), count(DISTINCT k.desa_code)
        FROM activity a JOIN kim k ON k.id = a.kim_id
        WHERE a.status = :published_status AND k.status = :verified_status AND k.desa_code LIKE :prefix
          AND a.activity_date >= :first AND a.activity_date <= :today
        GROUP BY 1"""), params)}
    reports = dict(db.session.execute(text("""
        SELECT date_trunc('month', a.activity_date)::date, count(*)
        FROM activity a JOIN kim k ON k.id = a.kim_id
        WHERE a.status = :published_status AND k.status = ANY(:public_statuses) AND a.desa_code LIKE :prefix
          AND a.activity_date >= :first AND a.activity_date <= :today
        GROUP BY 1"""), params).all())
    points = []
    for start in starts:
        end = min(today, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1))
        kims, desa = active.get(start, (0, 0))
        points.append(MonthPoint(start, sum(1 for day in verified_days if day <= end), kims, desa,
                                 reports.get(start, 0)))
    return points


def summary(parent: str | None = None, window_days: int | None = None, today: date | None = None):
    """The same figures for the parent itself (or the nation)."""
    rows = coverage_rows(child_level(parent), parent, window_days, today)
    total = CoverageRow(parent or "", "", _level_of(parent) if parent else "nasional",
                        *(sum(getattr(r, f) for r in rows) for f in (
                            "desa_total", "desa_covered", "desa_active", "kim_verified", "kim_active",
                            "activities_window", "activities_previous")))
    if rows and rows[0].health_as_of is not None:
        for field in HEALTH_FIELDS:
            setattr(total, field, sum(getattr(r, field) for r in rows))
        total.health_as_of = rows[0].health_as_of
    return total, rows


def gaps(level: str, parent: str | None = None) -> list[dict]:
    """Regions of `level` (kabupaten or kecamatan) under `parent` without any verified KIM."""
    rows = db.session.execute(text("""
        SELECT r.code, r.name, r.parent_code, r.desa_total
        FROM region r LEFT JOIN region_kim_stats s ON s.code = r.code
        WHERE r.level = :level AND r.code LIKE :prefix AND r.retired_on IS NULL AND coalesce(s.kim_verified, 0) = 0
        ORDER BY r.code"""), {"level": level, "prefix": (parent + ".%") if parent else "%"}).mappings().all()
    return [dict(row) for row in rows]


def nearby_uncovered_desa(kecamatan: str) -> list[dict]:
    """Desa without a KIM in a kecamatan that has one: the easiest next step for a pembina.

    For each, the nearest covered desa of the same kecamatan and the distance in km."""
    rows = db.session.execute(text("""
        WITH desa AS (
            SELECT r.code, r.name, r.centroid, coalesce(s.kim_verified, 0) > 0 AS covered
            FROM region r LEFT JOIN region_kim_stats s ON s.code = r.code
            WHERE r.level = 'desa' AND r.code LIKE :prefix AND r.retired_on IS NULL
        )
        SELECT u.code, u.name, c.code AS near_code, c.name AS near_name,
               round((ST_Distance(u.centroid::geography, c.centroid::geography) / 1000)::numeric, 1)::float8 AS km
        FROM desa u
        CROSS JOIN LATERAL (
            SELECT code, name, centroid FROM desa c WHERE c.covered AND c.centroid IS NOT NULL
            ORDER BY c.centroid <-> u.centroid LIMIT 1
        ) c
        WHERE NOT u.covered AND u.centroid IS NOT NULL
        ORDER BY km, u.code"""), {"prefix": kecamatan + ".%"}).mappings().all()
    return [dict(row) for row in rows]


def kims_by_desa(kecamatan: str) -> dict[str, list[dict]]:
    """Verified KIMs of each desa of a kecamatan, for its desa table."""
    rows = db.session.execute(text("""
        SELECT desa_code, id, name, coalesce(number, slug) AS ref, last_activity_on FROM kim
        WHERE status = :verified_status AND desa_code LIKE :prefix ORDER BY desa_code, name
    """), {"prefix": kecamatan + ".%", "verified_status": KimStatus.VERIFIED}).mappings().all()
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["desa_code"], []).append(dict(row))
    return grouped
