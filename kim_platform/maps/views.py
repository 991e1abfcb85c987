"""/peta, the national map, and the vector tiles it draws."""
import gzip

from flask import Blueprint, abort, current_app, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kim_platform.core.api_errors import api_error_response
from kim_platform.core.i18n import current_locale
from kim_platform.core.maps import embed, new_map
from kim_platform.kims.models import STATUS_LABELS, STATUSES
from kim_platform.kims.queries import bidang_family, bidang_list, status_choices
from kim_platform.maps import tiles
from kim_platform.maps.slots import HEALTH_FILTERS, NOT_ASSESSED, TILE_FILTERS

bp = Blueprint("maps", __name__)


def layer_settings() -> dict:
    """What static/js/national-map.js needs to draw the KIM and coverage layers on any map."""
    def template(layer):
        return url_for("maps.tile", layer=layer, z="0", x="0", y="0").replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf")

    return {"kim_tiles": template("kims"), "region_tiles": template("regions"),
            "points_from_zoom": tiles.POINTS_FROM_ZOOM}


def init_app(app) -> None:
    from kim_platform.maps.prepare import prepare_region_geoms
    from kim_platform.regions.references import register_apply_hook

    app.jinja_env.globals["map_layer_settings"] = layer_settings
    # A new Kepmendagri: the outlines of the new codes on the map, the retired ones off it.
    register_apply_hook(app, "maps.region_tiles", after=prepare_region_geoms)


@bp.get("/peta")
def national_map():
    """Every KIM and the coverage of every region, loaded tile by tile as the map moves."""
    fmap = new_map(location=(-2.5, 118.0), zoom_start=5)
    locale = current_locale()
    return render_template(
        "maps/national.html", national_map=embed(fmap), map_var=fmap.get_name(),
        bidang=[(b.slug, b.label(locale), b.parent_slug) for b in bidang_list()],
        statuses=status_choices(current_user), status_labels=STATUS_LABELS,
        health_filters=HEALTH_FILTERS if TILE_FILTERS.entries() else (), not_assessed=NOT_ASSESSED,
    )


def _tile_error(field: str, message: str):
    from werkzeug.exceptions import BadRequest

    error = BadRequest()
    error.data = {"message": message, "errors": {field: [message]}}
    return api_error_response(error, message)


@bp.get("/tiles/<layer>/<z>/<x>/<y>.pbf")
def tile(layer: str, z: str, x: str, y: str):
    """A Mapbox vector tile: 204 when empty, ETag and caching, gzip when accepted."""
    if layer not in ("kims", "regions"):
        abort(404)
    try:
        z, x, y = tiles.parse_tile(z, x, y)
    except tiles.TileError as error:
        return _tile_error(error.field, str(error))
    filters = {}
    if layer == "kims":
        # Every filter value is checked before the cache is asked: a made-up value would
        # otherwise build, store and evict a tile of its own.
        bidang = request.args.get("bidang")
        status = request.args.get("status")
        active = request.args.get("active", "")
        health = request.args.get("health")
        family = bidang_family(bidang) if bidang else None
        if bidang and family is None:
            return _tile_error("bidang", _("Unknown bidang."))
        if status and status not in STATUSES:
            return _tile_error("status", _("Unknown status."))
        if active not in ("", "0", "1"):
            return _tile_error("active", _("Use active=1, or leave it out."))
        if health and (health not in HEALTH_FILTERS or not TILE_FILTERS.entries()):
            return _tile_error("health", _("Unknown health state."))
        filters = {"bidang": family, "status": status, "active_only": active == "1", "health": health}
    body, etag, public = tiles.cached_tile(layer, z, x, y, current_user, **filters)
    if request.if_none_match and etag in request.if_none_match:
        response = make_response("", 304)
    elif not body:
        response = make_response("", 204)
    else:
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response = make_response(body)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = make_response(gzip.decompress(body))
        response.mimetype = "application/vnd.mapbox-vector-tile"
    response.set_etag(etag)
    response.headers["Vary"] = "Accept-Encoding, Cookie"
    max_age = current_app.config.get("TILE_MAX_AGE", 300)
    response.headers["Cache-Control"] = f"public, max-age={max_age}" if public else "private, max-age=60"
    return response
