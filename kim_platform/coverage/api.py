"""/api/v1/coverage."""
import marshmallow as ma
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint, abort

from kim_platform.api.schemas import error_responses
from kim_platform.coverage import queries
from kim_platform.regions.codes import CODE_RE, LEVELS, level_of
from kim_platform.regions.queries import get_region

blp = Blueprint("coverage_api", __name__, description="Coverage of desa by (active) KIMs")


class CoverageArgs(ma.Schema):
    level = ma.fields.String(load_default="provinsi", validate=ma.validate.OneOf(LEVELS))
    parent = ma.fields.String(validate=ma.validate.Regexp(CODE_RE, error="Not a valid region code."))
    window_days = ma.fields.Integer(load_default=queries.DEFAULT_WINDOW_DAYS, validate=ma.validate.Range(min=1, max=730))


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
    def get(self, level, window_days, parent=None):
        """Coverage of every region of `level` below `parent` (desa only below a kecamatan)."""
        from datetime import date

        if parent and get_region(parent) is None:
            abort(404, message=_("No region with this code."))
        if parent and LEVELS.index(level) <= LEVELS.index(level_of(parent)):
            abort(400, message=_("The level must be below the parent."), errors={"level": [_("Below the parent.")]})
        if level == "desa" and (not parent or level_of(parent) != "kecamatan"):
            abort(400, message=_("Desa lists need a kecamatan as parent."),
                  errors={"parent": [_("Give a kecamatan code.")]})
        rows = queries.coverage_rows(level, parent, window_days)
        return {"level": level, "parent": parent, "window_days": window_days, "as_of": date.today(),
                "items": [row.as_dict() for row in rows]}


class GapsArgs(ma.Schema):
    level = ma.fields.String(load_default="kabupaten", validate=ma.validate.OneOf(["kabupaten", "kecamatan"]))
    parent = ma.fields.String(validate=ma.validate.Regexp(CODE_RE, error="Not a valid region code."))


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
        """Blank spots: kabupaten/kota or kecamatan below `parent` without any verified KIM."""
        if parent and get_region(parent) is None:
            abort(404, message=_("No region with this code."))
        items = queries.gaps(level, parent)
        return {"level": level, "parent": parent, "total": len(items), "items": items}
