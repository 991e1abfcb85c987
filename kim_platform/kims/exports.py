"""The KIM directory as a file (GeoJSON for a GIS, XLSX for a spreadsheet), for a region or the
whole of Indonesia, built in the background (core/exports.py) from what an anonymous visitor sees:
verified and inactive KIMs (the public statuses of the one visibility rule), their public fields,
never their members. One file therefore serves everyone who asks for the same region and format.

Rows are read through a server-side cursor in batches and written as they come, so a national file
(84,000 KIMs) never sits in memory as rows: the GeoJSON is written feature by feature, the XLSX in
openpyxl's write-only mode."""
import json
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ARRAY, Text, func, select
from sqlalchemy.orm import aliased

from kim_platform.core import clock
from kim_platform.core.exports import ExportError, export_kind
from kim_platform.core.spreadsheet import xlsx_file
from kim_platform.core.urls import absolute_url
from kim_platform.extensions import db
from kim_platform.kims import queries
from kim_platform.kims.models import Kim
from kim_platform.regions.codes import CODE_RE
from kim_platform.regions.models import Region

KIND = "kim_directory"
BATCH = 2000
# The columns of the file, in order: the public fields of a KIM and the names of its regions.
COLUMNS = ("id", "number", "name", "status", "bidang", "desa_code", "desa", "kecamatan", "kabupaten_kota",
           "provinsi", "lat", "lon", "founded_on", "sk_number", "sk_issuer", "sk_date", "sk_valid_until",
           "whatsapp", "email", "verified_at", "last_activity_on", "url")


def parse_params(raw: dict) -> dict:
    """{"region": a region code or None (the whole of Indonesia)}; an unknown code is refused."""
    code = (raw.get("region") or raw.get("wilayah") or "").strip() or None
    if code is None:
        return {"region": None}
    if not CODE_RE.match(code) or db.session.get(Region, code) is None:
        raise ExportError(_l("There is no region with this code."),
                          fields={"region": _l("There is no region with this code.")})
    return {"region": code}


def filename(params: dict, fmt: str) -> str:
    return f"direktori-kim-{params.get('region') or 'indonesia'}.{fmt}"


def directory_statement(region: str | None):
    """The public directory's rows, in id order (the order of the file), with region names."""
    listed = queries.kim_list_query(None, region=region, include_inactive=True).order_by(None).subquery()
    k = aliased(Kim, listed)
    desa, kec, kab, prov = (aliased(Region) for _ in range(4))
    parts = func.string_to_array(k.desa_code, ".", type_=ARRAY(Text))
    prefix = lambda n: func.array_to_string(parts[1:n], ".")  # noqa: E731 (the code of the ancestor at level n)
    return (select(k.id, k.number, k.slug, k.name, k.status, k.bidang, k.desa_code, desa.name, kec.name,
                   kab.name, prov.name, func.ST_Y(k.point), func.ST_X(k.point), k.founded_on, k.sk_number,
                   k.sk_issuer, k.sk_date, k.sk_valid_until, k.whatsapp, k.email, k.verified_at,
                   k.last_activity_on)
            .outerjoin(desa, desa.code == k.desa_code)
            .outerjoin(kec, kec.code == prefix(3))
            .outerjoin(kab, kab.code == prefix(2))
            .outerjoin(prov, prov.code == prefix(1))
            .order_by(k.id))


def directory_rows(region: str | None):
    """The directory as tuples in COLUMNS order, streamed (a server-side cursor)."""
    result = db.session.execute(directory_statement(region).execution_options(yield_per=BATCH))
    for row in result:
        (kim_id, number, slug, name, status, bidang, desa_code, desa, kec, kab, prov, lat, lon, founded_on,
         sk_number, sk_issuer, sk_date, sk_valid_until, whatsapp, email, verified_at, last_activity_on) = row
        yield (kim_id, number, name, status, ", ".join(bidang or ()), desa_code, desa, kec, kab, prov, lat, lon,
               founded_on, sk_number, sk_issuer, sk_date, sk_valid_until, whatsapp, email, verified_at,
               last_activity_on, absolute_url("kims.profile", ref=number or slug))


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def write_geojson(params: dict, out) -> int:
    """A FeatureCollection of points, one feature per KIM, the fields as properties."""
    as_of = clock.utcnow().isoformat()
    out.write(json.dumps({"type": "FeatureCollection", "generated_at": as_of,
                          "region": params.get("region")})[:-1].encode())
    out.write(b', "features": [')
    rows = 0
    properties = [c for c in COLUMNS if c not in ("lat", "lon")]
    for row in directory_rows(params.get("region")):
        record = dict(zip(COLUMNS, row))
        record["bidang"] = [part for part in (record["bidang"] or "").split(", ") if part]
        feature = {"type": "Feature", "id": record["id"],
                   "geometry": ({"type": "Point", "coordinates": [round(record["lon"], 6), round(record["lat"], 6)]}
                                if record["lat"] is not None else None),
                   "properties": {c: _json_value(record[c]) for c in properties}}
        out.write((b"," if rows else b"") + json.dumps(feature, ensure_ascii=False, separators=(",", ":")).encode())
        rows += 1
    out.write(b"]}")
    return rows


def write_xlsx(params: dict, out) -> int:
    """One sheet, a title line and a header; text cells are never formulas (core/spreadsheet.py)."""
    counted = [0]

    def rows():
        for row in directory_rows(params.get("region")):
            counted[0] += 1
            yield [value.replace(tzinfo=None) if isinstance(value, datetime) else value for value in row]

    region = params.get("region")
    title = f"Direktori KIM {region or 'Indonesia'} per {clock.today().isoformat()}"
    with xlsx_file("Direktori KIM", COLUMNS, rows(), title=title) as built:
        while chunk := built.read(1 << 20):
            out.write(chunk)
    return counted[0]


def register(app) -> None:
    export_kind(app, KIND, writers={"geojson": write_geojson, "xlsx": write_xlsx}, parse=parse_params,
                filename=filename)

