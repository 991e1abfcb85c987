"""Reading a campaign's reach by region: the dashboard figures, the daily line, the gaps, the map's
reached desa and the national comparison.

Every figure is read from trigger-kept totals (campaigns/reach_models.py): what was reached from
campaign_reach_region, the target (KIMs targeted, desa in the target, per region wholly or partly
in it) from campaign_target_total. A table of regions and the gaps are one join of the two, with no
scan of the region or KIM tables, whatever the size of the target or the number of disseminations
(tests/test_campaign_reach.py compares every level with a direct count).

Counting rules (README "Campaign reach"): a dissemination counts as campaigns.queries.reach()
counts it (a published, complete report of a verified or inactive KIM); reports, people and
reached desa are placed by the report's desa, reached KIMs by the KIM's own desa; targeted KIMs
are the verified KIMs of the target regions (and bidang), those told when it is published.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from kim_platform.campaigns.models import Campaign, CampaignShareLink
from kim_platform.campaigns.queries import keyset, share_visits_by_region
from kim_platform.core import clock
from kim_platform.core.domain import DomainError
from kim_platform.extensions import db
from kim_platform.regions.codes import LEVELS, is_valid_code, level_of

# English names of the levels are accepted too (the API is read by both).
LEVEL_ALIASES = {"province": "provinsi", "provinsi": "provinsi", "kabupaten": "kabupaten", "regency": "kabupaten",
                 "kecamatan": "kecamatan", "district": "kecamatan", "desa": "desa", "village": "desa"}
GAPS_SHOWN = 100
MAP_POINTS = 1500
CODES = ARRAY(String)
DEPTH = {level: depth for depth, level in enumerate(LEVELS, start=1)}  # of the totals tables


class ReachError(DomainError):
    """A reach view refused: a bad level or parent (400), a parent outside the target (404)."""


@dataclass
class Totals:
    """What a campaign reached against its target: of all of it, or of one region (ReachRow)."""

    kims_targeted: int
    kims_reached: int
    desa_targeted: int
    desa_reached: int
    people: int
    disseminations: int
    # Visits of the share links (/p/<code>) of the region's KIMs: every counted request, and
    # visitors de-duplicated per day. Placed by the KIM's desa, not by the reports'.
    share_visits: int = 0
    share_visitors: int = 0

    @property
    def kims_pct(self) -> float:
        return round(100 * self.kims_reached / self.kims_targeted, 1) if self.kims_targeted else 0.0

    @property
    def desa_pct(self) -> float:
        return round(100 * self.desa_reached / self.desa_targeted, 1) if self.desa_targeted else 0.0

    def as_dict(self) -> dict:
        # The fields are flat numbers and strings: a copy of __dict__ (in field order) is what
        # dataclasses.asdict gives, without its recursive copy (half of a 700-row answer's time).
        return {**self.__dict__, "kims_pct": self.kims_pct, "desa_pct": self.desa_pct}


@dataclass(kw_only=True)
class ReachRow(Totals):
    code: str
    name: str
    level: str


@dataclass
class Day:
    day: date
    disseminations: int
    people: int


@dataclass
class Gap:
    code: str
    name: str
    level: str


@dataclass
class Gaps:
    kabupaten: list[Gap] = field(default_factory=list)
    kecamatan: list[Gap] = field(default_factory=list)
    kabupaten_total: int = 0
    kecamatan_total: int = 0


@dataclass
class View:
    level: str
    parent: str | None


@dataclass
class Dashboard:
    view: View
    totals: Totals
    rows: list[ReachRow]
    daily: list[Day]
    gaps: Gaps


def resolve_view(campaign: Campaign, level: str | None = None, parent: str | None = None) -> View:
    """The level and parent asked for, checked: 400 for a bad level or parent code, a level not
    below the parent or a list too long to show; 404 for a parent outside the target. Without
    either: the children of a single target, else the targets' own level."""
    targets = campaign.target_codes
    parent = (parent or "").strip() or None
    if parent is not None:
        if not is_valid_code(parent):
            raise ReachError(_l("Not a valid region code."), fields={"parent": _l("Not a valid region code.")},
                             status=400)
        if not _in_target(campaign, parent):
            raise ReachError(_l("This region is not in the campaign's target."), status=404)
    if level in (None, ""):
        if parent is None and len(targets) == 1 and level_of(targets[0]) != "desa":
            parent = targets[0]
        if parent is not None:
            level = LEVELS[min(LEVELS.index(level_of(parent)) + 1, len(LEVELS) - 1)]
        else:
            level = min((level_of(t) for t in targets), key=LEVELS.index, default="provinsi")
    else:
        level = LEVEL_ALIASES.get(str(level).strip().lower())
        if level is None:
            raise ReachError(_l("Choose a level: provinsi, kabupaten, kecamatan or desa."),
                             fields={"level": _l("One of provinsi, kabupaten, kecamatan, desa.")}, status=400)
    if parent is not None and LEVELS.index(level) <= LEVELS.index(level_of(parent)):
        raise ReachError(_l("The level must be below the parent region."),
                         fields={"level": _l("Below the parent region.")}, status=400)
    # A table of every kecamatan or desa of Indonesia is no dashboard: two levels below at most.
    top = LEVELS.index(level_of(parent)) if parent else min((LEVELS.index(level_of(t)) for t in targets), default=0)
    if LEVELS.index(level) - top > (2 if parent else 1):
        raise ReachError(_l("Choose a parent region for this level."),
                         fields={"parent": _l("Give a region of the target a level or two above.")}, status=400)
    return View(level=level, parent=parent)


def _in_target(campaign: Campaign, code: str) -> bool:
    """A current region wholly or partly in the target: it has a row of target totals."""
    return db.session.execute(text(
        "SELECT 1 FROM campaign_target_total WHERE campaign_id = :campaign AND depth = :depth AND code = :code"),
        {"campaign": campaign.id, "depth": DEPTH[level_of(code)], "code": code}).first() is not None


# One row per region of a level in the target: the target totals (campaign_target_total, which
# hold a row for each region wholly or partly in the target) joined with the reach totals.
_ROWS = text("""
    SELECT g.code, r.name, r.level, g.kims AS kims_targeted, g.desa AS desa_targeted,
           coalesce(x.reports, 0) AS reports, coalesce(x.people, 0) AS people, coalesce(x.kims, 0) AS kims,
           coalesce(x.desa, 0) AS desa
    FROM campaign_target_total g
    JOIN region r ON r.code = g.code AND r.level = :level AND r.code LIKE :pattern
    LEFT JOIN campaign_reach_region x  -- the same bounds on each side: each is one index range
        ON x.campaign_id = :campaign AND x.depth = :depth AND x.code LIKE :pattern AND x.code = g.code
    WHERE g.campaign_id = :campaign AND g.depth = :depth AND g.code LIKE :pattern
    ORDER BY g.code
""")


def rows(campaign: Campaign, view: View) -> list[ReachRow]:
    """One row per region of `view.level` below `view.parent` that lies in the target (wholly or
    in part), ordered by code."""
    found = db.session.execute(_ROWS, {"campaign": campaign.id, "depth": DEPTH[view.level], "level": view.level,
                                       "pattern": f"{view.parent}.%" if view.parent else "%"}).all()
    visits = share_visits_by_region(campaign.id, view.level, view.parent)
    visitors = share_visits_by_region(campaign.id, view.level, view.parent, unique=True)
    return [ReachRow(code=r.code, name=r.name, level=r.level, kims_targeted=r.kims_targeted,
                     kims_reached=r.kims, desa_targeted=r.desa_targeted, desa_reached=r.desa,
                     people=int(r.people), disseminations=r.reports,
                     share_visits=visits.get(r.code, 0), share_visitors=visitors.get(r.code, 0))
            for r in found]


def totals(campaign: Campaign) -> Totals:
    """The headline: what the campaign reached (the same figures as queries.reach) and its target."""
    return totals_of([campaign])[campaign.id]


def daily(campaign: Campaign, today: date | None = None) -> list[Day]:
    """Disseminations and people per activity date, every day of the campaign so far (and any
    day outside it that has a report), zeros included."""
    found = {day: (reports, int(people)) for day, reports, people in db.session.execute(text(
        "SELECT day, reports, people FROM campaign_reach_day WHERE campaign_id = :campaign AND reports <> 0 "
        "ORDER BY day"), {"campaign": campaign.id}).all()}
    today = today or clock.today()
    first = min([campaign.start_on, *found])
    last = max([min(campaign.end_on, max(today, campaign.start_on)), *found])
    if (last - first).days > 731:  # a line of two years at most, the latest days
        first = last - timedelta(days=731)
    days = []
    current = first
    while current <= last:
        reports, people = found.get(current, (0, 0))
        days.append(Day(day=current, disseminations=reports, people=people))
        current += timedelta(days=1)
    return days


# The target kabupaten and kecamatan without a counted report: the target totals' rows of depth 2
# and 3 not reached (a partial index holds just those), numbered per level; names of those shown.
_GAPS = text("""
    SELECT code, (SELECT name FROM region r WHERE r.code = open.code) AS name, depth, total FROM (
        SELECT code, depth, count(*) OVER (PARTITION BY depth) AS total,
               row_number() OVER (PARTITION BY depth ORDER BY code) AS n
        FROM campaign_target_total
        WHERE campaign_id = :campaign AND depth IN (2, 3) AND NOT reached AND code LIKE :pattern
    ) open
    WHERE n <= :shown ORDER BY depth, code
""")


def gaps(campaign: Campaign, parent: str | None = None, shown: int = GAPS_SHOWN) -> Gaps:
    """Target kabupaten and kecamatan (below `parent`) where no counted dissemination was logged
    yet: the first `shown` of each by code, and how many there are."""
    result = Gaps()
    for code, name, depth, total in db.session.execute(_GAPS, {
            "campaign": campaign.id, "shown": shown, "pattern": f"{parent}.%" if parent else "%"}).all():
        level = LEVELS[depth - 1]
        getattr(result, level).append(Gap(code=code, name=name, level=level))
        setattr(result, f"{level}_total", total)
    return result


def dashboard(campaign: Campaign, level: str | None = None, parent: str | None = None) -> Dashboard:
    """Everything the dashboard and the API show, for one level below one parent."""
    view = resolve_view(campaign, level, parent)
    return Dashboard(view=view, totals=totals(campaign), rows=rows(campaign, view), daily=daily(campaign),
                     gaps=gaps(campaign, view.parent))


def reached_desa_points(campaign: Campaign, parent: str | None, limit: int = MAP_POINTS) -> list[tuple]:
    """(lat, lon, name, disseminations, people) of reached desa below `parent` (in the whole
    campaign without one), at most `limit` + 1 so the caller knows there are more."""
    return [tuple(row) for row in db.session.execute(text("""
        SELECT ST_Y(r.centroid), ST_X(r.centroid), r.name, x.reports, x.people
        FROM campaign_reach_region x JOIN region r ON r.code = x.code
        WHERE x.campaign_id = :campaign AND x.depth = 4 AND x.desa > 0 AND x.code LIKE :pattern
          AND r.centroid IS NOT NULL
        ORDER BY x.code LIMIT :limit
    """), {"campaign": campaign.id, "pattern": f"{parent}.%" if parent else "%", "limit": limit + 1}).all()]


def region_points(codes) -> dict[str, tuple[float, float]]:
    """Centroids (lat, lon) of the given regions."""
    codes = list(codes)
    if not codes:
        return {}
    return {code: (lat, lon) for code, lat, lon in db.session.execute(text(
        "SELECT code, ST_Y(centroid), ST_X(centroid) FROM region WHERE code = ANY(:codes) AND centroid IS NOT NULL"
    ).bindparams(bindparam("codes", type_=CODES)), {"codes": codes}).all()}


# --- the national view -----------------------------------------------------------------------

@dataclass
class CampaignReach:
    campaign: Campaign
    totals: Totals


def totals_of(campaigns: list[Campaign]) -> dict[int, Totals]:
    """The headline of many campaigns, in two queries whatever their number: reached and targeted
    figures summed over the provinces of both totals tables (no national row), and share visits."""
    ids = [c.id for c in campaigns]
    if not ids:
        return {}
    figures = {row[0]: row[1:] for row in db.session.execute(text("""
        SELECT c.id, x.kims, x.desa, x.people, x.reports, g.kims, g.desa
        FROM unnest(:ids) AS c(id)
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(kims), 0) AS kims, coalesce(sum(desa), 0) AS desa,
                   coalesce(sum(people), 0) AS people, coalesce(sum(reports), 0) AS reports
            FROM campaign_reach_region WHERE campaign_id = c.id AND depth = 1) x
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(kims), 0) AS kims, coalesce(sum(desa), 0) AS desa
            FROM campaign_target_total WHERE campaign_id = c.id AND depth = 1) g
    """).bindparams(bindparam("ids", type_=ARRAY(db.BigInteger))), {"ids": ids}).all()}
    shared = _share_figures(ids)
    result = {}
    for c in campaigns:
        kims, desa, people, reports, kims_targeted, desa_targeted = (int(v) for v in figures[c.id])
        result[c.id] = Totals(kims_targeted=kims_targeted, kims_reached=kims, desa_targeted=desa_targeted,
                              desa_reached=desa, people=people, disseminations=reports, **shared.get(c.id, {}))
    return result


def _share_figures(campaign_ids: list[int]) -> dict[int, dict]:
    """Share-link visits and day-de-duplicated visitors per campaign, in one statement."""
    found = db.session.execute(
        select(CampaignShareLink.campaign_id, func.sum(CampaignShareLink.visits), func.sum(CampaignShareLink.visitors))
        .where(CampaignShareLink.campaign_id.in_(campaign_ids)).group_by(CampaignShareLink.campaign_id)).all()
    return {cid: {"share_visits": int(v), "share_visitors": int(u)} for cid, v, u in found}


def national_page(viewer, cursor: int | None = None, per_page: int = 20, **filters):
    """Campaigns the viewer may see, newest first (keyset), each with its reach: no per-row query."""
    from kim_platform.campaigns.queries import campaign_list_query

    page = keyset(campaign_list_query(viewer, **filters), Campaign.id, cursor, per_page)
    figures = totals_of(page.items)
    return page, [CampaignReach(campaign=c, totals=figures[c.id]) for c in page.items]
