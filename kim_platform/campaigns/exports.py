"""A campaign's reach by region as CSV (UTF-8 with BOM, for Excel), XLSX and GeoJSON (each
region's point with its figures). Regions and counts only: no names of people, no contacts."""
import csv
import io
import json
from datetime import date

from kim_platform.campaigns.reach import region_points

COLUMNS = ("code", "name", "level", "kims_targeted", "kims_reached", "kims_pct", "desa_targeted", "desa_reached",
           "desa_pct", "people", "disseminations", "share_visits", "share_visitors")


def as_csv(rows, as_of: date) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS + ("as_of",))
    for row in rows:
        data = row.as_dict()
        writer.writerow([data[c] for c in COLUMNS] + [as_of.isoformat()])
    # The byte-order mark makes Excel read the file as UTF-8.
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def as_xlsx(rows, as_of: date, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Jangkauan"
    # A title is the campaign's own text: never let a spreadsheet read it as a formula.
    sheet.append([("'" + title) if title[:1] in ("=", "+", "-", "@") else title])
    sheet["A1"].font = Font(bold=True)
    sheet.append([f"Data per {as_of.isoformat()}"])
    sheet.append(list(COLUMNS))
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in rows:
        data = row.as_dict()
        sheet.append([data[c] for c in COLUMNS])
    sheet.freeze_panes = "C4"
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 32
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def as_geojson(rows, as_of: date) -> bytes:
    """One point feature per region (its centroid; none when the region has no point)."""
    points = region_points(row.code for row in rows)
    features = [{
        "type": "Feature", "id": row.code,
        "geometry": ({"type": "Point", "coordinates": [round(points[row.code][1], 6), round(points[row.code][0], 6)]}
                     if row.code in points else None),
        "properties": {**row.as_dict(), "as_of": as_of.isoformat()},
    } for row in rows]
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")).encode()
