"""/api/v1/aspirations/performance and /repeated (on the aspirations API blueprint): the oversight
figures of /aspirasi/kinerja and /aspirasi/berulang for pembina and the directorate. A KIM member
or volunteer gets 403; a region outside the caller's scope 403; a code that is no region 404."""
import marshmallow as ma
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import abort

from kim_platform import permissions
from kim_platform.api.schemas import error_responses
from kim_platform.aspirations import performance as figures
from kim_platform.aspirations.api import SECURITY, blp
from kim_platform.aspirations.models import TOPICS
from kim_platform.regions.codes import CODE_RE
from kim_platform.regions.queries import get_region

REGION_ABOVE_DESA = r"^\d{2}(\.\d{2}(\.\d{2})?)?$"


def _region(code: str | None, allow_desa: bool = False) -> str | None:
    """The region asked for (default: a pembina's scope; the directorate: Indonesia), checked."""
    if not permissions.can(current_user, "aspiration.oversight"):
        abort(403, message=_("Only pembina and the directorate see these figures."))
    if code is None and not permissions.is_direktorat(current_user):
        code = permissions.pembina_scope(current_user)
    if code is None:
        return None
    region = get_region(code)
    if region is None or (region.level == "desa" and not allow_desa):
        abort(404, message=_("No such region."))
    if not permissions.aspiration_oversight_region_allowed(current_user, region.code):
        abort(403, message=_("This region lies outside your scope."))
    return region.code


class PerformanceArgs(ma.Schema):
    region = ma.fields.String(validate=ma.validate.Regexp(REGION_ABOVE_DESA, error="Not a province, kabupaten or "
                                                                                   "kecamatan code."),
                              metadata={"description": "rows are its child regions; default: a pembina's scope, "
                                                       "the directorate's Indonesia (rows: provinces)"})
    days = ma.fields.Integer(load_default=figures.DEFAULT_WINDOW, validate=ma.validate.OneOf(figures.WINDOWS))


class PerformanceRowSchema(ma.Schema):
    code = ma.fields.String(allow_none=True, required=True, metadata={"description": "null: the total"})
    name = ma.fields.String(required=True)
    level = ma.fields.String(allow_none=True, required=True)
    received = ma.fields.Integer(required=True, metadata={"description": "items raised in the window"})
    answered = ma.fields.Integer(required=True, metadata={"description": "of those, answered"})
    median_hours = ma.fields.Float(allow_none=True, required=True, metadata={
        "description": "median elapsed hours from recording to the first answer (calendar time)"})
    answered_in_time = ma.fields.Integer(required=True)
    in_time_share = ma.fields.Float(allow_none=True, required=True, metadata={
        "description": "answered_in_time / answered"})
    overdue = ma.fields.Integer(required=True, metadata={"description": "waiting past their deadline now"})
    escalated = ma.fields.Integer(required=True, metadata={"description": "waiting and escalated now"})
    escalated_national = ma.fields.Integer(required=True, metadata={"description": "of those, to the directorate"})


class PerformanceSchema(ma.Schema):
    region = ma.fields.String(allow_none=True, required=True)
    level = ma.fields.String(required=True, metadata={"description": "the level of the rows"})
    days = ma.fields.Integer(required=True)
    total = ma.fields.Nested(PerformanceRowSchema, required=True)
    items = ma.fields.List(ma.fields.Nested(PerformanceRowSchema), required=True)


class RepeatedArgs(ma.Schema):
    region = ma.fields.String(validate=ma.validate.Regexp(CODE_RE, error="Not a valid region code."),
                              metadata={"description": "default: a pembina's scope, the directorate's Indonesia"})
    days = ma.fields.Integer(load_default=figures.DEFAULT_WINDOW, validate=ma.validate.OneOf(figures.WINDOWS))
    min_items = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=2, max=1000),
                                  metadata={"description": f"default {figures.REPEAT_MIN_ITEMS} "
                                                           "(KIM_ASPIRATION_REPEAT_MIN_ITEMS)"})
    level = ma.fields.String(load_default="kecamatan", validate=ma.validate.OneOf(figures.REPEAT_LEVELS))


class RepeatedSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "the kecamatan or desa"})
    name = ma.fields.String(required=True)
    kabupaten = ma.fields.String(required=True)
    kabupaten_name = ma.fields.String(required=True)
    topic = ma.fields.String(required=True, metadata={"enum": list(TOPICS)})
    items = ma.fields.Integer(required=True)
    residents = ma.fields.Integer(required=True, metadata={"description": "a duplicate's residents count once, "
                                                                          "on its original"})
    first_at = ma.fields.DateTime(required=True)
    last_at = ma.fields.DateTime(required=True)
    still_open = ma.fields.Integer(required=True)


class RepeatedPageSchema(ma.Schema):
    region = ma.fields.String(allow_none=True, required=True)
    days = ma.fields.Integer(required=True)
    level = ma.fields.String(required=True)
    min_items = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(RepeatedSchema), required=True)


@blp.route("/performance")
class AspirationPerformance(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(PerformanceArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, PerformanceSchema)
    @error_responses(blp, 400, 401, 403, 404)
    def get(self, days, region=None):
        """Time to the first answer per child region (pembina: their scope; the directorate: all)."""
        result = figures.performance(current_user, _region(region), days)
        return {"region": result.region, "level": result.level, "days": result.days,
                "total": result.total.as_dict(), "items": [row.as_dict() for row in result.rows]}


@blp.route("/repeated")
class AspirationRepeated(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(RepeatedArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, RepeatedPageSchema)
    @error_responses(blp, 400, 401, 403, 404)
    def get(self, days, level, min_items=None, region=None):
        """The same topic raised at least `min_items` times in one kecamatan (or desa) in the window."""
        from flask import current_app

        code = _region(region, allow_desa=True)
        min_items = min_items or current_app.config.get("ASPIRATION_REPEAT_MIN_ITEMS", figures.REPEAT_MIN_ITEMS)
        rows = figures.repeated_topics(current_user, code, days, min_items, level)
        return {"region": code, "days": days, "level": level, "min_items": min_items,
                "items": [row.as_dict() for row in rows]}
