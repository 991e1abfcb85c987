"""/cakupan: coverage tables from the nation down to the desa."""

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from kim_platform import permissions
from kim_platform.core import clock
from kim_platform.core.maps import PageMap, embed
from kim_platform.coverage import exports, queries
from kim_platform.core.charts import line_chart
from kim_platform.maps.tiles import data_version
from kim_platform.regions.codes import CODE_RE
from kim_platform.regions.queries import ancestors_of, get_region, region_extent

bp = Blueprint("coverage", __name__)
SORTABLE = ("code", "name", "desa_total", "desa_covered", "desa_active", "coverage_pct", "active_pct",
            "kim_verified", "kim_active", "activities_window", "activities_delta")


def _region_arg():
    code = request.args.get("wilayah", "").strip()
    if not code:
        return None
    region = get_region(code) if CODE_RE.match(code) else None
    if region is None or region.level == "desa":
        abort(404)
    return region


@bp.get("/cakupan")
def index():
    """National summary and provinces; ?wilayah= drills down to kabupaten, kecamatan, desa.
    A pembina lands on their own region."""
    scope = permissions.pembina_scope(current_user)
    if "wilayah" not in request.args and scope and not permissions.is_direktorat(current_user):
        return redirect(url_for("coverage.index", wilayah=scope))
    region = _region_arg()
    total, rows = queries.summary(region.code if region else None)
    sort = request.args.get("urut") if request.args.get("urut") in SORTABLE else "code"
    descending = request.args.get("arah") == "turun"
    rows.sort(key=lambda row: getattr(row, sort), reverse=descending)
    at_kecamatan = region is not None and region.level == "kecamatan"
    nearby = queries.nearby_uncovered_desa(region.code) if at_kecamatan else []
    kims_by_desa = queries.kims_by_desa(region.code) if at_kecamatan else {}
    points = queries.timeseries(region.code if region else None)
    fmap = _coverage_map(region)
    return render_template("coverage/index.html", region=region, ancestors=ancestors_of(region) if region else [],
                           total=total, rows=rows, sort=sort, descending=descending, nearby=nearby,
                           kims_by_desa=kims_by_desa, points=points, chart=_chart(points),
                           window_days=queries.window_days_setting(), coverage_map=embed(fmap),
                           map_var=fmap.get_name())


def _chart(points):
    labels = [format_date(p.month, "MMM yy") for p in points]
    return line_chart(labels, [
        ("verified", _("Verified KIMs"), [p.kim_verified for p in points]),
        ("active", _("KIMs with a report that month"), [p.kim_active for p in points]),
        ("desa", _("Desa with such a KIM"), [p.desa_active for p in points]),
    ])


def _coverage_map(region):
    """The map's coverage layer, centred on the region (the nation without one)."""
    if region is None:
        return PageMap(location=(-2.5, 118.0), zoom_start=4)
    extent = region_extent(region.code)
    fmap = PageMap(location=extent.centroid or (-2.5, 118.0), zoom_start=8)
    if extent.bbox:
        minlon, minlat, maxlon, maxlat = extent.bbox
        fmap.fit_bounds([[minlat, minlon], [maxlat, maxlon]])
    return fmap


EXPORTS = {
    "csv": ("text/csv; charset=utf-8", lambda rows, as_of, title: exports.as_csv(rows, as_of)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", exports.as_xlsx),
    "geojson": ("application/geo+json", lambda rows, as_of, title: exports.as_geojson(rows, as_of)),
}


@bp.get("/cakupan/ekspor.<fmt>")
def export(fmt: str):
    """The table on the page, as a file that opens in a spreadsheet or a GIS (cached per data version)."""
    if fmt not in EXPORTS:
        abort(404)
    region = _region_arg()
    as_of = clock.today()
    title = f"Cakupan KIM {region.title if region else 'Indonesia'}"
    mimetype, render = EXPORTS[fmt]
    code = region.code if region else None
    # The health figures change with the daily run, not with a KIM or a report: their version too.
    key = (fmt, code, title, as_of, queries.window_days_setting(), data_version(), queries.health_version())
    body, etag = exports.cached(key, lambda: render(queries.summary(code)[1], as_of, title))
    fresh = request.if_none_match and etag in request.if_none_match
    response = make_response("", 304) if fresh else make_response(body)
    response.headers["Content-Type"] = mimetype
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=300"
    name = f"cakupan-{code or 'indonesia'}-{as_of.isoformat()}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
