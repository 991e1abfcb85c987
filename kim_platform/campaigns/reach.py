"""Reading a campaign's reach by region: the dashboard figures, the daily line, the gaps, the map's
reached desa and the national comparison.

Reached figures come from the trigger-kept totals (campaigns/reach_models.py), targeted figures
from the verified-KIM counts per region (region_kim_stats) and the desa count of each region, or,
for a campaign limited to some bidang, from one count over the KIMs with the same targeting rule
as campaigns.queries (kim_targeted_sql). Every figure is exact; no query grows with the number of
disseminations (tests/test_campaign_reach.py compares them with a direct count).

Counting rules (README "Campaign reach"): a dissemination counts as campaigns.queries.reach()
counts it (a published, complete report of a verified or inactive KIM); reports, people and
reached desa are placed by the report's desa, reached KIMs by the KIM's own desa; targeted KIMs
are the verified KIMs of the target regions (and bidang), those told when it is published.
"""
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from kim_platform import permissions
from kim_platform.campaigns.models import Campaign, CampaignShareLink
from kim_platform.campaigns.queries import keyset, kim_targeted_sql, share_visits_by_region
from kim_platform.core import clock
from kim_platform.core.domain import DomainError
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, KimStatus
from kim_platform.regions.codes import LEVEL_WIDTH, LEVELS, is_valid_code, level_of

# English names of the levels are accepted too (the API is read by both).
LEVEL_ALIASES = {"province": "provinsi", "provinsi": "provinsi", "kabupaten": "kabupaten", "regency": "kabupaten",
                 "kecamatan": "kecamatan", "district": "kecamatan", "desa": "desa", "village": "desa"}
GAPS_SHOWN = 100
MAP_POINTS = 1500
CODES = ARRAY(String)


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
        return {**asdict(self), "kims_pct": self.kims_pct, "desa_pct": self.desa_pct}


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


def _targets(campaign: Campaign) -> list[str]:
    return list(campaign.target_codes)


def _intersects(code: str, targets: list[str]) -> bool:
    return any(permissions.code_within(code, t) or permissions.code_within(t, code) for t in targets)


def resolve_view(campaign: Campaign, level: str | None = None, parent: str | None = None) -> View:
    """The level and parent asked for, checked: 400 for a bad level or parent code, a level not
    below the parent or a list too long to show; 404 for a parent outside the target. Without
    either: the children of a single target, else the targets' own level."""
    targets = _targets(campaign)
    parent = (parent or "").strip() or None
    if parent is not None:
        if not is_valid_code(parent):
            raise ReachError(_l("Not a valid region code."), fields={"parent": _l("Not a valid region code.")},
                             status=400)
        if not _intersects(parent, targets) or not _region_exists(parent):
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


def _region_exists(code: str) -> bool:
    return db.session.execute(text("SELECT 1 FROM region WHERE code = :code"), {"code": code}).first() is not None


# The regions of some levels that lie in the target, wholly (inside a target: one index range scan
# per target) or in part (an ancestor of a target). A test of every region against every target
# (LIKE per pair) cost 50 ms for the kecamatan of a national campaign.
_IN_TARGET = """
    t AS (  -- the targets narrowed to the view's parent: a target above it is scanned from the parent
        SELECT CASE WHEN :parent LIKE u.code || '.%' THEN CAST(:parent AS varchar) ELSE u.code END AS code
        FROM unnest(:targets) AS u(code)
        WHERE CAST(:parent AS varchar) IS NULL OR u.code = :parent OR :parent LIKE u.code || '.%'
           OR u.code LIKE :parent || '.%'),
    hit AS (
        SELECT r.code FROM t JOIN region r ON r.level = ANY(:levels) AND r.code = t.code
        UNION  -- apart from the equality: an OR of both keeps the index from bounding the range
        SELECT r.code FROM t JOIN region r ON r.level = ANY(:levels)
            AND r.code > t.code || '.' AND r.code < t.code || '/'
        UNION
        SELECT r.code FROM t JOIN region r ON r.level = ANY(:levels)
            AND r.code IN (left(t.code, 2), left(t.code, 5), left(t.code, 8)) AND length(r.code) < length(t.code)
    )
"""

_ROWS = text(f"""
    WITH {_IN_TARGET}
    SELECT r.code, r.name, r.level, r.desa_total, coalesce(s.kim_verified, 0) AS kim_verified,
           coalesce(x.reports, 0) AS reports, coalesce(x.people, 0) AS people, coalesce(x.kims, 0) AS kims,
           coalesce(x.desa, 0) AS desa
    FROM hit JOIN region r ON r.code = hit.code
    LEFT JOIN region_kim_stats s ON s.code = r.code
    LEFT JOIN campaign_reach_region x ON x.campaign_id = :campaign AND x.code = r.code
    WHERE r.level = ANY(:levels) AND r.code LIKE :pattern  -- the level again: the planner then starts from hit
    ORDER BY r.code
""").bindparams(bindparam("targets", type_=CODES), bindparam("levels", type_=CODES))

_TARGET_FIGURES = text("""
    SELECT r.code, r.desa_total, coalesce(s.kim_verified, 0)
    FROM region r LEFT JOIN region_kim_stats s ON s.code = r.code WHERE r.code = ANY(:targets)
""").bindparams(bindparam("targets", type_=CODES))


def _bidang_kim_counts(campaign: Campaign, width: int, parent: str | None) -> dict[str, int]:
    """Verified KIMs the campaign targets (region and bidang, kim_targeted_sql) per prefix."""
    prefix = func.left(Kim.desa_code, width)
    stmt = (select(prefix, func.count()).select_from(Kim).join(Campaign, Campaign.id == campaign.id)
            .where(Kim.status == KimStatus.VERIFIED, kim_targeted_sql(Kim)).group_by(prefix))
    if parent:
        stmt = stmt.where(Kim.desa_code.like(parent + ".%"))
    return dict(db.session.execute(stmt).all())


def rows(campaign: Campaign, view: View) -> list[ReachRow]:
    """One row per region of `view.level` below `view.parent` that lies in the target (wholly or
    in part), ordered by code."""
    targets = _targets(campaign)
    found = db.session.execute(_ROWS, {"campaign": campaign.id, "levels": [view.level], "targets": targets,
                                       "pattern": f"{view.parent}.%" if view.parent else "%",
                                       "parent": view.parent}).all()
    inner = {code: (desa, kims) for code, desa, kims in
             db.session.execute(_TARGET_FIGURES, {"targets": targets}).all()}
    bidang = (_bidang_kim_counts(campaign, LEVEL_WIDTH[view.level], view.parent)
              if campaign.target_bidang else None)
    visits = share_visits_by_region(campaign.id, view.level, view.parent)
    visitors = share_visits_by_region(campaign.id, view.level, view.parent, unique=True)
    target_set = set(targets)
    result = []
    for r in found:
        # Inside a target: the code or one of its prefixes is one (at most four lookups, not one per target).
        if any(r.code[:width] in target_set for width in LEVEL_WIDTH.values() if width <= len(r.code)):
            desa_targeted, kims_targeted = r.desa_total, r.kim_verified
        else:  # the region holds some targets: theirs only
            held = [figures for t, figures in inner.items() if permissions.code_within(t, r.code)]
            desa_targeted, kims_targeted = sum(d for d, _ in held), sum(k for _, k in held)
        if bidang is not None:
            kims_targeted = bidang.get(r.code, 0)
        result.append(ReachRow(code=r.code, name=r.name, level=r.level, kims_targeted=kims_targeted,
                               kims_reached=r.kims, desa_targeted=desa_targeted, desa_reached=r.desa,
                               people=int(r.people), disseminations=r.reports,
                               share_visits=visits.get(r.code, 0), share_visitors=visitors.get(r.code, 0)))
    return result


def totals(campaign: Campaign) -> Totals:
    """The headline: what the campaign reached (the same figures as queries.reach) and its target."""
    reached = db.session.execute(text(
        "SELECT coalesce(sum(kims), 0), coalesce(sum(desa), 0), coalesce(sum(people), 0), coalesce(sum(reports), 0) "
        "FROM campaign_reach_region WHERE campaign_id = :campaign AND depth = 1"), {"campaign": campaign.id}).one()
    targets = _targets(campaign)
    figures = db.session.execute(_TARGET_FIGURES, {"targets": targets}).all()
    kims_targeted = sum(k for _, _, k in figures)
    if campaign.target_bidang:
        kims_targeted = sum(_bidang_kim_counts(campaign, 0, None).values())
    return Totals(kims_targeted=kims_targeted, kims_reached=int(reached[0]),
                  desa_targeted=sum(d for _, d, _ in figures),
                  desa_reached=int(reached[1]), people=int(reached[2]), disseminations=int(reached[3]),
                  **_share_figures([campaign.id]).get(campaign.id, {}))


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


_GAPS = text(f"""
    WITH {_IN_TARGET}
    SELECT code, name, level, total FROM (
        SELECT r.code, r.name, r.level, count(*) OVER (PARTITION BY r.level) AS total,
               row_number() OVER (PARTITION BY r.level ORDER BY r.code) AS n
        FROM hit JOIN region r ON r.code = hit.code
        LEFT JOIN campaign_reach_region x ON x.campaign_id = :campaign AND x.code = r.code
        WHERE r.level = ANY(:levels) AND r.code LIKE :pattern AND coalesce(x.reports, 0) = 0
    ) gaps WHERE n <= :shown ORDER BY level, code
""").bindparams(bindparam("targets", type_=CODES), bindparam("levels", type_=CODES))


def gaps(campaign: Campaign, parent: str | None = None, shown: int = GAPS_SHOWN) -> Gaps:
    """Target kabupaten and kecamatan (below `parent`) where no counted dissemination was logged
    yet: the first `shown` of each by code, and how many there are."""
    result = Gaps()
    for code, name, level, total in db.session.execute(_GAPS, {
            "campaign": campaign.id, "targets": _targets(campaign), "shown": shown,
            "levels": ["kabupaten", "kecamatan"],
            "pattern": f"{parent}.%" if parent else "%", "parent": parent}).all():
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
    """The headline of many campaigns, in three queries whatever their number."""
    ids = [c.id for c in campaigns]
    if not ids:
        return {}
    id_list = bindparam("ids", type_=ARRAY(db.BigInteger))
    reached = {row[0]: row[1:] for row in db.session.execute(text(
        "SELECT campaign_id, sum(kims), sum(desa), sum(people), sum(reports) FROM campaign_reach_region "
        "WHERE campaign_id = ANY(:ids) AND depth = 1 GROUP BY campaign_id").bindparams(id_list), {"ids": ids}).all()}
    targeted = {row[0]: row[1:] for row in db.session.execute(text(
        "SELECT t.campaign_id, sum(r.desa_total), sum(coalesce(s.kim_verified, 0)) FROM campaign_target t "
        "JOIN region r ON r.code = t.region_code LEFT JOIN region_kim_stats s ON s.code = t.region_code "
        "WHERE t.campaign_id = ANY(:ids) GROUP BY t.campaign_id").bindparams(id_list), {"ids": ids}).all()}
    with_bidang = [c.id for c in campaigns if c.target_bidang]
    by_bidang = {}
    if with_bidang:
        by_bidang = dict(db.session.execute(
            select(Campaign.id, func.count(Kim.id)).select_from(Campaign).join(Kim, kim_targeted_sql(Kim))
            .where(Campaign.id.in_(with_bidang), Kim.status == KimStatus.VERIFIED).group_by(Campaign.id)).all())
    shared = _share_figures(ids)
    result = {}
    for c in campaigns:
        kims, desa, people, reports = reached.get(c.id, (0, 0, 0, 0))
        desa_targeted, kims_targeted = targeted.get(c.id, (0, 0))
        if c.target_bidang:
            kims_targeted = by_bidang.get(c.id, 0)
        result[c.id] = Totals(kims_targeted=int(kims_targeted), kims_reached=int(kims),
                              desa_targeted=int(desa_targeted),
                              desa_reached=int(desa), people=int(people), disseminations=int(reports),
                              **shared.get(c.id, {}))
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
