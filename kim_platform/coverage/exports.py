"""Coverage tables as CSV (UTF-8 with BOM, for Excel), XLSX and GeoJSON, cached per worker (and shared
by the nodes through Redis when KIM_REDIS_URL is set)."""
import csv
import io
import json
from collections.abc import Callable
from datetime import date

from sqlalchemy import text

from kim_platform.core import shared_cache
from kim_platform.core.cache import LruCache
from kim_platform.extensions import db
from kim_platform.regions.queries import former_codes

# A national GeoJSON costs about half a second of PostGIS and weighs ~2 MB; the provinces,
# kabupaten and kecamatan exports people actually download fit in a few dozen entries.
cache = LruCache(capacity=48)
shared = shared_cache.SharedCache("export", cache)  # across nodes with KIM_REDIS_URL

COLUMNS = ("code", "name", "level", "desa_total", "desa_covered", "coverage_pct", "desa_active", "active_pct",
           "kim_verified", "kim_active", "activities_window", "activities_previous", "activities_delta",
           "health_aktif", "health_perlu_pendampingan", "health_vakum", "health_as_of")


def as_csv(rows, as_of: date) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # former_code: the code(s) a Kepmendagri replaced by this one, for joining older data.
    former = former_codes(row.code for row in rows)
    writer.writerow(COLUMNS + ("as_of", "former_code"))
    for row in rows:
        data = row.as_dict()
        writer.writerow([data[c] for c in COLUMNS] + [as_of.isoformat(), former.get(row.code, "")])
    # The byte-order mark makes Excel read the file as UTF-8.
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def as_xlsx(rows, as_of: date, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Cakupan"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True)
    sheet.append([f"Data per {as_of.isoformat()}"])
    former = former_codes(row.code for row in rows)
    sheet.append(list(COLUMNS) + ["former_code"])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in rows:
        data = row.as_dict()
        sheet.append([data[c] for c in COLUMNS] + [former.get(row.code)])
    sheet.freeze_panes = "C4"
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 32
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def as_geojson(rows, as_of: date) -> bytes:
    """Features with the region's simplified boundary (map scale) where it has one, else its point."""
    codes = [row.code for row in rows]
    shapes = dict(db.session.execute(text(
        "SELECT code, ST_AsGeoJSON(coalesce(ST_SimplifyPreserveTopology(geom, 0.005), centroid), 5) "
        "FROM region WHERE code = ANY(:codes)"), {"codes": codes}).all())
    former = former_codes(codes)
    features = [{
        "type": "Feature", "id": row.code,
        "geometry": json.loads(shapes[row.code]) if shapes.get(row.code) else None,
        "properties": {**row.as_dict(), "as_of": as_of.isoformat(), "former_code": former.get(row.code)},
    } for row in rows]
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")).encode()


def cached(key: tuple, build: Callable[[], bytes]) -> tuple[bytes, str]:
    """(file, ETag) for `key`, built once. The key carries the data version and the day, so a
    change to any KIM or report, or a new day (the window moves), is a new entry."""
    return shared.get_or_build(key, build), shared_cache.digest(key)
