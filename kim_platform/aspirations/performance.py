"""Oversight figures for pembina and the directorate (issue 18): time to the first answer per
region, and the same topic raised again and again in one kecamatan (or desa).

Each figure is one grouped statement on the desa code's prefix, and counts only the items whose
handler scope lies inside the viewer's scope (`permissions.aspiration_overseen_sql`), so no number
includes an item the viewer could not open. Times are elapsed hours (created → first answer), as on
the public figures: a working-day median would need the holiday calendar inside SQL.
"""
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, extract, func, literal, literal_column, or_, select
from sqlalchemy.orm import aliased

from kim_platform import permissions
from kim_platform.aspirations.models import CLOSED_STATES, DUPLIKAT, HANDLER_STATES, Aspiration
from kim_platform.core.clock import utcnow
from kim_platform.extensions import db
from kim_platform.regions.codes import LEVEL_WIDTH, LEVELS, descendant_pattern, level_of
from kim_platform.regions.models import Region

WINDOWS = (90, 365)
DEFAULT_WINDOW = 90
REPEAT_MIN_ITEMS = 3  # the default; KIM_ASPIRATION_REPEAT_MIN_ITEMS or ?min= changes it
REPEAT_LEVELS = ("kecamatan", "desa")
REPEAT_LIMIT = 500


def row_level(region: str | None) -> str | None:
    """The level of the rows under `region` (None: Indonesia → provinces; a desa has none)."""
    if region is None:
        return "provinsi"
    level = level_of(region)
    return LEVELS[LEVELS.index(level) + 1] if level != "desa" else None


def _in_region(region: str | None):
    if not region:
        return literal(True)
    return or_(Aspiration.desa_code == region, Aspiration.desa_code.like(descendant_pattern(region)))


def _prefix(width: int):
    """The desa code's first `width` characters, the width inlined: GROUP BY, ROLLUP and GROUPING
    must see the very same expression as the select list, not two bound parameters."""
    return func.left(Aspiration.desa_code, literal_column(str(int(width))))


@dataclass
class PerformanceRow:
    code: str | None  # None: the total
    name: str
    level: str | None
    received: int
    answered: int
    median_hours: float | None
    answered_in_time: int
    overdue: int
    escalated: int
    escalated_national: int
    lat: float | None = None
    lon: float | None = None

    @property
    def in_time_share(self) -> float | None:
        return round(self.answered_in_time / self.answered, 3) if self.answered else None

    @property
    def in_time_pct(self) -> float | None:
        return round(self.answered_in_time * 100 / self.answered, 1) if self.answered else None

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("lat"), data.pop("lon")
        data["in_time_share"] = self.in_time_share
        return data


@dataclass
class Performance:
    region: str | None
    level: str
    days: int
    total: PerformanceRow
    rows: list[PerformanceRow]


def performance(viewer, region: str | None = None, days: int = DEFAULT_WINDOW, now: datetime | None = None
                ) -> Performance:
    """Per child region of `region` (provinces for Indonesia): items received in the last `days`,
    answered, the median hours to the first answer, answered within the deadline; and, whenever
    they came in, the items overdue now and escalated now. Every child region appears, with zeros
    when nothing came from it; the total comes from the same statement (ROLLUP).

    `region` must be a province, kabupaten/kota or kecamatan; the caller checks that the viewer
    may look at it (`permissions.aspiration_oversight_region_allowed`)."""
    now = now or utcnow()
    level = row_level(region)
    if level is None:
        raise ValueError("no rows below a desa")
    since = now - timedelta(days=days)
    in_window = Aspiration.created_at >= since
    waiting = Aspiration.state.in_(HANDLER_STATES)
    overdue = waiting & (Aspiration.due_at < now)
    escalated = waiting & (Aspiration.escalation_level > 0)
    hours = extract("epoch", Aspiration.answered_at - Aspiration.created_at) / 3600
    key = _prefix(LEVEL_WIDTH[level])
    figures = (
        select(key.label("code"),
               func.count().filter(in_window).label("received"),
               func.count(Aspiration.answered_at).filter(in_window).label("answered"),
               func.percentile_cont(0.5).within_group(case((in_window, hours))).label("median_hours"),
               func.count().filter(in_window & Aspiration.answered_in_time.is_(True)).label("in_time"),
               func.count().filter(overdue).label("overdue"),
               func.count().filter(escalated).label("escalated"),
               func.count().filter(escalated & (Aspiration.escalation_level == 2)).label("national"),
               func.grouping(key).label("is_total"))
        .where(permissions.aspiration_overseen_sql(viewer, Aspiration), _in_region(region),
               or_(in_window, overdue, escalated))
        .group_by(func.rollup(key))
    ).subquery()
    children = (select(Region.code, Region.name, func.ST_Y(Region.centroid).label("lat"),
                       func.ST_X(Region.centroid).label("lon"))
                .where(Region.retired_on.is_(None),
                       Region.parent_code == region if region else Region.level == "provinsi")).subquery()
    # Full join: every child region (zeros too), and items whose code a Kepmendagri has retired.
    named = aliased(Region)
    stmt = (select(func.coalesce(children.c.code, figures.c.code), func.coalesce(children.c.name, named.name),
                   children.c.lat, children.c.lon, figures.c.received, figures.c.answered, figures.c.median_hours,
                   figures.c.in_time, figures.c.overdue, figures.c.escalated, figures.c.national,
                   figures.c.is_total)
            .select_from(children)
            .join(figures, and_(children.c.code == figures.c.code, figures.c.is_total == 0), full=True)
            .outerjoin(named, named.code == figures.c.code)
            .order_by(func.coalesce(children.c.code, figures.c.code)))
    rows, total = [], None
    for code, name, lat, lon, received, answered, median, in_time, late, up, national, is_total in db.session.execute(
            stmt):
        row = PerformanceRow(code=code, name=name or code or "", level=level, received=received or 0,
                             answered=answered or 0,
                             median_hours=round(median, 1) if median is not None else None,
                             answered_in_time=in_time or 0, overdue=late or 0, escalated=up or 0,
                             escalated_national=national or 0, lat=lat, lon=lon)
        if is_total == 1:
            row.code, row.name, row.level = None, "", None
            total = row
        else:
            rows.append(row)
    if total is None:  # no item at all: ROLLUP has no group to total
        total = PerformanceRow(code=None, name="", level=None, received=0, answered=0, median_hours=None,
                               answered_in_time=0, overdue=0, escalated=0, escalated_national=0)
    return Performance(region=region, level=level, days=days, total=total, rows=rows)


@dataclass
class RepeatedTopic:
    code: str  # the kecamatan or desa
    name: str
    kabupaten: str
    kabupaten_name: str
    topic: str
    items: int
    residents: int
    first_at: datetime
    last_at: datetime
    still_open: int

    def as_dict(self) -> dict:
        return asdict(self)


def repeated_topics(viewer, region: str | None = None, days: int = DEFAULT_WINDOW, min_items: int = REPEAT_MIN_ITEMS,
                    level: str = "kecamatan", now: datetime | None = None) -> list[RepeatedTopic]:
    """The same topic raised at least `min_items` times in one kecamatan (or desa) within the last
    `days` days, most repeated first: items, residents (a duplicate's are already counted on its
    original, so they are not added twice), first and last date, how many are still open."""
    now = now or utcnow()
    key = _prefix(LEVEL_WIDTH[level]).label("code")
    grouped = (
        select(key, Aspiration.topic, func.count().label("items"),
               func.coalesce(func.sum(Aspiration.residents_count).filter(Aspiration.state != DUPLIKAT), 0)
               .label("residents"),
               func.min(Aspiration.created_at).label("first_at"), func.max(Aspiration.created_at).label("last_at"),
               func.count().filter(Aspiration.state.not_in(CLOSED_STATES)).label("still_open"))
        .where(permissions.aspiration_overseen_sql(viewer, Aspiration), _in_region(region),
               Aspiration.created_at >= now - timedelta(days=days))
        .group_by(key, Aspiration.topic)
        .having(func.count() >= min_items)
    ).subquery()
    place, kabupaten = aliased(Region), aliased(Region)
    stmt = (select(grouped, place.name, kabupaten.code, kabupaten.name)
            .outerjoin(place, place.code == grouped.c.code)
            .outerjoin(kabupaten, kabupaten.code == func.left(grouped.c.code, LEVEL_WIDTH["kabupaten"]))
            .order_by(grouped.c["items"].desc(), grouped.c.last_at.desc(), grouped.c.code, grouped.c.topic)
            .limit(REPEAT_LIMIT))
    return [RepeatedTopic(code=code, name=name or code, kabupaten=kab_code or code[:5], kabupaten_name=kab_name or "",
                          topic=topic, items=items, residents=residents, first_at=first_at, last_at=last_at,
                          still_open=still_open)
            for code, topic, items, residents, first_at, last_at, still_open, name, kab_code, kab_name
            in db.session.execute(stmt)]
