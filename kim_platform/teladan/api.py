"""/api/v1/teladan and /api/v1/kims/<id>/score."""
import functools

import marshmallow as ma
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy import func

from kim_platform import permissions
from kim_platform.api.answers import RawJSON, raw_json_answer
from kim_platform.api.schemas import error_responses
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, KimStatus
from kim_platform.kims.queries import bidang_list
from kim_platform.regions.api import RegionCode, region_or_404
from kim_platform.teladan import coaching, queries, scoring

blp = Blueprint("teladan_api", __name__, description="KIM teladan: the platform's own score, not an official rank")


class TeladanArgs(ma.Schema):
    region = RegionCode(metadata={"description": "a provinsi or kabupaten/kota code; the nation without it"})
    bidang = ma.fields.String(validate=ma.validate.Length(max=40))
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=10_000))


ComponentsSchema = ma.Schema.from_dict({name: ma.fields.Float(required=True) for name in scoring.COMPONENTS},
                                       name="TeladanComponents")


class NextStepSchema(ma.Schema):
    key = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    url = ma.fields.String(required=True)


class ScoreSchema(ma.Schema):
    kim_id = ma.fields.Integer(required=True)
    number = ma.fields.String(allow_none=True)
    name = ma.fields.String(required=True)
    desa_code = ma.fields.String(required=True)
    score = ma.fields.Float(required=True)
    components = ma.fields.Nested(ComponentsSchema, required=True)
    teladan = ma.fields.Boolean(required=True, metadata={"description": "eligible and a score of at least 70"})
    eligible = ma.fields.Boolean(required=True, metadata={"description": "a published report in the last 180 days"})
    active_months = ma.fields.Integer(required=True)
    last_report_on = ma.fields.Date(allow_none=True)
    as_of = ma.fields.Date(required=True)


class KimScoreSchema(ScoreSchema):
    weights = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    score_90_days_ago = ma.fields.Float(required=True)
    next_steps = ma.fields.List(ma.fields.Nested(NextStepSchema),
                                metadata={"description": "only for the KIM's members and its pembina"})


class TeladanListSchema(ma.Schema):
    region = ma.fields.String(allow_none=True)
    bidang = ma.fields.String(allow_none=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    computed_at = ma.fields.DateTime(allow_none=True, metadata={"description": "the last full recompute"})
    items = ma.fields.List(ma.fields.Nested(ScoreSchema), required=True)


def _score_body(score, kim) -> dict:
    return {"kim_id": kim.id, "number": kim.number, "name": kim.name, "desa_code": kim.desa_code,
            "score": score.score, "components": {name: getattr(score, name) for name in scoring.COMPONENTS},
            "teladan": scoring.is_teladan(score), "eligible": score.eligible, "active_months": score.active_months,
            "last_report_on": score.last_report_on, "as_of": score.as_of}


@functools.cache
def _ranked_item_sql():
    """_score_body in SQL, over the ranked score and KIM (queries.ranked): ScoreSchema's dump, keys
    in the order Flask sorts them. Built once (building it costs more than the answer)."""
    ks, tk = queries.ranked()
    components = func.json_build_object(*(part for name in sorted(scoring.COMPONENTS)
                                          for part in (name, getattr(ks, name))))
    return func.json_build_object(
        "active_months", ks.active_months, "as_of", ks.as_of, "components", components,
        "desa_code", tk.desa_code, "eligible", ks.eligible, "kim_id", tk.id, "last_report_on", ks.last_report_on,
        "name", tk.name, "number", tk.number, "score", ks.score, "teladan", scoring.is_teladan_sql(ks))


@blp.route("/teladan")
class Teladan(MethodView):
    @blp.arguments(TeladanArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, TeladanListSchema)
    @error_responses(blp, 400, 404)
    def get(self, limit, page, region=None, bidang=None):
        """Eligible verified KIMs ranked by score, with the components of each."""
        found = region_or_404(region)
        if found is not None and found.level not in ("provinsi", "kabupaten"):
            abort(400, message=_("Rank within a provinsi or a kabupaten/kota."),
                  errors={"region": [_("Give a provinsi or kabupaten/kota code.")]})
        if bidang and bidang not in {b.slug for b in bidang_list()}:
            abort(400, message=_("Unknown bidang."), errors={"bidang": [_("Unknown bidang.")]})
        # The ranking is public: everyone gets the body PostgreSQL writes (no ORM objects, no dump).
        result = queries.ranking_json(_ranked_item_sql(), region, bidang, page=page, per_page=limit)
        return raw_json_answer({"region": region, "bidang": bidang, "page": result.page,
                                "per_page": result.per_page, "total": result.total,
                                "computed_at": result.computed_at, "items": RawJSON(result.items)})


@blp.route("/kims/<int:kim_id>/score")
class KimScore(MethodView):
    @blp.response(200, KimScoreSchema)
    @error_responses(blp, 404)
    def get(self, kim_id):
        """A verified KIM's score and its components; its members and pembina also get the next steps."""
        kim = db.session.get(Kim, kim_id)
        score = queries.score_of(kim_id) if kim is not None and kim.status == KimStatus.VERIFIED else None
        if score is None:
            abort(404, message=_("No score: the KIM does not exist or is not verified."))
        body = {**_score_body(score, kim), "weights": scoring.WEIGHTS, "score_90_days_ago": score.score_90_days_ago}
        if permissions.can_see_private_kim_data(current_user, kim):
            body["next_steps"] = [{"key": s.key, "message": s.message, "url": s.url}
                                  for s in coaching.next_steps(kim, score)]
        return body
