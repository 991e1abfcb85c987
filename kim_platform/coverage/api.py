"""/api/v1/coverage."""
import marshmallow as ma
from flask import jsonify
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint, abort

from kim_platform.api.schemas import error_responses
from kim_platform.core import clock
from kim_platform.coverage import queries
from kim_platform.regions.api import RegionCode, region_or_404
from kim_platform.regions.codes import LEVELS, level_of

blp = Blueprint("coverage_api", __name__, description="Coverage of desa by (active) KIMs")


class CoverageArgs(ma.Schema):
    level = ma.fields.String(load_default="provinsi", validate=ma.validate.OneOf(LEVELS))
    parent = RegionCode()
    window_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=730),
                                    metadata={"description": "default: the KIM_COVERAGE_WINDOW_DAYS setting (90)"})


class CoverageRowSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    level = ma.fields.String(required=True)
    desa_total = ma.fields.Integer(required=True)
    desa_covered = ma.fields.Integer(required=True)
    desa_active = ma.fields.Integer(required=True)
    coverage_pct = ma.fields.Float(required=True)
    active_pct = ma.fields.Float(required=True)
    kim_verified = ma.fields.Integer(required=True)
    kim_active = ma.fields.Integer(required=True)
    activities_window = ma.fields.Integer(required=True)
    activities_previous = ma.fields.Integer(required=True, metadata={"description": "the window before"})
    activities_delta = ma.fields.Integer(required=True)
    health_aktif = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "verified KIMs whose daily health state is aktif (a report in 90 days, a valid SK, "
                       "pengurus named, …), unlike `kim_active` (a report in the window); null before the "
                       "first daily run"})
    health_perlu_pendampingan = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "verified KIMs whose daily health state is perlu pendampingan (needs support)"})
    health_vakum = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "verified KIMs whose daily health state is vakum (no report for 180 days or more)"})
    health_as_of = ma.fields.Date(required=True, allow_none=True, metadata={
        "description": "the day of the daily run the health figures come from"})


class CoverageSchema(ma.Schema):
    level = ma.fields.String(required=True)
    parent = ma.fields.String(allow_none=True)
    window_days = ma.fields.Integer(required=True)
    as_of = ma.fields.Date(required=True)
    items = ma.fields.List(ma.fields.Nested(CoverageRowSchema), required=True)


@blp.route("")
class Coverage(MethodView):
    @blp.arguments(CoverageArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, CoverageSchema)
    @error_responses(blp, 400, 404)
    def get(self, level, window_days=None, parent=None):
        """Coverage of every region of `level` below `parent` (desa only below a kecamatan)."""
        region_or_404(parent)
        if parent and LEVELS.index(level) <= LEVELS.index(level_of(parent)):
            abort(400, message=_("The level must be below the parent."), errors={"level": [_("Below the parent.")]})
        if level == "desa" and (not parent or level_of(parent) != "kecamatan"):
            abort(400, message=_("Desa lists need a kecamatan as parent."),
                  errors={"parent": [_("Give a kecamatan code.")]})
        if level == "kecamatan" and not parent:
            abort(400, message=_("Kecamatan lists need a provinsi or kabupaten/kota as parent."),
                  errors={"parent": [_("Give a provinsi or kabupaten/kota code.")]})
        window_days = window_days or queries.window_days_setting()
        rows = queries.coverage_rows(level, parent, window_days)
        # Plain dicts of ints and strings already match the schema: serialising 700 rows through
        # marshmallow would cost more than the query.
        return jsonify({"level": level, "parent": parent, "window_days": window_days,
                        "as_of": clock.today().isoformat(), "items": [row.as_dict() for row in rows]})


class GapsArgs(ma.Schema):
    level = ma.fields.String(load_default="kabupaten", validate=ma.validate.OneOf(["kabupaten", "kecamatan"]))
    parent = RegionCode()


class GapSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    parent_code = ma.fields.String(required=True)
    desa_total = ma.fields.Integer(required=True)


class GapsSchema(ma.Schema):
    level = ma.fields.String(required=True)
    parent = ma.fields.String(allow_none=True)
    total = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(GapSchema), required=True)


@blp.route("/gaps")
class Gaps(MethodView):
    @blp.arguments(GapsArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, GapsSchema)
    @error_responses(blp, 400, 404)
    def get(self, level, parent=None):
        """Blank spots: kabupaten/kota or kecamatan below `parent` without any verified KIM.
        Kecamatan need a provinsi or kabupaten/kota as parent (the nation's 7,285 would cost
        a third of a second per anonymous call)."""
        region_or_404(parent)
        if level == "kecamatan" and not parent:
            abort(400, message=_("Kecamatan lists need a provinsi or kabupaten/kota as parent."),
                  errors={"parent": [_("Give a provinsi or kabupaten/kota code.")]})
        items = queries.gaps(level, parent)
        return {"level": level, "parent": parent, "total": len(items), "items": items}


class TimeseriesArgs(ma.Schema):
    region = RegionCode(metadata={"description": "a region code; the nation without it"})
    months = ma.fields.Integer(load_default=24, validate=ma.validate.Range(min=1, max=60))


class MonthPointSchema(ma.Schema):
    month = ma.fields.String(required=True, metadata={"description": "YYYY-MM"})
    kim_verified = ma.fields.Integer(required=True, metadata={"description": "verified KIMs at the month's end"})
    kim_active = ma.fields.Integer(required=True,
                                   metadata={"description": "verified KIMs with a published report dated in the month"})
    desa_active = ma.fields.Integer(required=True, metadata={"description": "desa with such a KIM"})
    activities = ma.fields.Integer(required=True, metadata={"description": "published reports dated in the month"})


class TimeseriesSchema(ma.Schema):
    region = ma.fields.String(allow_none=True)
    name = ma.fields.String(required=True)
    months = ma.fields.Integer(required=True)
    as_of = ma.fields.Date(required=True)
    items = ma.fields.List(ma.fields.Nested(MonthPointSchema), required=True)


@blp.route("/timeseries")
class Timeseries(MethodView):
    @blp.arguments(TimeseriesArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, TimeseriesSchema)
    @error_responses(blp, 400, 404)
    def get(self, months, region=None):
        """Monthly figures of a region (the nation without `region`), oldest first, this month last."""
        found = region_or_404(region)
        points = queries.timeseries(region, months)
        return {"region": region, "name": found.title if found else "Indonesia", "months": months,
                "as_of": clock.today(),
                "items": [{**point.as_dict(), "month": point.month.strftime("%Y-%m")} for point in points]}
