"""Reads over activity reports: feeds by region (code prefix), KIM, type and date; moderation."""
import re
from dataclasses import dataclass
from datetime import date
from functools import cache

from sqlalchemy import bindparam, false, func, literal_column, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import joinedload

from kim_platform import permissions
from kim_platform.activities.models import Activity, ActivityStatus, ActivityType, PendingPhoto, Photo
from kim_platform.core.pagination import MAX_PAGE, MAX_PER_PAGE, Page, paginate
from kim_platform.extensions import db
from kim_platform.kims.models import Kim
from kim_platform.kims.queries import bidang_with_children, within
from kim_platform.regions.models import Region, region_label
from kim_platform.regions.codes import LEVEL_WIDTH, ancestor_codes
from kim_platform.regions.queries import boundary_geojson_column, regions_by_code

NEWEST = (Activity.activity_date.desc(), Activity.id.desc())


def activity_types() -> list[ActivityType]:
    return list(db.session.scalars(select(ActivityType).order_by(ActivityType.sort, ActivityType.slug)))


def activity_type_names() -> dict[str, str]:
    """slug → label in the interface language."""
    from kim_platform.core.i18n import current_locale

    locale = current_locale()
    return {t.slug: t.label(locale) for t in activity_types()}


def get_activity(activity_id: int, with_kim: bool = False) -> Activity | None:
    """The report; `with_kim` loads its KIM in the same statement (pages that check its visibility,
    which asks for the KIM's status, and show it)."""
    return db.session.get(Activity, activity_id, options=[joinedload(Activity.kim)] if with_kim else None)


# What feeds list unless another status is asked for (drafts and hidden reports stay on their
# KIM's profile and in the moderation queue).
LISTED_STATUS = ActivityStatus.PUBLISHED


def feed_query(viewer=None, status=None, region=None, kim_id=None, type=None, bidang=None, date_from=None,
               date_to=None, bbox=None):
    """Reports `viewer` may see (the one report visibility rule; anonymous: published reports of
    public KIMs, inactive ones included), published ones unless `status` asks for another,
    newest first. Region means where the activity took place."""
    stmt = (select(Activity).join(Kim, Kim.id == Activity.kim_id)
            .where(permissions.activity_visible_sql(viewer), Activity.status == (status or LISTED_STATUS)))
    if region:
        stmt = stmt.where(_within_region(region))
    if kim_id:
        stmt = stmt.where(Activity.kim_id == kim_id)
    if type:
        stmt = stmt.where(Activity.type == type)
    if bidang:
        stmt = stmt.where(Activity.kim_id.in_(select(Kim.id).where(Kim.bidang.overlap(bidang_with_children(bidang)))))
    if date_from:
        stmt = stmt.where(Activity.activity_date >= date_from)
    if date_to:
        stmt = stmt.where(Activity.activity_date <= date_to)
    if bbox:
        minlon, minlat, maxlon, maxlat = bbox
        stmt = stmt.where(Activity.point.intersects(func.ST_MakeEnvelope(minlon, minlat, maxlon, maxlat, 4326)))
    return stmt.order_by(*NEWEST)


def _within_region(code: str):
    """Reports that took place in region `code` or below. A province's or a kabupaten's reads as
    `left(desa_code, n) = code` (the same rows as the prefix match, codes being dotted): the
    feed indexes by prefix (migration a37f0c5e9d21) then give the newest first without a sort."""
    if len(code) in (2, 5):
        return func.left(Activity.desa_code, len(code)) == code
    return within(Activity.desa_code, code)


def feed(viewer=None, page=1, per_page=20, **filters) -> Page:
    return paginate(feed_query(viewer, **filters), page, per_page)


# The API feed counts at most this many reports (a kabupaten has thousands at national scale, the
# country a million): `total` is exact below it, else the cap with `total_capped`.
FEED_TOTAL_CAP = 1000
_CURSOR_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{1,18})$")


def parse_cursor(text: str) -> tuple[date, int] | None:
    """The (activity_date, id) a `next` cursor names ("2026-11-30_123"), None when malformed."""
    match = _CURSOR_RE.match(text or "")
    if not match:
        return None
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        return None
    ident = int(match.group(2))
    return (day, ident) if 0 < ident < 2**63 else None


def make_cursor(activity: Activity) -> str:
    return f"{activity.activity_date.isoformat()}_{activity.id}"


@dataclass
class FeedPage(Page):
    """One page of the API feed: `total` capped at FEED_TOTAL_CAP, `next_cursor` for the page after."""
    total_capped: bool = False
    next_cursor: str | None = None
    facts: dict | None = None


def feed_page(viewer=None, page=1, per_page=20, cursor=None, **filters) -> FeedPage:
    """The feed for the API: keyset pages (`cursor`, from the previous page's `next_cursor`: the
    reports after it in feed order, so a report posted meanwhile never shifts one into the next
    page twice), or `page` by offset without one; a total counted up to FEED_TOTAL_CAP; the
    reports' coordinates and KIM names read with the page (`facts`, as activity_facts gives)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    stmt = feed_query(viewer, **filters)
    counted = db.session.scalar(select(func.count()).select_from(
        stmt.order_by(None).with_only_columns(Activity.id).limit(FEED_TOTAL_CAP + 1).subquery()))
    point = func.coalesce(Activity.point, Region.centroid)
    paged = (stmt.add_columns(func.ST_Y(point), func.ST_X(point), Kim.name, Kim.number, Kim.slug)
             .join(Region, Region.code == Activity.desa_code))
    if cursor is not None:
        paged = paged.where(tuple_(Activity.activity_date, Activity.id) < tuple_(*cursor))
    else:
        paged = paged.offset((page - 1) * per_page)
    rows = db.session.execute(paged.limit(per_page + 1)).all()
    items = [row[0] for row in rows[:per_page]]
    labels = place_labels({a.desa_code for a in items})
    facts = {a.id: ActivityFacts(lat=lat, lon=lon, kim_name=kim_name, kim_ref=number or slug,
                                 place_label=labels.get(a.desa_code, a.desa_code))
             for a, lat, lon, kim_name, number, slug in rows[:per_page]}
    return FeedPage(items=items, page=page, per_page=per_page, total=min(counted or 0, FEED_TOTAL_CAP),
                    total_capped=(counted or 0) > FEED_TOTAL_CAP,
                    next_cursor=make_cursor(items[-1]) if len(rows) > per_page else None, facts=facts)


@dataclass
class FeedJsonPage(FeedPage):
    """`feed_page` with `items` as one JSON array text PostgreSQL wrote (`feed_page_json`);
    `exact`: every row met the caller's condition."""
    exact: bool = True


@cache
def listed_report():
    """The aliases (`a` report, `ak` its KIM, `ar` its desa) of `feed_page_json`'s statement, over
    which its caller writes the item (one set for the process: an item built once serves all)."""
    from sqlalchemy.orm import aliased

    return aliased(Activity, name="a"), aliased(Kim, name="ak"), aliased(Region, name="ar")


def feed_page_json(viewer, item, exact, page=1, per_page=20, cursor=None, **filters) -> FeedJsonPage:
    """`feed_page` in one statement (the same filters, order, keyset or offset, capped total and
    next cursor), its items written by PostgreSQL: `item` is the JSON of one report over
    `listed_report()`, `exact` a condition over them that the item is exact for."""
    from kim_platform.core.sqljson import json_array

    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    stmt = feed_query(viewer, **filters)
    counted = select(func.count()).select_from(
        stmt.order_by(None).with_only_columns(Activity.id).limit(FEED_TOTAL_CAP + 1).subquery())
    # Rows are numbered in feed order before the offset: the page is rows offset+1 .. offset+per_page,
    # one more row (if any) says there is a next page.
    skipped = 0 if cursor is not None else (page - 1) * per_page
    last = skipped + per_page
    paged = stmt.with_only_columns(Activity.id, func.row_number().over(order_by=NEWEST).label("ord"))
    if cursor is not None:
        paged = paged.where(tuple_(Activity.activity_date, Activity.id) < tuple_(*cursor))
    paged = paged.offset(skipped or None).limit(per_page + 1).subquery("p")
    a, ak, ar = listed_report()
    on_page = paged.c.ord <= last
    cursor_text = func.to_char(a.activity_date, "YYYY-MM-DD").concat("_").concat(a.id)
    row = db.session.execute(
        select(counted.scalar_subquery(), json_array(item, paged.c.ord, where=on_page),
               func.coalesce(func.bool_and(exact).filter(on_page), True),
               func.max(cursor_text).filter(paged.c.ord == last), func.max(paged.c.ord) > last)
        .select_from(paged.join(a, a.id == paged.c.id).join(ak, ak.id == a.kim_id)
                     .join(ar, ar.code == a.desa_code))).one()
    counted_rows = row[0] or 0
    return FeedJsonPage(items=row[1], page=page, per_page=per_page, total=min(counted_rows, FEED_TOTAL_CAP),
                        total_capped=counted_rows > FEED_TOTAL_CAP, next_cursor=row[3] if row[4] else None,
                        exact=row[2])


def place_labels(desa_codes) -> dict[str, str]:
    """region_paths' labels for these codes in one query (the regions and their ancestors
    together, no boundaries); a code not in the region table has none."""
    codes = set(desa_codes)
    known = regions_by_code({c for code in codes for c in (code, *ancestor_codes(code))})
    return {code: ", ".join([known[code].label] + [known[c].label for c in ancestor_codes(code) if c in known])
            for code in codes if code in known}


def latest(limit=10, **filters) -> list[Activity]:
    """The public's latest reports (Atom feeds, cached publicly)."""
    return list(db.session.scalars(feed_query(None, **filters).limit(limit)))


def kim_activities(kim: Kim, viewer, limit: int = 10) -> list[Activity]:
    """The KIM's reports for its profile, every status the viewer may see (drafts and hidden
    ones for insiders), by the report visibility rule."""
    stmt = (select(Activity).join(Kim, Kim.id == Activity.kim_id)
            .where(Activity.kim_id == kim.id, permissions.activity_visible_sql(viewer)))
    return list(db.session.scalars(stmt.order_by(*NEWEST).limit(limit)))


def moderation_queue(viewer, page: int = 1, per_page: int = 30) -> Page:
    """Latest reports in the pembina's region, those asking for review first."""
    stmt = select(Activity)
    if not permissions.is_direktorat(viewer):
        scope = permissions.pembina_scope(viewer)
        stmt = stmt.where(within(Activity.desa_code, scope) if scope else false())
    stmt = stmt.where(Activity.status != ActivityStatus.DRAFT).order_by(
        Activity.review_requested_at.desc().nulls_last(), *NEWEST)
    return paginate(stmt, page, per_page)


@dataclass
class ActivityFacts:
    lat: float | None
    lon: float | None
    kim_name: str
    kim_ref: str
    place_label: str


def activity_facts(activities: list[Activity]) -> dict[int, ActivityFacts]:
    """Coordinates (the report's point, else its desa's), KIM names and place labels, in bulk: one
    statement."""
    return _facts(activities)[0]


def report_facts(activity: Activity) -> tuple[ActivityFacts, str | None]:
    """activity_facts of one report and the outline of its kecamatan (the report page's map,
    boundary_geojson), read with its coordinates."""
    facts, outlines = _facts([activity], with_outline=True)
    return facts[activity.id], outlines.get(activity.id)


def _place_path_column():
    """The report's desa and every region above it (by code prefix, as ancestor_codes), nearest
    first, as JSON: place_labels' rows, read with the report's other facts."""
    place = Region.__table__.alias("place")
    prefixes = (select(literal_column("array_to_string(parts[1:n], '.')"))
                .select_from(text("string_to_array(activity.desa_code, '.') AS parts, "
                                  "generate_series(1, cardinality(parts)) AS n")))
    return (select(func.json_agg(aggregate_order_by(
                func.json_build_object("code", place.c.code, "name", place.c.name, "level", place.c.level,
                                       "kind", place.c.kind), func.length(place.c.code).desc())))
            .where(place.c.code.in_(prefixes)).scalar_subquery())


@cache
def _facts_query(with_outline: bool):
    """_facts' statement, built once (building it cost more than running it)."""
    columns = [Activity.id, func.ST_Y(func.coalesce(Activity.point, Region.centroid)),
               func.ST_X(func.coalesce(Activity.point, Region.centroid)), Kim.name, Kim.number, Kim.slug,
               _place_path_column()]
    if with_outline:
        columns.append(boundary_geojson_column(func.left(Activity.desa_code, LEVEL_WIDTH["kecamatan"])))
    return (select(*columns).join(Region, Region.code == Activity.desa_code).join(Kim, Kim.id == Activity.kim_id)
            .where(Activity.id.in_(bindparam("ids", expanding=True))))


def _place_label(desa_code: str, path: list[dict] | None) -> str:
    """place_labels' label from the rows _place_path_column read (the desa's code without its row)."""
    if not path or path[0]["code"] != desa_code:
        return desa_code
    return ", ".join(region_label(r["level"], r["kind"], r["name"]) for r in path)


def _facts(activities, with_outline: bool = False) -> tuple[dict[int, ActivityFacts], dict[int, str | None]]:
    if not activities:
        return {}, {}
    rows = db.session.execute(_facts_query(with_outline), {"ids": [a.id for a in activities]}).all()
    by_id = {a.id: a for a in activities}
    facts, outlines = {}, {}
    for activity_id, lat, lon, kim_name, number, slug, path, *outline in rows:
        activity = by_id[activity_id]
        facts[activity_id] = ActivityFacts(lat=lat, lon=lon, kim_name=kim_name, kim_ref=number or slug,
                                           place_label=_place_label(activity.desa_code, path))
        outlines[activity_id] = outline[0] if outline else None
    return facts, outlines


def processing_photo_count(activity: Activity) -> int:
    """Large photos of the report the job worker has not re-encoded yet; no query without the
    job queue (there are none then)."""
    from kim_platform.core import queue

    if not queue.enabled():
        return 0
    return db.session.scalar(select(func.count()).select_from(PendingPhoto)
                             .where(PendingPhoto.activity_id == activity.id))


def photo_by_key(key: str) -> tuple[Photo, str] | None:
    """The photo stored under `key` (full size or thumbnail) and which of the two it is."""
    photo = db.session.scalar(select(Photo).where(or_(Photo.key == key, Photo.thumb_key == key)))
    if photo is None:
        return None
    return photo, "full" if photo.key == key else "thumb"


def reporting_kims(user) -> list:
    """The KIMs `user` reports for as a member, with their desa's name: one query (the offline
    app's cache). The directorate, who may report for any KIM, gets its own memberships only."""
    from kim_platform.kims.models import Membership

    if not permissions.is_person(user):
        return []
    return list(db.session.execute(
        select(Kim.id, Kim.name, Kim.desa_code, Kim.number, Kim.slug, Kim.status, Region.name.label("desa_name"))
        .join(Membership, Membership.kim_id == Kim.id).join(Region, Region.code == Kim.desa_code)
        .where(Membership.user_id == user.id).order_by(Kim.name, Kim.id)
    ).all())


def author_recent(user, limit: int = 20) -> list[Activity]:
    """The reports `user` wrote, newest received first, those they may still see (photos come in
    one more query, by the relationship's selectin loading)."""
    if not permissions.is_person(user):
        return []
    stmt = (select(Activity).join(Kim, Kim.id == Activity.kim_id)
            .where(Activity.author_id == user.id, permissions.activity_visible_sql(user))
            .order_by(Activity.created_at.desc(), Activity.id.desc()).limit(limit))
    return list(db.session.scalars(stmt))
