"""Mapbox vector tiles built by PostGIS (ST_AsMVT), with a small in-process cache (shared by the
nodes through Redis when KIM_REDIS_URL is set, core/shared_cache.py).

KIM points are aggregated on the server at low zoom (counts per kabupaten/kota up to z7,
per kecamatan up to z10) and sent one by one from z11, so no tile carries tens of
thousands of points. Region outlines come from `region_tile_geom`, simplified once per
zoom band. Each cached tile is keyed by a data version, so new KIMs, verifications and
reports show on the next request without any explicit invalidation.
"""
import gzip
import hashlib
import time
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.orm import aliased

from kim_platform import permissions
from kim_platform.activities.models import Activity
from kim_platform.core import clock, shared_cache
from kim_platform.core.cache import LruCache
from kim_platform.core.replica import PRIMARY, database_in_use
from kim_platform.extensions import REPLICA_BIND, db
from kim_platform.kims.models import Kim
from kim_platform.kims.queries import DEFAULT_HIDDEN_STATUSES
from kim_platform.maps.slots import TILE_FILTERS
from kim_platform.regions.codes import LEVEL_WIDTH

MAX_ZOOM = 16
POINTS_FROM_ZOOM = 11
ACTIVE_DAYS = 90
EXTENT = 4096
# Points within 16 px of a tile edge go into both tiles, so circles are not cut at the seams;
# outlines need only a few pixels (their strokes).
BUFFER = 256
OUTLINE_BUFFER = 64


class TileError(ValueError):
    """z/x/y outside the tile pyramid; the message names the parameter."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_tile(z: str, x: str, y: str) -> tuple[int, int, int]:
    values = {}
    for name, raw in (("z", z), ("x", x), ("y", y)):
        if not raw.isdigit() or len(raw) > 6:
            raise TileError(name, f"{name} must be a whole number")
        values[name] = int(raw)
    if values["z"] > MAX_ZOOM:
        raise TileError("z", f"z must be at most {MAX_ZOOM}")
    limit = 2 ** values["z"]
    for name in ("x", "y"):
        if values[name] >= limit:
            raise TileError(name, f"{name} must be below {limit} at zoom {values['z']}")
    return values["z"], values["x"], values["y"]


VERSION_TTL_S = 1.0
VERSION_KEY = "kim:data-version:"
_version = {"value": None, "at": 0.0}
_replica_version = {"value": None, "at": 0.0}
_shared_versions: dict[str, tuple[str, float]] = {}  # database -> (version, until its key expires)


def _computed_version() -> str:
    """The version of what the session reads now: two index-only lookups and a sequence read.

    The coverage triggers append a `coverage_delta` row for every change to the figures,
    deletions included (which leave the latest `updated_at` as it was), so its sequence moves
    with them. Its `is_called` is read too: a sequence that never gave a value shows
    last_value 1, and so does it after the first nextval(); only `is_called` tells them apart
    (a fresh database missed its first change of the figures). The value is a hash of that
    state, so a primary and a replica that replayed up to it give the same version."""
    kims = db.session.scalar(select(func.max(Kim.updated_at)))
    reports = db.session.scalar(select(func.max(Activity.updated_at)))
    figures = tuple(db.session.execute(text("SELECT last_value, is_called FROM coverage_delta_id_seq")).first())
    state = f"{kims}|{reports}|{figures}"
    return hashlib.sha1(state.encode(), usedforsecurity=False).hexdigest()[:12]


def _read_database() -> str:
    """The database the session reads from (host:port/name of its bind, without user or options
    such as application_name, which differ between nodes that read the same server)."""
    engine = db.engine if database_in_use() == PRIMARY else db.engines[REPLICA_BIND]
    url = engine.engine.url  # an Engine, or the connection the tests bind (its .engine)
    return f"{url.host}:{url.port}/{url.database}"


def data_version() -> str:
    """Changes whenever a KIM or a report changes; a map or an export may show a change one
    second late, and cached answers cost no query.

    Without Redis, asked of the database at most once a second per worker. With KIM_REDIS_URL,
    shared by every node: the first node to miss computes it and stores it for a second
    (`SET NX PX`: a node that lost that race takes the stored value); every process then keeps it
    until that key expires (its PTTL, read with it), so all nodes change versions together, the
    database is asked once a second between them, and Redis once a second per process.

    It is computed from the database the session reads from, the one the tile and export queries
    then read, and shared per database (`_read_database`): a version computed on the primary, ahead
    of a lagging replica, would otherwise key tiles built from the replica's older rows, and keep
    those stale tiles under the new version. Read the other way round, a version never runs ahead
    of the data of the answers stored under it: the database only moves forward between the
    version's read and the answer's."""
    client = shared_cache.usable_redis()
    if client is not None:
        database = _read_database()
        now = time.monotonic()
        known = _shared_versions.get(database)
        if known is not None and now < known[1]:
            return known[0]
        key = VERSION_KEY + database
        try:
            value, ttl_ms = client.pipeline(transaction=False).get(key).pttl(key).execute()
            if value is None or ttl_ms == -1:  # missing, or set without an expiry (not by us): renew it
                missing = value is None
                value, ttl_ms = _computed_version().encode(), int(VERSION_TTL_S * 1000)
                if not client.set(key, value, px=ttl_ms, nx=missing):
                    stored, ttl_ms = client.pipeline(transaction=False).get(key).pttl(key).execute()
                    value = stored or value
            _shared_versions[database] = (value.decode(), now + max(ttl_ms, 0) / 1000)
            return value.decode()
        except shared_cache.RedisError as error:
            shared_cache.failed(error)
    now = time.monotonic()
    # One version per database a request may read (core/replica.py): a tile built from a replica a
    # moment behind must not be cached under the primary's newer version.
    version = _version if database_in_use() == PRIMARY else _replica_version
    if version["value"] is None or now - version["at"] > VERSION_TTL_S:
        version["value"] = _computed_version()
        version["at"] = now
    return version["value"]


_condition_versions: dict[tuple[str, str], tuple[str, float]] = {}


def condition_version(condition) -> str:
    """The version of what a slot's tile condition reads (maps.slots.TileCondition), asked at most
    once a second per worker like data_version()."""
    now = time.monotonic()
    key = (condition.name, database_in_use())
    known = _condition_versions.get(key)
    if known is None or now - known[1] > VERSION_TTL_S:
        known = (condition.version(), now)
        _condition_versions[key] = known
    return known[0]


def forget_local_version() -> None:
    """Forget what this process knows of the versions (tests: another process knows nothing)."""
    _version["value"] = None
    _replica_version["value"] = None
    _shared_versions.clear()
    _condition_versions.clear()


def forget_version() -> None:
    """Forget the versions known (tests: "one second later"), the shared one of this database too."""
    forget_local_version()
    client = shared_cache.usable_redis()
    if client is not None:
        try:
            client.delete(VERSION_KEY + _read_database())
        except shared_cache.RedisError as error:
            shared_cache.failed(error)


def tile_conditions(filters: dict) -> list:
    """What the domains above add for these filters (slot map_tiles.filters: the health state)."""
    return TILE_FILTERS.collect(filters=filters)


def _as_sql(clause) -> tuple[str, dict]:
    """A SQLAlchemy boolean as text with named bound parameters, for the raw tile SQL below."""
    compiled = clause.compile(dialect=PGDialect(paramstyle="named"), compile_kwargs={"render_postcompile": True})
    return f"({compiled})", dict(compiled.params)


_visible_sql = LruCache(512)


def _visible_sql_for(viewer) -> tuple[str, dict]:
    """permissions.kim_visible_sql over `k` as text, compiled once per set of grounds (the rule
    depends on nothing else): compiling it cost more than building a tile of points."""
    key = tuple((kind, tuple(sorted(arg)) if isinstance(arg, (set, frozenset, list, tuple)) else arg)
                for kind, arg in permissions.kim_grounds(viewer))
    found = _visible_sql.get(key)
    if found is None:
        found = _as_sql(permissions.kim_visible_sql(viewer, aliased(Kim, name="k")))
        _visible_sql.put(key, found)
    return found[0], dict(found[1])


def visibility(viewer) -> tuple[str, dict, str]:
    """SQL condition on `k` for the KIMs the viewer may see (the one KIM rule,
    permissions.kim_visible_sql), its parameters, and a cache class: viewers whose rule gives
    them only what the public sees share the public tiles."""
    if permissions.is_direktorat(viewer):
        return "TRUE", {}, "all"
    private_member = permissions.has_private_memberships(viewer)
    scope = permissions.pembina_scope(viewer)
    if not scope and not private_member:
        return (*_visible_sql_for(None), "public")
    parts = ([f"scope:{scope}"] if scope else []) + ([f"user:{viewer.id}"] if private_member else [])
    return (*_visible_sql_for(viewer), "|".join(parts))


def _kim_filters(bidang: list[str] | None, status: str | None, active_only: bool,
                 counting: bool) -> tuple[str, dict]:
    """Filter clauses on `k`. Points carry every visible status (inactive ones drawn grey);
    counts leave out what lists hide by default (inactive KIMs), unless a status is asked for."""
    clauses, params = [], {}
    if bidang:
        clauses.append("k.bidang && CAST(:bidang AS varchar[])")
        params["bidang"] = bidang
    if status:
        clauses.append("k.status = :status")
        params["status"] = status
    elif counting:
        clauses.append("k.status <> ALL (CAST(:hidden_statuses AS varchar[]))")
        params["hidden_statuses"] = list(DEFAULT_HIDDEN_STATUSES)
    if active_only:
        clauses.append("k.last_activity_on >= :since")
    return (" AND " + " AND ".join(clauses)) if clauses else "", params


def kim_tile(z: int, x: int, y: int, viewer, bidang=None, status=None, active_only=False, health=None,
             conditions=None) -> bytes:
    seen, seen_params, visibility_class = visibility(viewer)
    extra, params = _kim_filters(bidang, status, active_only, counting=z < POINTS_FROM_ZOOM)
    if conditions is None:
        conditions = tile_conditions({"health": health}) if health else []
    for condition in conditions:
        extra += f" AND ({condition.sql})"
        params.update(condition.params)
    params.update(seen_params, z=z, x=x, y=y, since=clock.today() - timedelta(days=ACTIVE_DAYS),
                  extent=EXTENT, buffer=BUFFER)
    if z >= POINTS_FROM_ZOOM:
        # Only our own filter clauses ({seen}, {extra}) are formatted in; every value is a bound
        # parameter, hence the nosec B608 markers on these queries.
        sql = f"""
            WITH env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e)
            SELECT ST_AsMVT(t, 'kims', :extent, 'geom') FROM (
                SELECT ST_AsMVTGeom(ST_Transform(k.point, 3857), env.e, :extent, :buffer, true) AS geom,
                       k.id, k.bidang[1] AS bidang, k.status,
                       (k.last_activity_on IS NOT NULL AND k.last_activity_on >= :since) AS active
                FROM kim k, env
                WHERE k.point && ST_Transform(env.e, 4326) AND {seen}{extra}
            ) t"""  # nosec B608
    elif visibility_class == "public" and not (bidang or status or active_only or conditions):
        # The public, unfiltered view (the national first view): counts kept by the trigger
        # (verified KIMs: the public statuses less the inactive ones lists hide by default).
        # The count is looked up per place (a few hundred index probes): joined, the planner
        # read the whole stats table (every desa's row too) into a hash.
        params["level"] = "kabupaten" if z <= 7 else "kecamatan"
        sql = """
            WITH env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e),
            places AS (
                SELECT r.code, r.centroid,
                       (SELECT s.kim_verified FROM region_kim_stats s WHERE s.code = r.code) AS count
                FROM region r, env
                WHERE r.level = :level AND r.centroid && ST_Transform(env.e, 4326)
            )
            SELECT ST_AsMVT(t, 'kims', :extent, 'geom') FROM (
                SELECT ST_AsMVTGeom(ST_Transform(p.centroid, 3857), env.e, :extent, :buffer, true) AS geom,
                       p.code, p.count
                FROM places p, env WHERE p.count > 0
            ) t"""
    else:
        level = "kabupaten" if z <= 7 else "kecamatan"
        params.update(level=level, width=LEVEL_WIDTH[level])
        sql = f"""
            WITH env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e),
            places AS (
                SELECT r.code, r.centroid FROM region r, env
                WHERE r.level = :level AND r.centroid && ST_Transform(env.e, 4326)
            ),
            counts AS (
                SELECT left(k.desa_code, :width) AS code, count(*) AS n,
                       count(*) FILTER (WHERE k.last_activity_on >= :since) AS active
                FROM kim k
                WHERE left(k.desa_code, :width) IN (SELECT code FROM places) AND {seen}{extra}
                GROUP BY 1
            )
            SELECT ST_AsMVT(t, 'kims', :extent, 'geom') FROM (
                SELECT ST_AsMVTGeom(ST_Transform(p.centroid, 3857), env.e, :extent, :buffer, true) AS geom,
                       p.code, c.n AS count, c.active
                FROM places p JOIN counts c USING (code), env
            ) t"""  # nosec B608
    return bytes(db.session.scalar(text(sql), params) or b"")


REGION_BANDS = ((5, "provinsi", LEVEL_WIDTH["provinsi"]), (8, "kabupaten", LEVEL_WIDTH["kabupaten"]),
                (MAX_ZOOM, "kecamatan", LEVEL_WIDTH["kecamatan"]))


def region_level(z: int) -> tuple[str, int]:
    for max_zoom, level, width in REGION_BANDS:
        if z <= max_zoom:
            return level, width
    return REGION_BANDS[-1][1:]


def region_tile(z: int, x: int, y: int) -> bytes:
    """Outlines with coverage: the share of desa with at least one verified KIM."""
    level, _ = region_level(z)
    sql = """
        WITH env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e)
        SELECT ST_AsMVT(t, 'regions', :extent, 'geom') FROM (
            SELECT ST_AsMVTGeom(g.geom, env.e, :extent, :buffer, true) AS geom, g.code, g.name, g.desa_total,
                   coalesce(s.desa_covered, 0) AS desa_covered, coalesce(s.kim_verified, 0) AS kim_verified,
                   round(100.0 * coalesce(s.desa_covered, 0) / nullif(g.desa_total, 0), 1)::float8 AS coverage_pct
            FROM region_tile_geom g LEFT JOIN region_kim_stats s ON s.code = g.code, env
            WHERE g.level = :level AND g.geom && env.e
        ) t"""
    params = {"z": z, "x": x, "y": y, "level": level, "extent": EXTENT, "buffer": OUTLINE_BUFFER}
    return bytes(db.session.scalar(text(sql), params) or b"")


class TileCache(LruCache):
    """A bounded LRU of gzipped tiles, shared by the threads of one worker."""

    def __init__(self, capacity: int = 4000):
        super().__init__(capacity)


cache = TileCache()
# With KIM_REDIS_URL, tiles are shared by the nodes; the LRU above stays in front of Redis.
shared = shared_cache.SharedCache("tile", cache)


def cached_tile(layer: str, z: int, x: int, y: int, viewer, **filters) -> tuple[bytes, str, bool]:
    """(gzipped tile, ETag, whether it is public); the tile is built once per data version."""
    version = data_version()
    visibility_class = visibility(viewer)[2] if layer == "kims" else "public"
    # A slot's condition (the health state) adds the version of what it reads: the daily health run
    # renews the tiles filtered by health, and only those.
    conditions = tile_conditions(filters) if layer == "kims" and filters.get("health") else []
    key = (layer, version, z, x, y, visibility_class, tuple(sorted((k, str(v)) for k, v in filters.items() if v)),
           tuple((c.name, condition_version(c)) for c in conditions))

    def build() -> bytes:
        raw = kim_tile(z, x, y, viewer, conditions=conditions, **filters) if layer == "kims" else region_tile(z, x, y)
        return gzip.compress(raw, compresslevel=6) if raw else b""

    return shared.get_or_build(key, build), shared_cache.digest(key), visibility_class == "public"


def region_at(lat: float, lon: float, z: int) -> dict | None:
    """The region of the map's current level under a point, with its coverage (map clicks)."""
    level, _ = region_level(z)
    row = db.session.execute(text("""
        SELECT g.code, g.name, g.level, g.desa_total, coalesce(s.desa_covered, 0) AS desa_covered,
               coalesce(s.kim_verified, 0) AS kim_verified
        FROM region_tile_geom g LEFT JOIN region_kim_stats s ON s.code = g.code
        WHERE g.level = :level
          AND ST_Intersects(g.geom, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 3857))
        ORDER BY ST_Area(g.geom) LIMIT 1"""), {"level": level, "lat": lat, "lon": lon}).mappings().first()
    if row is None:
        return None
    result = dict(row)
    result["coverage_pct"] = round(100.0 * result["desa_covered"] / result["desa_total"], 1) if result["desa_total"] else 0.0
    return result
