"""Reads over the region table. Roll-ups use code prefixes, never geometry joins."""
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, and_, bindparam, case, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import defer
from sqlalchemy.orm.util import identity_key

from kim_platform.core.pagination import Page, paginate, paginate_counted_over
from kim_platform.core.sqlutil import escape_like
from kim_platform.extensions import db
from kim_platform.regions.codes import (
    LEVEL_DEPTH,
    ancestor_codes,
    descendant_pattern,
    is_valid_code,
    normalise_name,
    parent_of,
)
from kim_platform.regions.models import Region, RegionChange, region_label

SEARCH_LIMIT = 20
# pg_trgm's default word-similarity threshold (0.6) misses one-letter typos in short names:
# word_similarity('mamju', 'kabupaten mamuju') is 0.5.
WORD_SIMILARITY_THRESHOLD = "0.45"
# Lists, searches and counts show the current regions; a retired code resolves only by itself.
CURRENT = Region.retired_on.is_(None)
# Lists, paths and code lookups never read a boundary: loading it (a province's is ~45 kB of WKB)
# cost more than the rest of a list answer. An object loaded so fetches it if someone asks.
# Built at first use, not at import: a loader option configures every mapper, and importing this
# module before all models are (a CLI, a job worker) would then fail on a relationship's name.
@cache
def no_shapes() -> tuple:
    return (defer(Region.geom), defer(Region.centroid))


def get_region(code: str) -> Region | None:
    return db.session.get(Region, code)


def current_code(code: str) -> str | None:
    """The current code that took over a retired `code`, following later decrees too (92.01 ->
    96.01 -> ...): the one rule for a region chosen by an old code (pages redirect to it, API
    filters use it). None when `code` is current or unknown, or was split or removed (nothing took
    it over whole: it still resolves by itself, with the KIMs that wait to be placed)."""
    region, seen = _looked_up(code), []
    while region is not None and region.replaced_by and region.code not in seen:
        seen.append(region.code)
        region = _looked_up(region.replaced_by)
    return region.code if seen and region is not None else None


@cache
def _region_without_shapes() -> Select:
    """One statement object for every lookup: SQLAlchemy keeps its cache key, which Session.get
    with loader options computed afresh on each call (half the cost of an API filter's lookup)."""
    return select(Region).options(*no_shapes()).where(Region.code == bindparam("code"))


def _looked_up(code: str) -> Region | None:
    """The region (no boundary), kept for the rest of the session: the identity map holds objects
    weakly, so the view's get_region(code) after an API filter resolved the code would read the
    row again; kept, it answers from the map. One already in the map is taken as Session.get
    takes it; another is read by primary key, as Session.get would read it."""
    if identity_key(Region, code) in db.session.identity_map:
        region = db.session.get(Region, code, options=no_shapes())
    else:
        region = db.session.scalars(_region_without_shapes(), {"code": code}).first()
    if region is not None:
        db.session.info.setdefault("regions_looked_up", []).append(region)
    return region


def replaced_notice(old_code: str, code: str):
    """(old region, its latest change) when `old_code` is a code that `code` took over (the note
    on a page reached through an old code), else None."""
    if not is_valid_code(old_code) or current_code(old_code) != code:
        return None
    change = last_change_of(old_code)
    return (get_region(old_code), change) if change is not None else None


def regions_by_code(codes) -> dict[str, Region]:
    codes = list(set(codes))
    if not codes:
        return {}
    rows = db.session.scalars(select(Region).options(*no_shapes()).where(Region.code.in_(codes)))
    return {region.code: region for region in rows}


def ancestors_of(region: Region) -> list[Region]:
    """Ancestors from the province down, in one query."""
    found = regions_by_code(ancestor_codes(region.code))
    return [found[code] for code in reversed(ancestor_codes(region.code)) if code in found]


def region_paths(regions) -> dict[str, str]:
    """Full paths ("Desa X, Kec. Y, Kab. Z, Prov. W") for many regions with one query."""
    regions = list(regions)
    needed = {code for region in regions for code in ancestor_codes(region.code)}
    known = regions_by_code(needed)
    paths = {}
    for region in regions:
        parts = [region.label] + [known[c].label for c in ancestor_codes(region.code) if c in known]
        paths[region.code] = ", ".join(parts)
    return paths


def _chain_sql(code_column, region):
    """SQL condition: `region` is the region of `code_column` or one of its ancestors (the code's
    prefixes at each level's width, so the primary key finds them)."""
    from kim_platform.regions.codes import LEVEL_WIDTH

    return region.code.in_([func.left(code_column, width) for width in LEVEL_WIDTH.values()])


def region_path_json(code_column):
    """SQL: the path of the region `code_column` names as a JSON array, from it up to its
    province, of {"code", "level", "name"}: the regions of its chain the table holds (what
    kims.queries.kim_facts gives as `path`); NULL when it holds none."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by
    from sqlalchemy.orm import aliased

    r = aliased(Region)
    item = func.json_build_object("code", r.code, "level", r.level, "name", r.name)
    return (select(func.json_agg(aggregate_order_by(item, func.length(r.code).desc())))
            .where(_chain_sql(code_column, r)).scalar_subquery())


def path_label_sql(code_column):
    """SQL: region_paths' label of the region `code_column` names ("Desa X, Kec. Y, Kab. Z,
    Prov. W"), NULL when the table does not hold that region (place_labels leaves it out)."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by
    from sqlalchemy.orm import aliased

    from kim_platform.regions.models import region_label_sql

    r = aliased(Region)
    # string_agg(label, ', ' ORDER BY …): the order goes with the last argument.
    return (select(func.string_agg(region_label_sql(r), aggregate_order_by(literal(", "), func.length(r.code).desc())))
            .where(_chain_sql(code_column, r)).having(func.bool_or(r.code == code_column))
            .scalar_subquery())


def _search_filter(query: str):
    """Rows matching a search term: code prefix, substring, or trigram word similarity."""
    term = normalise_name(query)
    if is_valid_code(query.strip()):
        code = query.strip()
        return or_(Region.code == code, Region.code.like(descendant_pattern(code))), term
    if not term:
        return literal(False), term
    if len(term) < 3:
        # Too short for trigrams: only names that start with it (a btree prefix scan).
        return or_(*(Region.search_name.like(f"{prefix}{escape_like(term)}%")
                     for prefix in ("", "kabupaten ", "kota "))), term
    return (
        or_(
            Region.search_name.like(f"%{escape_like(term)}%"),
            # word similarity above the threshold, answered by the trigram index.
            Region.search_name.op("%>")(term),
        ),
        term,
    )


def _search_order(term: str):
    """Exact names first (with or without the Kabupaten/Kota prefix), then prefixes, then the
    closest whole-word matches, higher levels before lower ones on a tie."""
    return [key.desc() if descending else key for key, descending in _search_keys(term)]


def _search_keys(term: str) -> list[tuple]:
    """_search_order as (key, descending) pairs."""
    exact = or_(
        Region.search_name == term,
        Region.search_name == "kabupaten " + term,
        Region.search_name == "kota " + term,
    )
    prefix = or_(
        Region.search_name.like(f"{escape_like(term)}%"),
        Region.search_name.like(f"kabupaten {escape_like(term)}%"),
        Region.search_name.like(f"kota {escape_like(term)}%"),
    )
    name_without_prefix = func.regexp_replace(
        Region.search_name, "^(kabupaten administrasi|kota administrasi|kabupaten|kota) ", ""
    )
    level_rank = case(
        *((Region.level == name, depth) for name, depth in LEVEL_DEPTH.items()), else_=9
    )
    return [
        (case((exact, 0), (prefix, 1), else_=2), False),
        (func.strict_word_similarity(term, Region.search_name), True),
        (func.similarity(term, name_without_prefix), True),
        (level_rank, False),
        (Region.code, False),
    ]


def region_list_query(q: str | None = None, level: str | None = None, parent: str | None = None) -> Select:
    """Regions filtered by search term, level and ancestor, in the order a person expects."""
    conditions, order = _list_parts(q, level, parent)
    return select(Region).options(*no_shapes()).where(and_(*conditions)).order_by(*order)


def _list_parts(q, level, parent) -> tuple[list, list]:
    """region_list_query's conditions and order."""
    conditions, keys = _list_keys(q, level, parent)
    return conditions, [key.desc() if descending else key for key, descending in keys]


def _list_keys(q, level, parent) -> tuple[list, list]:
    """region_list_query's conditions and its order as (key, descending) pairs."""
    conditions = [Region.retired_on.is_(None)]
    if level:
        conditions.append(Region.level == level)
    if parent:
        conditions.append(Region.code.like(descendant_pattern(parent)))
    if q and q.strip():
        match, term = _search_filter(q)
        conditions.append(match)
        return conditions, _search_keys(term)
    return conditions, [(Region.code, False)]


@dataclass
class RegionJsonPage(Page):
    """A page of regions whose `items` is one JSON array text PostgreSQL wrote (list_regions_json)."""


@cache
def listed_region():
    """The alias `lr` of the region in list_regions_json's statement, over which its caller writes
    the item (one alias for the process: an item built once serves every request)."""
    from sqlalchemy.orm import aliased

    return aliased(Region, name="lr")


def list_regions_json(item, q=None, level=None, parent=None, page=1, per_page=50) -> RegionJsonPage:
    """list_regions' page (the same filters, order and total) in one statement, its items
    written by PostgreSQL: `item` is the JSON of one region over `listed_region()`. A search
    counts its matches while ranking them (`count(*) OVER ()`); a page past the end, which has no
    row to carry that, counts them on its own, in the same statement."""
    from kim_platform.core.pagination import MAX_PAGE, MAX_PER_PAGE
    from kim_platform.core.sqljson import json_array

    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    searching = bool(q and q.strip())
    if searching:
        _lower_similarity_threshold()
    conditions, keys = _list_keys(q, level, parent)
    matches = select(Region.code).where(and_(*conditions))
    counted = select(func.count()).select_from(matches.subquery()).scalar_subquery()
    # The page carries its sort keys, so the database picks it with a bounded (top-N) sort, as the
    # ORM query does, and the items are aggregated in the same order.
    columns = [Region.code.label("region_code"), *(key.label(f"key_{n}") for n, (key, _) in enumerate(keys))]
    if searching:
        columns.append(func.count().over().label("total"))
    order = [key.desc() if descending else key for key, descending in keys]
    paged = (select(*columns).where(and_(*conditions)).order_by(*order)
             .limit(per_page).offset((page - 1) * per_page).subquery("p"))
    page_order = [paged.c[f"key_{n}"].desc() if descending else paged.c[f"key_{n}"]
                  for n, (_, descending) in enumerate(keys)]
    total = func.coalesce(func.max(paged.c.total), counted) if searching else counted
    r = listed_region()
    row = db.session.execute(select(total, json_array(item, *page_order))
                             .select_from(paged.join(r, r.code == paged.c.region_code))).one()
    return RegionJsonPage(items=row[1], page=page, per_page=per_page, total=row[0] or 0)


def _lower_similarity_threshold() -> None:
    """Set the `%>` threshold for the rest of this transaction only."""
    db.session.execute(
        select(func.set_config("pg_trgm.word_similarity_threshold", WORD_SIMILARITY_THRESHOLD, True))
    )


def list_regions(q=None, level=None, parent=None, page=1, per_page=50) -> Page:
    if q and q.strip():
        # A search ranks every match (a common word as "Utara" matches 737): one pass gives the
        # page and its total, instead of a count reading them all again.
        _lower_similarity_threshold()
        return paginate_counted_over(region_list_query(q, level, parent), page, per_page)
    return paginate(region_list_query(q, level, parent), page, per_page)


def search_regions(q: str, limit: int = SEARCH_LIMIT, level: str | None = None) -> list[Region]:
    """Top matches for the search page and the map's search box."""
    if not q or not q.strip():
        return []
    _lower_similarity_threshold()
    return list(db.session.scalars(region_list_query(q, level).limit(limit)))


def children_page(code: str, page: int = 1, per_page: int = 50) -> Page:
    """A region's current children in code order, with their total in the same statement (a
    region has at most a few hundred: the count over them all costs less than a second query)."""
    stmt = select(Region).options(*no_shapes()).where(Region.parent_code == code, CURRENT).order_by(Region.code)
    return paginate_counted_over(stmt, page, per_page)


def provinces() -> list[Region]:
    return list(db.session.scalars(select(Region).where(Region.level == "provinsi", CURRENT).order_by(Region.code)))


def children_count(code: str) -> int:
    return db.session.scalar(select(func.count()).where(Region.parent_code == code, CURRENT)) or 0


def children_kind_counts(code: str) -> dict[str, int]:
    """How many children of each kind ("kabupaten": 5, "kota": 1)."""
    rows = db.session.execute(
        select(Region.kind, func.count()).where(Region.parent_code == code, CURRENT).group_by(Region.kind)
    )
    return dict(rows.all())


@dataclass
class DescendantCounts:
    kecamatan: int = 0
    desa: int = 0


def descendant_counts(codes: list[str]) -> dict[str, DescendantCounts]:
    """Kecamatan and desa/kelurahan below each of several same-level regions, in one query."""
    if not codes:
        return {}
    width = len(codes[0])
    prefix = func.left(Region.code, width)
    rows = db.session.execute(
        select(prefix, Region.level, func.count())
        .where(Region.level.in_(("kecamatan", "desa")), CURRENT)
        .where(or_(*(Region.code.like(descendant_pattern(c)) for c in codes)))
        .group_by(prefix, Region.level)
    )
    counts = {code: DescendantCounts() for code in codes}
    for code, level, count in rows:
        if code in counts:
            setattr(counts[code], level, count)
    return counts


@dataclass
class Extent:
    centroid: tuple[float, float] | None  # (lat, lon)
    bbox: tuple[float, float, float, float] | None  # (minlon, minlat, maxlon, maxlat)


def region_extent(code: str) -> Extent:
    row = db.session.execute(
        select(
            func.ST_Y(Region.centroid),
            func.ST_X(Region.centroid),
            func.ST_XMin(Region.geom),
            func.ST_YMin(Region.geom),
            func.ST_XMax(Region.geom),
            func.ST_YMax(Region.geom),
        ).where(Region.code == code)
    ).one()
    lat, lon, minx, miny, maxx, maxy = row
    return Extent(
        centroid=(lat, lon) if lat is not None else None,
        bbox=(minx, miny, maxx, maxy) if minx is not None else None,
    )


def _simplified_geojson(geom, max_vertices_hint: int = 600):
    """A boundary as GeoJSON, simplified for a small page map: the tolerance scales with the
    region's size so a province and a kecamatan both come out at a few kilobytes; coordinates are
    rounded to 5 decimals (about 1 m)."""
    size = func.greatest(func.ST_XMax(geom) - func.ST_XMin(geom), func.ST_YMax(geom) - func.ST_YMin(geom))
    return func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(geom, size / max_vertices_hint), 5)


def boundary_geojson(code: str, max_vertices_hint: int = 600) -> str | None:
    """A region's boundary as GeoJSON, simplified for a small page map (None without one)."""
    return db.session.scalar(
        select(_simplified_geojson(Region.geom, max_vertices_hint)).where(Region.code == code, Region.geom.is_not(None))
    )


@cache
def _outlined():
    return Region.__table__.alias("outlined")


def boundary_geojson_column(code):
    """boundary_geojson of the region `code` (a value or a column) as a scalar subquery, for a
    query that reads a page map's outline with its other columns (the report page's)."""
    outlined = _outlined()
    return (select(_simplified_geojson(outlined.c.geom))
            .where(outlined.c.code == code, outlined.c.geom.is_not(None)).scalar_subquery())


@cache
def boundary_geojson_sql(code_sql: str) -> str:
    """boundary_geojson's query as SQL text with `code_sql` (a bind parameter such as ":code") for the
    region's code, for a statement written as text that reads a page map's outline with its other
    facts (the KIM profile's)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy import literal_column

    stmt = select(_simplified_geojson(Region.geom)).where(Region.code == literal_column(code_sql),
                                                          Region.geom.is_not(None))
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


@dataclass(frozen=True)
class RegionRef:
    """A region as a breadcrumb shows it (code and label), read without the ORM."""
    code: str
    name: str
    level: str
    kind: str

    @property
    def label(self) -> str:
        return region_label(self.level, self.kind, self.name)


@dataclass
class RegionPageFacts:
    extent: Extent
    boundary: str | None  # the region's own simplified boundary (GeoJSON)
    context: str | None  # without one: its parent's, else its grandparent's (a desa inside its kecamatan)
    kind_counts: dict[str, int]  # current children per kind ("kabupaten": 5, "kota": 1)
    ancestors: list[RegionRef]  # ancestors_of: the province first, those found


@cache
def _region_page_facts_query():
    """region_page_facts' statement, built once: its aliases and subqueries cost more to build
    (~2 ms) than to run, and the parameters are all it changes."""
    parent, grandparent = Region.__table__.alias("parent"), Region.__table__.alias("grandparent")
    kinds = (select(Region.kind, func.count().label("n"))
             .where(Region.parent_code == bindparam("code"), CURRENT).group_by(Region.kind).subquery())
    context = func.coalesce(
        select(_simplified_geojson(parent.c.geom))
        .where(parent.c.code == bindparam("parent"), parent.c.geom.is_not(None)).scalar_subquery(),
        select(_simplified_geojson(grandparent.c.geom))
        .where(grandparent.c.code == bindparam("grandparent"), grandparent.c.geom.is_not(None)).scalar_subquery(),
    )
    above = Region.__table__.alias("above")
    ancestors = (select(func.json_agg(aggregate_order_by(
                    func.json_build_object("code", above.c.code, "name", above.c.name, "level", above.c.level,
                                           "kind", above.c.kind), func.length(above.c.code))))
                 .where(above.c.code.in_(bindparam("ancestors", expanding=True))))
    return (select(func.ST_Y(Region.centroid), func.ST_X(Region.centroid), func.ST_XMin(Region.geom),
                   func.ST_YMin(Region.geom), func.ST_XMax(Region.geom), func.ST_YMax(Region.geom),
                   _simplified_geojson(Region.geom).label("boundary"),
                   case((Region.geom.is_(None), context), else_=None).label("context"),
                   select(func.json_object_agg(kinds.c.kind, kinds.c.n)).scalar_subquery().label("kinds"),
                   ancestors.scalar_subquery().label("ancestors"))
            .where(Region.code == bindparam("code")))


def region_page_facts(region: Region) -> RegionPageFacts:
    """What the region page shows beside its lists, in one statement: region_extent, the
    boundaries its map draws (boundary_geojson of the region, else of its parent or grandparent),
    children_kind_counts and ancestors_of (as RegionRefs)."""
    parent = region.parent_code
    row = db.session.execute(_region_page_facts_query(), {
        "code": region.code, "parent": parent, "grandparent": (parent_of(parent) or parent) if parent else None,
        "ancestors": ancestor_codes(region.code),
    }).one()
    lat, lon, minx, miny, maxx, maxy, boundary, context_geojson, kind_counts, ancestors = row
    return RegionPageFacts(
        extent=Extent(centroid=(lat, lon) if lat is not None else None,
                      bbox=(minx, miny, maxx, maxy) if minx is not None else None),
        boundary=boundary, context=context_geojson, kind_counts=kind_counts or {},
        ancestors=[RegionRef(**a) for a in ancestors or []])


def child_counts(codes: list[str]) -> dict[str, int]:
    """Number of direct children of each region, in one query."""
    if not codes:
        return {}
    rows = db.session.execute(
        select(Region.parent_code, func.count()).where(Region.parent_code.in_(codes), CURRENT).group_by(Region.parent_code)
    )
    return dict(rows.all())


def last_change_of(code: str) -> RegionChange | None:
    """The latest decree that replaced, split or removed `code` (its note on old links)."""
    return db.session.scalar(select(RegionChange).where(RegionChange.old_code == code)
                             .order_by(RegionChange.id.desc()).limit(1))


def split_into(code: str) -> list[Region]:
    """The current regions the latest decree split `code` into (none for a plain removal)."""
    change = last_change_of(code)
    if change is None:
        return []
    targets = select(RegionChange.new_code).where(
        RegionChange.old_code == code, RegionChange.decree == change.decree, RegionChange.kind == "split")
    return list(db.session.scalars(select(Region).where(Region.code.in_(targets), CURRENT).order_by(Region.code)))


def former_codes(codes) -> dict[str, str]:
    """code -> the code(s) it had before the latest decree that re-coded it, for exports."""
    codes = list(set(codes))
    if not codes:
        return {}
    rows = db.session.execute(
        select(RegionChange.new_code, func.string_agg(RegionChange.old_code, literal(" ")))
        .where(RegionChange.new_code.in_(codes), RegionChange.old_code.is_not(None),
               RegionChange.old_code != RegionChange.new_code)
        .group_by(RegionChange.new_code))
    return dict(rows.all())


_REGION_DETAIL = text("""
    SELECT r.code, r.name, r.level, r.kind, r.parent_code, r.retired_on, r.replaced_by,
           ST_Y(r.centroid) AS lat, ST_X(r.centroid) AS lon,
           ST_XMin(r.geom) AS minx, ST_YMin(r.geom) AS miny, ST_XMax(r.geom) AS maxx, ST_YMax(r.geom) AS maxy,
           (SELECT count(*) FROM region c WHERE c.parent_code = r.code AND c.retired_on IS NULL) AS children_count,
           (SELECT json_agg(json_build_object('code', a.code, 'name', a.name, 'level', a.level, 'kind', a.kind)
                            ORDER BY length(a.code))
              FROM region a WHERE a.code = ANY(CAST(:ancestors AS varchar[]))) AS ancestors
      FROM region r WHERE r.code = :code
""")


def region_detail(code: str) -> dict | None:
    """What the detail API shows of a region, in one statement and without an ORM load (the
    region's own columns, its extent, current children count and ancestors, province first,
    as dicts of code, name, level, kind), or None for an unknown code."""
    row = db.session.execute(_REGION_DETAIL, {"code": code, "ancestors": ancestor_codes(code)}).first()
    return row._asdict() if row is not None else None
