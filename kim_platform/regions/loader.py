"""Load the official region list and boundaries (seed_data/wilayah) into the region table.

The load is an upsert by code through COPY into a staging table: a second run changes
nothing, a newer file renames and adds regions, and codes missing from the file are kept
so that KIMs and activities referring to them never break.
"""
import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection

from kim_platform.regions.codes import (
    LEVELS,
    is_valid_code,
    kind_from_code,
    level_of,
    normalise_name,
    parent_of,
)

# File stems per level, in load order (parents before children).
LEVEL_FILES = {
    "provinsi": "provinces",
    "kabupaten": "regencies",
    "kecamatan": "districts",
    "desa": "villages",
}
ALLOWED_KINDS = {
    "provinsi": {"provinsi"},
    "kabupaten": {"kabupaten", "kota"},
    "kecamatan": {"kecamatan"},
    "desa": {"desa", "kelurahan"},
}


class RegionDataError(ValueError):
    """The data files are not what the loader expects; nothing has been written."""


@dataclass
class LevelReport:
    level: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    with_boundary: int = 0
    with_point: int = 0

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated


@dataclass
class LoadReport:
    levels: list[LevelReport] = field(default_factory=list)
    kept_not_in_data: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(level.inserted + level.updated for level in self.levels)


@dataclass
class _Row:
    code: str
    parent_code: str | None
    name: str
    kind: str
    lat: float | None
    lon: float | None
    geojson: str | None


def read_level(data_dir: Path, level: str, known_parents: set[str] | None) -> list[_Row]:
    """Read and validate one level's CSV, joined with its GeoJSON boundaries when present."""
    stem = LEVEL_FILES[level]
    csv_path = data_dir / f"{stem}.csv"
    if not csv_path.exists():
        raise RegionDataError(f"{csv_path} not found")
    boundaries = _read_boundaries(data_dir / f"{stem}.geojson")
    rows = []
    seen = set()
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for line, record in enumerate(reader, start=2):
            where = f"{csv_path.name}:{line}"
            code = (record.get("code") or "").strip()
            if not is_valid_code(code) or level_of(code) != level:
                raise RegionDataError(f"{where}: {code!r} is not a {level} code")
            if code in seen:
                raise RegionDataError(f"{where}: duplicate code {code}")
            seen.add(code)
            parent = (record.get("parent_code") or "").strip() or None
            if parent != parent_of(code):
                raise RegionDataError(f"{where}: parent {parent!r} does not match code {code}")
            if known_parents is not None and parent not in known_parents:
                raise RegionDataError(f"{where}: parent {parent} is not in the level above")
            name = (record.get("name") or "").strip()
            if not name:
                raise RegionDataError(f"{where}: empty name")
            kind = (record.get("kind") or "").strip() or kind_from_code(code)
            if kind not in ALLOWED_KINDS[level]:
                raise RegionDataError(f"{where}: kind {kind!r} is not valid for {level}")
            lat, lon = _coordinate(record.get("lat"), where), _coordinate(record.get("lon"), where)
            if (lat is None) != (lon is None):
                raise RegionDataError(f"{where}: lat and lon must both be given or both be empty")
            if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise RegionDataError(f"{where}: point {lat},{lon} is out of range")
            rows.append(_Row(code, parent, name, kind, lat, lon, boundaries.pop(code, None)))
    if boundaries:
        sample = ", ".join(sorted(boundaries)[:5])
        raise RegionDataError(f"{stem}.geojson has {len(boundaries)} codes missing from {stem}.csv: {sample}")
    return rows


def _coordinate(value: str | None, where: str) -> float | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise RegionDataError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise RegionDataError(f"{where}: {value!r} is not a finite number")
    return number


def _read_boundaries(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as handle:
        collection = json.load(handle)
    boundaries = {}
    for feature in collection.get("features", []):
        code = (feature.get("properties") or {}).get("code")
        geometry = feature.get("geometry")
        if not code or not geometry:
            continue
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise RegionDataError(f"{path.name}: {code} has a {geometry.get('type')}, not a polygon")
        boundaries[code] = json.dumps(geometry, separators=(",", ":"))
    return boundaries


_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS region_stage (
    code text, parent_code text, name text, kind text, search_name text,
    lat float8, lon float8, geojson text
);
TRUNCATE region_stage;
"""

# Geometry is made valid where it enters; ST_Multi keeps the column one type.
_UPSERT = text(
    """
    WITH incoming AS (
        SELECT code, parent_code, name, kind, search_name,
               CASE WHEN geojson IS NULL THEN NULL
                    ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(
                            ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)), 3)) END AS geom,
               CASE WHEN lat IS NULL THEN NULL
                    ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326) END AS centroid
        FROM region_stage
    )
    INSERT INTO region AS r (code, name, level, kind, parent_code, search_name, geom, centroid, updated_at)
    SELECT code, name, :level, kind, parent_code, search_name, geom, centroid, now() FROM incoming
    ON CONFLICT (code) DO UPDATE SET
        name = EXCLUDED.name, kind = EXCLUDED.kind, parent_code = EXCLUDED.parent_code,
        search_name = EXCLUDED.search_name, geom = EXCLUDED.geom, centroid = EXCLUDED.centroid,
        updated_at = now()
    WHERE (r.name, r.kind, r.parent_code, r.search_name)
              IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.parent_code, EXCLUDED.search_name)
       OR r.geom IS DISTINCT FROM EXCLUDED.geom
       OR r.centroid IS DISTINCT FROM EXCLUDED.centroid
    RETURNING (xmax = 0) AS inserted
    """
)


def _copy_rows(connection: Connection, rows: list[_Row]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(
            [row.code, row.parent_code, row.name, row.kind, normalise_name(row.name),
             row.lat, row.lon, row.geojson]
        )
    buffer.seek(0)
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(
            "COPY region_stage (code, parent_code, name, kind, search_name, lat, lon, geojson) "
            "FROM STDIN WITH (FORMAT csv)",
            buffer,
        )
    finally:
        cursor.close()


# Current desa/kelurahan under each region (1 for a desa): the denominator of every coverage figure.
DESA_TOTALS = """
UPDATE region r SET desa_total = t.n FROM (
    SELECT p.code, count(*) AS n FROM region d
    CROSS JOIN LATERAL unnest(ARRAY[left(d.code, 2), left(d.code, 5), left(d.code, 8), d.code]) AS p(code)
    WHERE d.level = 'desa' AND d.retired_on IS NULL GROUP BY 1
) t
WHERE r.code = t.code AND r.desa_total <> t.n
"""


def load_regions(
    connection: Connection, data_dir: Path, echo: Callable[[str], None] = lambda message: None
) -> LoadReport:
    """Upsert all four levels from `data_dir` inside the caller's transaction."""
    started = time.perf_counter()
    data_dir = Path(data_dir)
    # Read and validate every file before writing anything.
    per_level = {}
    parents: set[str] | None = None
    for level in LEVELS:
        echo(f"reading {LEVEL_FILES[level]} ...")
        rows = read_level(data_dir, level, parents)
        per_level[level] = rows
        parents = {row.code for row in rows}

    report = LoadReport()
    connection.execute(text(_STAGE_DDL))
    for level in LEVELS:
        rows = per_level[level]
        connection.execute(text("TRUNCATE region_stage"))
        _copy_rows(connection, rows)
        flags = connection.execute(_UPSERT, {"level": level}).scalars().all()
        level_report = LevelReport(
            level=level,
            rows=len(rows),
            inserted=sum(1 for flag in flags if flag),
            updated=sum(1 for flag in flags if not flag),
            with_boundary=sum(1 for row in rows if row.geojson),
            with_point=sum(1 for row in rows if row.lat is not None),
        )
        report.levels.append(level_report)
        echo(
            f"{level:>10}: {level_report.rows:>6} rows, {level_report.inserted} new, "
            f"{level_report.updated} updated, {level_report.unchanged} unchanged "
            f"({level_report.with_boundary} boundaries, {level_report.with_point} points)"
        )
    connection.execute(text("DROP TABLE region_stage"))
    all_codes = [row.code for rows in per_level.values() for row in rows]
    report.kept_not_in_data = connection.execute(
        text("SELECT count(*) FROM region WHERE NOT (code = ANY(:codes))"), {"codes": all_codes}
    ).scalar_one()
    if report.changed:
        connection.execute(text(DESA_TOTALS))
        connection.execute(text("ANALYZE region"))
    report.seconds = time.perf_counter() - started
    return report
