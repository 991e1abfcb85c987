"""The campaign reach dashboard (/kampanye/<id>/jangkauan), its exports, and the national view of
every campaign's reach for the directorate (/kampanye/nasional)."""

from flask import Blueprint, abort, make_response, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kim_platform import permissions
from kim_platform.campaigns import exports, queries, reach
from kim_platform.campaigns.models import STATUS_LABELS
from kim_platform.core.charts import line_chart
from kim_platform.core import clock
from kim_platform.core.domain import DomainError
from kim_platform.core.maps import OUTLINE_STYLE, PageMap, embed
from kim_platform.core.pagination import int_arg
from kim_platform.regions.codes import LEVELS, parent_of
from kim_platform.regions.queries import boundary_geojson, region_extent, regions_by_code

bp = Blueprint("campaign_reach", __name__)
SORTABLE = ("code", "name", "kims_targeted", "kims_reached", "kims_pct", "desa_targeted", "desa_reached", "desa_pct",
            "people", "disseminations", "share_visits")
REACHED_COLOUR, REACHED_OPACITY = "#0b6e4f", 0.85
LEVEL_LABELS = {"provinsi": "Provinsi", "kabupaten": "Kabupaten/Kota", "kecamatan": "Kecamatan",
                "desa": "Desa/Kelurahan"}


def _campaign_for_reach(campaign_id: int):
    """The campaign, 404 when the viewer may not see it, 403 when they may not see its reach."""
    campaign = queries.get_campaign(campaign_id)
    if campaign is None or not permissions.campaign_visible(current_user, campaign):
        abort(404)
    if not permissions.can(current_user, "campaign.reach", campaign):
        abort(403)
    return campaign


def _view(campaign):
    try:
        return reach.resolve_view(campaign, request.args.get("level"), request.args.get("parent"))
    except DomainError as error:
        abort(error.http_status)


@bp.get("/kampanye/<int:campaign_id>/jangkauan")
@login_required
def dashboard(campaign_id: int):
    """Headline, table by region (sortable, drill-down), map of reached desa, daily line, gaps."""
    campaign = _campaign_for_reach(campaign_id)
    view = _view(campaign)
    board = reach.dashboard(campaign, view.level, view.parent)
    sort = request.args.get("urut") if request.args.get("urut") in SORTABLE else "code"
    descending = request.args.get("arah") == "turun"
    board.rows.sort(key=lambda row: getattr(row, sort), reverse=descending)
    parents = regions_by_code(_breadcrumb_codes(view.parent)) if view.parent else {}
    fmap = _reach_map(campaign, view, board.rows)
    chart = line_chart([format_date(d.day, "d MMM") for d in board.daily],
                       [("people", _("People reached offline"), [d.people for d in board.daily])])
    child_level = LEVELS[LEVELS.index(view.level) + 1] if view.level != "desa" else None
    return render_template(
        "campaigns/dashboard.html", campaign=campaign, board=board, view=view, sort=sort, descending=descending,
        breadcrumb=[parents[c] for c in _breadcrumb_codes(view.parent) if c in parents], chart=chart,
        reach_map=embed(fmap), child_level=child_level, level_labels=LEVEL_LABELS, status_labels=STATUS_LABELS,
        targets=queries.region_names(campaign.target_codes))


def _breadcrumb_codes(code):
    codes = []
    while code:
        codes.insert(0, code)
        code = parent_of(code)
    return codes


def _reach_map(campaign, view, rows):
    """The target's outline (of the parent, or the single target) and the reached desa as points;
    when there are too many to draw, one circle per region of the table, sized by desa reached."""
    outline = view.parent or (campaign.target_codes[0] if len(campaign.target_codes) == 1 else None)
    extent = region_extent(outline) if outline else None
    fmap = PageMap(location=(extent.centroid if extent and extent.centroid else (-2.5, 118.0)),
                   zoom_start=8 if outline else 5)
    if outline:
        shape = boundary_geojson(outline)
        if shape:
            fmap.add_geojson(shape, OUTLINE_STYLE)
        if extent.bbox:
            minlon, minlat, maxlon, maxlat = extent.bbox
            fmap.fit_bounds([[minlat, minlon], [maxlat, maxlon]])
    points = reach.reached_desa_points(campaign, view.parent)
    if len(points) <= reach.MAP_POINTS:
        for lat, lon, name, reports, people in points:
            fmap.add_circle([lat, lon], 5, REACHED_COLOUR, REACHED_OPACITY,
                            _("%(name)s: %(n)d disseminations, %(people)d people", name=name, n=reports,
                              people=people))
    else:
        centres = reach.region_points(row.code for row in rows)
        for row in rows:
            if row.code in centres and row.desa_reached:
                fmap.add_circle(list(centres[row.code]), 4 + min(row.desa_pct, 100) / 8, REACHED_COLOUR,
                                REACHED_OPACITY, _("%(name)s: %(reached)d of %(total)d desa reached", name=row.name,
                                                   reached=row.desa_reached, total=row.desa_targeted))
    return fmap


EXPORTS = {
    "csv": ("text/csv; charset=utf-8", lambda rows, as_of, title: exports.as_csv(rows, as_of)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", exports.as_xlsx),
    "geojson": ("application/geo+json", lambda rows, as_of, title: exports.as_geojson(rows, as_of)),
}


@bp.get("/kampanye/<int:campaign_id>/jangkauan/ekspor.<fmt>")
@login_required
def export(campaign_id: int, fmt: str):
    """The dashboard's table (same level and parent) as a file for a spreadsheet or a GIS."""
    if fmt not in EXPORTS:
        abort(404)
    campaign = _campaign_for_reach(campaign_id)
    view = _view(campaign)
    as_of = clock.today()
    mimetype, render = EXPORTS[fmt]
    body = render(reach.rows(campaign, view), as_of, f"Jangkauan kampanye: {campaign.title}")
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Cache-Control"] = "private, no-store"
    name = f"jangkauan-kampanye-{campaign.id}-{view.parent or 'target'}-{view.level}-{as_of.isoformat()}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/kampanye/nasional")
@login_required
def national():
    """Every campaign with its reach side by side (the directorate), newest first, by cursor."""
    if not permissions.can(current_user, "campaign.national"):
        abort(403)
    cursor = int_arg("sebelum", 0, 0, 2**62) or None
    page, items = reach.national_page(current_user, cursor=cursor, per_page=20)
    return render_template("campaigns/national.html", page=page, items=items, status_labels=STATUS_LABELS)
