"""Reads over KIMs: lists with filters, the verification queue, coordinates and paths in bulk."""
import re
from dataclasses import dataclass
from functools import cache

from sqlalchemy import and_, false, func, inspect, or_, select, text, true
from sqlalchemy.orm import selectinload, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from kim_platform import permissions
from kim_platform.core.clock import utcnow
from kim_platform.core.pagination import Page, paginate
from kim_platform.core.sqlutil import escape_like
from kim_platform.extensions import db
from kim_platform.kims.models import STATUSES, Bidang, InvitationStatus, Kim, KimInvitation, KimStatus, Membership
from kim_platform.regions.codes import descendant_pattern, kecamatan_of
from kim_platform.regions.models import Region
from kim_platform.regions.queries import boundary_geojson_sql, regions_by_code

SORTS = {
    "name": (Kim.name, Kim.id),
    "newest": (Kim.created_at.desc(), Kim.id.desc()),
    "number": (Kim.number, Kim.id),
}


def bidang_list() -> list[Bidang]:
    return list(db.session.scalars(select(Bidang).order_by(Bidang.sort, Bidang.slug)))


def bidang_with_children(slug: str) -> list[str]:
    """A top-level field also matches its sub-fields ("literasi" → media, edukasi, …)."""
    children = db.session.scalars(select(Bidang.slug).where(Bidang.parent_slug == slug)).all()
    return [slug, *children]


def bidang_family(slug: str) -> list[str] | None:
    """`bidang_with_children` in one query, or None when the taxonomy has no such bidang."""
    found = db.session.scalars(
        select(Bidang.slug).where(or_(Bidang.slug == slug, Bidang.parent_slug == slug))
        .order_by(Bidang.slug != slug, Bidang.slug)).all()
    return found if found and found[0] == slug else None


def bidang_choices():
    """(slug, label) for filter selects: sub-fields labelled "Field: sub-field"."""
    from wtforms import SelectChoice

    from kim_platform.core.i18n import current_locale

    locale = current_locale()
    items = bidang_list()
    names = {b.slug: b.label(locale) for b in items}
    return [SelectChoice(b.slug, names[b.slug] if not b.parent_slug else f"{names[b.parent_slug]}: {names[b.slug]}")
            for b in items]


def within(column, code: str):
    return or_(column == code, column.like(descendant_pattern(code)))


# Visible but left out of lists unless asked for by `status` (the directory, the API list):
# an inactive KIM keeps its public profile and is drawn grey on the map.
DEFAULT_HIDDEN_STATUSES = (KimStatus.INACTIVE,)


def visibility_filter(viewer):
    """Which KIMs a viewer may see: the SQL form of the one KIM visibility rule."""
    return permissions.kim_visible_sql(viewer)


def status_filter(status: str | None, include_inactive: bool = False):
    """One status when asked for; else every status but the ones hidden by default (unless
    `include_inactive`, as the map asks for the grey points it draws)."""
    if status:
        return Kim.status == status
    return true() if include_inactive else Kim.status.not_in(DEFAULT_HIDDEN_STATUSES)


def status_choices(viewer) -> tuple[str, ...]:
    """The statuses a list or map filter offers: the public ones (verified, inactive) to
    everyone, every status to those with a verification queue."""
    if permissions.can(viewer, "kim.queue"):
        return STATUSES
    return permissions.PUBLIC_KIM_STATUSES


def kim_list_query(viewer, region=None, bidang=None, status=None, q=None, bbox=None, sort="name",
                   include_inactive=False, health=None):
    """The KIMs `viewer` may see (the one KIM visibility rule), filtered; inactive KIMs only
    when asked for (`status="inactive"` or `include_inactive`). `health` is judged by the domain
    that computes it (the slot `kim_list.filters`)."""
    from kim_platform.kims.slots import LIST_FILTERS

    stmt = select(Kim).where(visibility_filter(viewer), status_filter(status, include_inactive))
    for condition in LIST_FILTERS.collect(filters={"health": health}):
        stmt = stmt.where(condition)
    if region:
        stmt = stmt.where(within(Kim.desa_code, region))
    if bidang:
        stmt = stmt.where(Kim.bidang.overlap(bidang_with_children(bidang)))
    if q and q.strip():
        term = q.strip()
        stmt = stmt.where(or_(Kim.name.ilike(f"%{escape_like(term)}%"), Kim.number == term.upper()))
    if bbox:
        minlon, minlat, maxlon, maxlat = bbox
        stmt = stmt.where(Kim.point.intersects(func.ST_MakeEnvelope(minlon, minlat, maxlon, maxlat, 4326)))
    return stmt.order_by(*SORTS.get(sort, SORTS["name"]))


def list_kims(viewer, page=1, per_page=50, with_facts=False, **filters) -> Page:
    """A page of the KIM list; `with_facts`: a KimPage whose `facts` (kim_facts) were read with
    the page, so the API list costs a count, the page and the regions of its paths."""
    if not with_facts:
        return paginate(kim_list_query(viewer, **filters), page, per_page)
    result = paginate(kim_list_query(viewer, **filters).add_columns(*located_columns()), page, per_page,
                      scalars=False)
    kims = [row[0] for row in result.items]
    located = {row[0].id: tuple(row[1:]) for row in result.items}
    return KimPage(items=kims, page=result.page, per_page=result.per_page, total=result.total,
                   facts=kim_facts(kims, located))


@dataclass
class KimJsonPage(Page):
    """A page of the KIM list whose `items` is one JSON array text PostgreSQL wrote
    (`list_kims_json`); `exact`: every row passed the caller's check."""
    exact: bool = True


@cache
def listed_kim():
    """The alias `k` of the KIM in `list_kims_json`'s statement, over which its caller writes the
    item (one alias for the process: an item expression built over it once serves every request)."""
    from sqlalchemy.orm import aliased

    return aliased(Kim, name="k")


def list_kims_json(viewer, item, exact, page=1, per_page=50, sort="name", **filters) -> KimJsonPage:
    """`list_kims`' page (the same filters, order, offset and total) in one statement, its items
    written by PostgreSQL: `item` is the JSON of one KIM over `listed_kim()`, `exact` a condition
    over it that the item is exact for (the page's `exact` says whether every row met it)."""
    from kim_platform.core.pagination import MAX_PAGE, MAX_PER_PAGE
    from kim_platform.core.sqljson import json_array

    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    filtered = kim_list_query(viewer, sort=sort, **filters)
    total = select(func.count()).select_from(filtered.order_by(None).with_only_columns(Kim.id).subquery())
    ordinal = func.row_number().over(order_by=SORTS.get(sort, SORTS["name"])).label("ord")
    paged = filtered.with_only_columns(Kim.id, ordinal).limit(per_page).offset((page - 1) * per_page).subquery("p")
    k = listed_kim()
    row = db.session.execute(
        select(total.scalar_subquery(), json_array(item, paged.c.ord), func.coalesce(func.bool_and(exact), True))
        .select_from(paged.join(k, k.id == paged.c.id))).one()
    return KimJsonPage(items=row[1], page=page, per_page=per_page, total=row[0] or 0, exact=row[2])


def get_kim(kim_id: int) -> Kim | None:
    return db.session.get(Kim, kim_id)


def get_kim_with_memberships(kim_id: int) -> Kim | None:
    """The KIM and its memberships (without their users) in one statement: what a write by one
    of its members reads first (permissions.kim_role looks the writer up in them)."""
    return db.session.scalars(select(Kim).where(Kim.id == kim_id).options(
        joinedload(Kim.memberships).lazyload(Membership.user))).unique().first()


# The region path of KIM `k` (desa up to provinsi) as a JSON array; `kind` too when asked.
def _region_path_sql(with_kind: bool) -> str:
    kind = ", 'kind', r.kind" if with_kind else ""
    return f"""(SELECT json_agg(json_build_object('code', r.code, 'name', r.name, 'level', r.level{kind})
                                ORDER BY length(r.code) DESC)
                  FROM region r
                 WHERE r.code IN (SELECT array_to_string(parts[1:n], '.')
                                    FROM string_to_array(k.desa_code, '.') AS parts,
                                         generate_series(1, cardinality(parts)) AS n))"""


# Everything the API record of one KIM shows but its members' positions, in one statement: the
# profile's columns, the point, the member count and the region path (desa up to provinsi).
_KIM_RECORD = text(f"""
    SELECT k.id, k.number, k.name, k.slug, k.status, k.bidang, k.desa_code, k.description, k.address,
           k.founded_on, k.sk_number, k.sk_issuer, k.sk_date, k.sk_valid_until, k.rejection_reason,
           k.updated_at, k.data_confirmed_at, k.whatsapp, k.email, k.socials, k.logo_key, k.verified_at,
           k.last_activity_on, ST_Y(k.point) AS lat, ST_X(k.point) AS lon,
           (SELECT count(*) FROM kim_membership m WHERE m.kim_id = k.id) AS member_count,
           {_region_path_sql(False)} AS region_path
      FROM kim k WHERE k.id = :id
""")


@cache
def _kim_profile_facts():
    """kim_facts' columns for one KIM and the outline of its kecamatan (the profile's map), as one
    statement; built at first use (the outline's SQL comes from regions.queries)."""
    return text(f"""
    SELECT ST_Y(k.point) AS lat, ST_X(k.point) AS lon,
           (SELECT count(*) FROM kim_membership m WHERE m.kim_id = k.id) AS member_count,
           {_region_path_sql(True)} AS region_path,
           ({boundary_geojson_sql(":kecamatan")}) AS kecamatan_outline
      FROM kim k WHERE k.id = :id
""")


def profile_facts(kim: Kim) -> tuple["KimFacts", str | None]:
    """`kim_facts([kim])[kim.id]` and `boundary_geojson` of the KIM's kecamatan, in one statement
    (the profile page's)."""
    from kim_platform.regions.models import region_label

    db.session.flush()
    row = db.session.execute(_kim_profile_facts(), {"id": kim.id, "kecamatan": kecamatan_of(kim.desa_code)}).one()
    path = row.region_path or []
    # As region_paths: the desa's label and its ancestors' found, or nothing without the desa.
    label = ", ".join(region_label(r["level"], r["kind"], r["name"]) for r in path) \
        if path and path[0]["code"] == kim.desa_code else ""
    facts = KimFacts(lat=row.lat, lon=row.lon, path=[{"code": r["code"], "name": r["name"], "level": r["level"]}
                                                      for r in path],
                     path_label=label, member_count=row.member_count)
    return facts, row.kecamatan_outline


def kim_record(kim_id: int) -> dict | None:
    """The KIM's API record as a mapping (`kims.api.record_body` makes the answer), or None."""
    db.session.flush()  # as an ORM query would: changes not flushed yet are in the answer
    row = db.session.execute(_KIM_RECORD, {"id": kim_id}).one_or_none()
    return row._asdict() if row is not None else None


def kim_by_logo_key(key: str) -> Kim | None:
    """The KIM whose logo is stored under `key` (None for any other stored file)."""
    return db.session.scalar(select(Kim).where(Kim.logo_key == key).limit(1))


NUMBER_RE = re.compile(r"^KIM-\d{2}\.\d{2}-\d{4,}$", re.IGNORECASE)


def get_kim_by_ref(ref: str) -> Kim | None:
    """By public number (KIM-76.02-0001) or slug (kim-binanga-maju-3fa2c1)."""
    if NUMBER_RE.match(ref):
        return db.session.scalar(select(Kim).where(Kim.number == ref.upper()))
    return db.session.scalar(select(Kim).where(Kim.slug == ref))


def verification_queue(viewer, page=1, per_page=25) -> Page:
    """Submitted KIMs inside the viewer's scope, oldest first."""
    stmt = select(Kim).where(Kim.status == KimStatus.SUBMITTED)
    if not permissions.is_direktorat(viewer):
        scope = permissions.pembina_scope(viewer)
        stmt = stmt.where(within(Kim.desa_code, scope) if scope else false())
    return paginate(stmt.order_by(Kim.submitted_at, Kim.id), page, per_page)


def load_memberships(kims: list[Kim]) -> None:
    """Fill `memberships` of these KIMs in one query, where not loaded yet, so that permission
    checks over a page of KIMs (`permissions.kim_role`) do not load them one KIM at a time."""
    pending = [kim for kim in kims if "memberships" in inspect(kim).unloaded]
    if not pending:
        return
    by_kim: dict[int, list[Membership]] = {kim.id: [] for kim in pending}
    for membership in db.session.scalars(
            select(Membership).where(Membership.kim_id.in_(by_kim)).order_by(Membership.id)):
        by_kim[membership.kim_id].append(membership)
    for kim in pending:
        set_committed_value(kim, "memberships", by_kim[kim.id])


def member_of_a_kim_in(user_id, scope: str):
    """SQL condition: the user (`user_id`, a column of the outer query) is a member of a KIM
    registered in region `scope`. Fills the user directory's slot `user_directory.connected`
    (accounts.queries.search_users): a pembina provinsi finds these people by name."""
    in_scope = or_(Kim.desa_code == scope, Kim.desa_code.like(descendant_pattern(scope)))
    return select(Membership.id).join(Kim, Kim.id == Membership.kim_id).where(
        Membership.user_id == user_id, in_scope).exists()


def my_memberships(user) -> list[tuple[Membership, Kim]]:
    """The user's memberships with their KIMs; each KIM's members loaded with them (one query for
    all), so a rule asked per KIM (kim_role, can_submit_aspiration, …) costs no query per KIM."""
    rows = db.session.execute(
        select(Membership, Kim).join(Kim, Kim.id == Membership.kim_id)
        .options(selectinload(Kim.memberships))
        .where(Membership.user_id == user.id).order_by(Kim.name)
    )
    return [(row.Membership, row.Kim) for row in rows]


def pending_invitations(user) -> list[KimInvitation]:
    """Open invitations to the user's (verified) address, newest first, with KIM and inviter.

    An account registered after the invitation sees it too: invitations are kept by address."""
    if getattr(user, "email_verified_at", None) is None:
        return []
    return list(db.session.scalars(
        select(KimInvitation)
        .options(joinedload(KimInvitation.kim), joinedload(KimInvitation.invited_by))
        .where(KimInvitation.email == user.email, KimInvitation.status == InvitationStatus.PENDING,
               KimInvitation.expires_at > utcnow())
        .order_by(KimInvitation.created_at.desc(), KimInvitation.id.desc())
    ))


def open_invitations_of(kim: Kim) -> list[KimInvitation]:
    """The KIM's invitations not answered yet (for its managers, who typed the addresses)."""
    return list(db.session.scalars(
        select(KimInvitation).where(KimInvitation.kim_id == kim.id, KimInvitation.status == InvitationStatus.PENDING,
                                    KimInvitation.expires_at > utcnow())
        .order_by(KimInvitation.created_at.desc())
    ))


@dataclass
class KimFacts:
    """What lists and the API show beside each KIM, fetched for a whole page at once."""
    lat: float
    lon: float
    path: list[dict]  # desa up to provinsi: {"code", "name", "level"}
    path_label: str
    member_count: int


def located_columns_of(kim):
    """`located_columns` over `kim` (the Kim entity or an alias of it)."""
    members = select(func.count()).where(Membership.kim_id == kim.id).correlate(kim).scalar_subquery()
    return func.ST_Y(kim.point).label("lat"), func.ST_X(kim.point).label("lon"), members.label("member_count")


def located_columns():
    """Latitude, longitude and member count of each KIM, as columns of a query over Kim (a list
    reads them with its page, not in another statement)."""
    return located_columns_of(Kim)


def kim_facts(kims: list[Kim], located: dict | None = None) -> dict[int, KimFacts]:
    """Facts of these KIMs in two statements: their coordinates and member counts (unless the
    caller read them with its page: `located`, id -> (lat, lon, member_count)), and every region
    on their paths, without boundaries (the path labels are built from the same rows)."""
    if not kims:
        return {}
    ids = [k.id for k in kims]
    if located is None:
        located = {row[0]: tuple(row[1:]) for row in db.session.execute(
            select(Kim.id, *located_columns()).where(Kim.id.in_(ids)))}
    codes = {code for k in kims for code in _chain(k.desa_code)}
    regions = regions_by_code(codes)
    facts = {}
    for kim in kims:
        lat, lon, member_count = located[kim.id]
        chain = [regions[c] for c in _chain(kim.desa_code) if c in regions]
        path = [{"code": r.code, "name": r.name, "level": r.level} for r in chain]
        # region_paths' label: only for a desa code the region table knows.
        label = ", ".join(r.label for r in chain) if kim.desa_code in regions else ""
        facts[kim.id] = KimFacts(lat=lat, lon=lon, path=path, path_label=label, member_count=member_count or 0)
    return facts


@dataclass
class KimPage(Page):
    """A page of KIMs with their facts read alongside (`list_kims(..., with_facts=True)`)."""
    facts: dict | None = None


def _chain(desa_code: str) -> list[str]:
    """The desa code and its ancestors, from the desa up."""
    parts = desa_code.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def kims_in_desa_count(desa_code: str) -> int:
    return db.session.scalar(select(func.count()).where(Kim.desa_code == desa_code,
                                                        Kim.status == KimStatus.VERIFIED)) or 0


def recent_kims_near(kim: Kim, limit: int = 5) -> list[Kim]:
    """Listed public KIMs (verified) of the same kecamatan, for the profile's "nearby" list."""
    return list(db.session.scalars(
        select(Kim).where(and_(visibility_filter(None), status_filter(None),
                               within(Kim.desa_code, kecamatan_of(kim.desa_code)), Kim.id != kim.id))
        .order_by(Kim.name).limit(limit)
    ))
