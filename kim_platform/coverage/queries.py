"""Coverage: how many desa of a region have a verified KIM, and an active one.

Definitions (shown on /cakupan): a desa/kelurahan is *covered* when at least one verified KIM
is registered in it, and *actively covered* when one of its verified KIMs has a published
report dated within the window (90 days by default). Every roll-up is a prefix match on the
region codes; covered desa and verified KIMs come from the trigger-kept region_kim_stats,
the window figures from the KIM and report tables.
"""
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from sqlalchemy import text

from kim_platform.extensions import db
from kim_platform.regions.codes import LEVEL_DEPTH, LEVELS

WIDTH = {"provinsi": 2, "kabupaten": 5, "kecamatan": 8, "desa": 13}
DEFAULT_WINDOW_DAYS = 90


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
        return {**asdict(self), "coverage_pct": self.coverage_pct, "active_pct": self.active_pct,
                "activities_delta": self.activities_delta}


def child_level(parent: str | None) -> str:
    return "provinsi" if not parent else LEVELS[LEVEL_DEPTH[_level_of(parent)]]


def _level_of(code: str) -> str:
    return LEVELS[code.count(".")]


def coverage_rows(level: str, parent: str | None = None, window_days: int = DEFAULT_WINDOW_DAYS,
                  today: date | None = None) -> list[CoverageRow]:
    """One row per region of `level` under `parent` (all of Indonesia without a parent)."""
    today = today or date.today()
    since = today - timedelta(days=window_days)
    previous_since = since - timedelta(days=window_days)
    width = WIDTH[level]
    params = {"level": level, "width": width, "since": since, "previous_since": previous_since,
              "today": today, "prefix": (parent + ".%") if parent else "%"}
    rows = db.session.execute(text("""
        WITH places AS (
            SELECT code, name FROM region WHERE level = :level AND code LIKE :prefix
        ),
        desa AS (
            SELECT left(code, :width) AS code, count(*) AS n FROM region
            WHERE level = 'desa' AND code LIKE :prefix GROUP BY 1
        ),
        active AS (
            SELECT left(desa_code, :width) AS code, count(DISTINCT desa_code) AS desa_active, count(*) AS kim_active
            FROM kim
            WHERE status = 'verified' AND desa_code LIKE :prefix AND last_activity_on >= :since
              AND last_activity_on <= :today
            GROUP BY 1
        ),
        reports AS (
            SELECT left(a.desa_code, :width) AS code,
                   count(*) FILTER (WHERE a.activity_date >= :since) AS current,
                   count(*) FILTER (WHERE a.activity_date < :since) AS previous
            FROM activity a JOIN kim k ON k.id = a.kim_id
            WHERE a.status = 'published' AND k.status IN ('verified', 'inactive') AND a.desa_code LIKE :prefix
              AND a.activity_date >= :previous_since AND a.activity_date <= :today
            GROUP BY 1
        )
        SELECT p.code, p.name, coalesce(d.n, 0), coalesce(s.desa_covered, 0), coalesce(ac.desa_active, 0),
               coalesce(s.kim_verified, 0), coalesce(ac.kim_active, 0), coalesce(r.current, 0),
               coalesce(r.previous, 0)
        FROM places p
        LEFT JOIN desa d ON d.code = p.code
        LEFT JOIN region_kim_stats s ON s.code = p.code
        LEFT JOIN active ac ON ac.code = p.code
        LEFT JOIN reports r ON r.code = p.code
        ORDER BY p.code
    """), params).all()
    if level == "desa":
        rows = [(c, n, 1, cov, act, kv, ka, aw, ap) for c, n, _, cov, act, kv, ka, aw, ap in rows]
    return [CoverageRow(code, name, level, *numbers) for code, name, *numbers in rows]


def summary(parent: str | None = None, window_days: int = DEFAULT_WINDOW_DAYS, today: date | None = None):
    """The same figures for the parent itself (or the nation)."""
    rows = coverage_rows(child_level(parent), parent, window_days, today)
    total = CoverageRow(parent or "", "", _level_of(parent) if parent else "nasional",
                        *(sum(getattr(r, f) for r in rows) for f in (
                            "desa_total", "desa_covered", "desa_active", "kim_verified", "kim_active",
                            "activities_window", "activities_previous")))
    return total, rows


def gaps(level: str, parent: str | None = None) -> list[dict]:
    """Regions of `level` (kabupaten or kecamatan) under `parent` without any verified KIM."""
    rows = db.session.execute(text("""
        SELECT r.code, r.name, r.parent_code,
               (SELECT count(*) FROM region d WHERE d.level = 'desa' AND d.code LIKE r.code || '.%') AS desa_total
        FROM region r LEFT JOIN region_kim_stats s ON s.code = r.code
        WHERE r.level = :level AND r.code LIKE :prefix AND coalesce(s.kim_verified, 0) = 0
        ORDER BY r.code"""), {"level": level, "prefix": (parent + ".%") if parent else "%"}).mappings().all()
    return [dict(row) for row in rows]


def nearby_uncovered_desa(kecamatan: str) -> list[dict]:
    """Desa without a KIM in a kecamatan that has one: the easiest next step for a pembina.

    For each, the nearest covered desa of the same kecamatan and the distance in km."""
    rows = db.session.execute(text("""
        WITH desa AS (
            SELECT r.code, r.name, r.centroid, coalesce(s.kim_verified, 0) > 0 AS covered
            FROM region r LEFT JOIN region_kim_stats s ON s.code = r.code
            WHERE r.level = 'desa' AND r.code LIKE :prefix
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
