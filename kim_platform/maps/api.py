"""/api/v1/map: small lookups behind the map's clicks."""
import marshmallow as ma
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint, abort

from kim_platform.api.schemas import error_responses
from kim_platform.maps import tiles

blp = Blueprint("map_api", __name__, description="Map interaction")


class RegionAtArgs(ma.Schema):
    lat = ma.fields.Float(required=True, validate=ma.validate.Range(min=-90, max=90), allow_nan=False)
    lon = ma.fields.Float(required=True, validate=ma.validate.Range(min=-180, max=180), allow_nan=False)
    zoom = ma.fields.Integer(load_default=5, validate=ma.validate.Range(min=0, max=tiles.MAX_ZOOM))


class RegionAtSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    level = ma.fields.String(required=True)
    desa_total = ma.fields.Integer(required=True)
    desa_covered = ma.fields.Integer(required=True)
    kim_verified = ma.fields.Integer(required=True)
    coverage_pct = ma.fields.Float(required=True)


@blp.route("/region-at")
class RegionAt(MethodView):
    @blp.arguments(RegionAtArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, RegionAtSchema)
    @error_responses(blp, 400, 404)
    def get(self, lat, lon, zoom):
        """The region under a point at the map's level for `zoom` (provinsi, kabupaten/kota or
        kecamatan), with its coverage: desa with a verified KIM out of all desa."""
        region = tiles.region_at(lat, lon, zoom)
        if region is None:
            abort(404, message=_("No region here."))
        return region
