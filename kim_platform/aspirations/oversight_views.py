"""Oversight pages for pembina and the directorate (on the aspirations blueprint): time to answer
per region with its map (/aspirasi/kinerja), repeated topics (/aspirasi/berulang), and the exports
of the queue's items and of the time-to-answer table, without personal data.

Who: pembina (regions inside their scope; they land on their scope) and the directorate (from the
provinces down); a KIM member or volunteer gets 403, a region outside the scope 403 as well.
"""

from flask import Response, abort, current_app, render_template, request, send_file, stream_with_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from kim_platform import permissions
from kim_platform.aspirations import exports, performance as figures
from kim_platform.aspirations.models import TOPIC_LABELS
from kim_platform.aspirations.views import bp, queue_filters
from kim_platform.core import clock, spreadsheet
from kim_platform.core.maps import OUTLINE_STYLE, PageMap, embed
from kim_platform.core.pagination import int_arg
from kim_platform.regions.codes import CODE_RE, ancestor_codes
from kim_platform.regions.queries import boundary_geojson, get_region, region_extent, regions_by_code

LEVEL_LABELS = {"provinsi": _l("Province"), "kabupaten": _l("Kabupaten/kota"), "kecamatan": _l("District (kecamatan)"),
                "desa": _l("Desa/kelurahan")}
SORTABLE = ("code", "name", "received", "answered", "median_hours", "in_time_pct", "overdue", "escalated")
FORMATS = ("csv", "xlsx")


def _oversight_region(allow_desa: bool = False):
    """The region of ?wilayah= (None: Indonesia): a pembina lands on their scope; a code that is no
    region is a 404; one outside the viewer's scope a 403."""
    if not permissions.can(current_user, "aspiration.oversight"):
        abort(403)
    code = request.args.get("wilayah", "").strip()
    if not code and not permissions.is_direktorat(current_user):
        code = permissions.pembina_scope(current_user)
    if not code:
        return None
    region = get_region(code) if CODE_RE.match(code) else None
    if region is None or (region.level == "desa" and not allow_desa):
        abort(404)
    if not permissions.aspiration_oversight_region_allowed(current_user, region.code):
        abort(403)
    return region


def _days() -> int:
    """?hari=90 or 365; anything else is the default window."""
    days = int_arg("hari", figures.DEFAULT_WINDOW, 1, 10_000)
    return days if days in figures.WINDOWS else figures.DEFAULT_WINDOW


def _breadcrumb(region) -> list:
    """The region and those above it that the viewer may open (a pembina: up to their scope)."""
    if region is None:
        return []
    codes = [c for c in (*reversed(ancestor_codes(region.code)), region.code)
             if permissions.aspiration_oversight_region_allowed(current_user, c)]
    found = regions_by_code(codes)
    return [found[c] for c in codes if c in found]


@bp.get("/aspirasi/kinerja")
@login_required
def performance():
    """Time to the first answer per child region (sortable, drilling down), with a map."""
    region = _oversight_region()
    days = _days()
    result = figures.performance(current_user, region.code if region else None, days)
    sort = request.args.get("urut") if request.args.get("urut") in SORTABLE else "code"
    descending = request.args.get("arah") == "turun"
    # Rows without the figure (no answer yet: no median) come last whichever the direction.
    known = sorted((r for r in result.rows if getattr(r, sort) is not None), key=lambda r: getattr(r, sort),
                   reverse=descending)
    result.rows = known + [r for r in result.rows if getattr(r, sort) is None]
    fmap = _performance_map(region, result.rows)
    return render_template(
        "aspirations/performance.html", result=result, region=region, days=days, windows=figures.WINDOWS,
        sort=sort, descending=descending, breadcrumb=_breadcrumb(region), level_labels=LEVEL_LABELS,
        drill=result.level != "desa", performance_map=embed(fmap), national=permissions.is_direktorat(current_user))


def _performance_map(region, rows):
    """The region's outline and one circle per row at its centroid, sized by the items received:
    red with items overdue now, amber when under 80% came within the deadline, green otherwise."""
    extent = region_extent(region.code) if region else None
    fmap = PageMap(location=extent.centroid if extent and extent.centroid else (-2.5, 118.0),
                   zoom_start=8 if region else 5)
    if region:
        shape = boundary_geojson(region.code)
        if shape:
            fmap.add_geojson(shape, OUTLINE_STYLE)
        if extent.bbox:
            minlon, minlat, maxlon, maxlat = extent.bbox
            fmap.fit_bounds([[minlat, minlon], [maxlat, maxlon]])
    for row in rows:
        if row.lat is None or not (row.received or row.overdue):
            continue
        colour = ("#b00020" if row.overdue else "#a05a00" if row.in_time_pct is not None and row.in_time_pct < 80
                  else "#0b6e4f")
        median = "–" if row.median_hours is None else row.median_hours
        fmap.add_circle([row.lat, row.lon], 5 + min(row.received, 200) ** 0.5, colour, 0.8, _(
            "%(name)s: %(received)d items, %(answered)d answered, median %(median)s hours, %(overdue)d overdue",
            name=row.name, received=row.received, answered=row.answered, median=median, overdue=row.overdue))
    return fmap


def _repeat_min() -> int:
    default = current_app.config.get("ASPIRATION_REPEAT_MIN_ITEMS", figures.REPEAT_MIN_ITEMS)
    return int_arg("min", default, 2, 1000)


@bp.get("/aspirasi/berulang")
@login_required
def repeated():
    """The same topic raised again and again in one kecamatan (or desa) within the window."""
    region = _oversight_region(allow_desa=True)
    days = _days()
    level = request.args.get("tingkat") if request.args.get("tingkat") in figures.REPEAT_LEVELS else "kecamatan"
    min_items = _repeat_min()
    rows = figures.repeated_topics(current_user, region.code if region else None, days, min_items, level)
    return render_template(
        "aspirations/repeated.html", rows=rows, region=region, days=days, windows=figures.WINDOWS, level=level,
        levels=figures.REPEAT_LEVELS, min_items=min_items, breadcrumb=_breadcrumb(region), level_labels=LEVEL_LABELS,
        topic_labels=TOPIC_LABELS, limit=figures.REPEAT_LIMIT)


def _file_response(fmt: str, name: str, header, rows, sheet: str, title: str):
    """A CSV streamed as it is read, or an XLSX from its temporary file; never cached."""
    filename = f"{name}-{clock.today().isoformat()}.{fmt}"
    if fmt == "csv":
        response = Response(stream_with_context(spreadsheet.csv_chunks(header, rows)),
                            mimetype=spreadsheet.CSV_MIMETYPE)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        response = send_file(spreadsheet.xlsx_file(sheet, header, rows, title), mimetype=spreadsheet.XLSX_MIMETYPE,
                             as_attachment=True, download_name=filename, conditional=False, etag=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/aspirasi/ekspor.<fmt>")
@login_required
def export_items(fmt: str):
    """The items of the queue (its filters apply) that the viewer may see, without personal data."""
    if fmt not in FORMATS:
        abort(404)
    if not permissions.can(current_user, "aspiration.oversight"):
        abort(403)
    filters = queue_filters()
    rows = exports.item_rows(current_user, **filters)
    return _file_response(fmt, f"aspirasi-{filters['region'] or 'semua'}", exports.ITEM_COLUMNS, rows,
                          "Aspirasi", _("Aspirations and hoax reports, without personal data"))


@bp.get("/aspirasi/kinerja/ekspor.<fmt>")
@login_required
def export_performance(fmt: str):
    """The time-to-answer table of the page (same region and window) as a file."""
    if fmt not in FORMATS:
        abort(404)
    region = _oversight_region()
    days = _days()
    result = figures.performance(current_user, region.code if region else None, days)
    title = _("Time to answer: %(region)s, last %(days)d days", region=region.title if region else _("Indonesia"),
              days=days)
    return _file_response(fmt, f"kinerja-aspirasi-{region.code if region else 'indonesia'}-{days}",
                          exports.PERFORMANCE_COLUMNS, exports.performance_rows(result), "Kinerja", title)

