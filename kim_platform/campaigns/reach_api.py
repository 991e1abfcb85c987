"""/api/v1/campaigns/<id>/reach (the dashboard's figures) and /api/v1/campaigns/reach (every
campaign's reach side by side, for the directorate)."""
import marshmallow as ma
from flask import jsonify
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort

from kim_platform import permissions
from kim_platform.api.schemas import ID_RANGE, error_responses
from kim_platform.campaigns import queries, reach
from kim_platform.regions.codes import LEVELS

blp = Blueprint("campaign_reach_api", __name__, description="Reach of dissemination campaigns, by region")
SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]


class CampaignReachArgs(ma.Schema):
    level = ma.fields.String(metadata={"description": "provinsi, kabupaten, kecamatan or desa (default: below the "
                                                      "parent, or the targets' level)", "enum": list(LEVELS)})
    parent = ma.fields.String(metadata={"description": "a region of the target (a code prefix)"})


class ReachFiguresSchema(ma.Schema):
    kims_targeted = ma.fields.Integer(required=True, metadata={"description": "verified KIMs of the target"})
    kims_reached = ma.fields.Integer(required=True, metadata={"description": "KIMs that logged a dissemination"})
    kims_pct = ma.fields.Float(required=True)
    desa_targeted = ma.fields.Integer(required=True)
    desa_reached = ma.fields.Integer(required=True)
    desa_pct = ma.fields.Float(required=True)
    people = ma.fields.Integer(required=True, metadata={"description": "people reached offline"})
    disseminations = ma.fields.Integer(required=True)
    share_visits = ma.fields.Integer(required=True, metadata={
        "description": "visits of the share links (/p/<code>) of the region's KIMs; bots and previews not counted"})
    share_visitors = ma.fields.Integer(required=True, metadata={
        "description": "the same visits de-duplicated per visitor and day (no personal data kept)"})


class ReachRowSchema(ReachFiguresSchema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    level = ma.fields.String(required=True)


class ReachDaySchema(ma.Schema):
    day = ma.fields.Date(required=True)
    disseminations = ma.fields.Integer(required=True)
    people = ma.fields.Integer(required=True)


class ReachGapSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class ReachGapsSchema(ma.Schema):
    kabupaten = ma.fields.List(ma.fields.Nested(ReachGapSchema), required=True,
                              metadata={"description": "the first 100"})
    kabupaten_total = ma.fields.Integer(required=True)
    kecamatan = ma.fields.List(ma.fields.Nested(ReachGapSchema), required=True,
                              metadata={"description": "the first 100"})
    kecamatan_total = ma.fields.Integer(required=True)


class CampaignReachSchema(ma.Schema):
    campaign_id = ma.fields.Integer(required=True)
    level = ma.fields.String(required=True)
    parent = ma.fields.String(allow_none=True, required=True)
    totals = ma.fields.Nested(ReachFiguresSchema, required=True, metadata={"description": "the whole campaign"})
    items = ma.fields.List(ma.fields.Nested(ReachRowSchema), required=True)
    daily = ma.fields.List(ma.fields.Nested(ReachDaySchema), required=True)
    gaps = ma.fields.Nested(ReachGapsSchema, required=True, metadata={
        "description": "target kabupaten and kecamatan below the parent with no dissemination yet"})


class NationalReachArgs(ma.Schema):
    cursor = ma.fields.Integer(validate=ID_RANGE, metadata={"description": "`next_cursor` of the previous page"})
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=queries.MAX_PER_PAGE))


class NationalReachItemSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    start_date = ma.fields.Date(required=True)
    end_date = ma.fields.Date(required=True)
    targets = ma.fields.List(ma.fields.String(), required=True)
    reach = ma.fields.Nested(ReachFiguresSchema, required=True)


class NationalReachPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NationalReachItemSchema), required=True)
    next_cursor = ma.fields.Integer(allow_none=True, required=True)
    per_page = ma.fields.Integer(required=True)


def _gap_list(gaps):
    return [{"code": g.code, "name": g.name} for g in gaps]


@blp.route("/<int:campaign_id>/reach")
class CampaignReach(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(CampaignReachArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, CampaignReachSchema)
    @error_responses(blp, 400, 401, 403, 404)
    def get(self, campaign_id, level=None, parent=None):
        """The dashboard's figures: the totals, one row per region of `level` below `parent`, the
        daily line and the gaps. For the campaign's managers (its pembina and above, the directorate)."""
        campaign = queries.get_campaign(campaign_id)
        if campaign is None or not permissions.campaign_visible(current_user, campaign):
            abort(404, message=_("No such campaign."))
        if not permissions.can(current_user, "campaign.reach", campaign):
            abort(403, message=_("Only the campaign's pembina and the directorate see its reach by region."))
        board = reach.dashboard(campaign, level, parent)
        return jsonify({
            "campaign_id": campaign.id, "level": board.view.level, "parent": board.view.parent,
            "totals": board.totals.as_dict(), "items": [row.as_dict() for row in board.rows],
            "daily": [{"day": d.day.isoformat(), "disseminations": d.disseminations, "people": d.people}
                      for d in board.daily],
            "gaps": {"kabupaten": _gap_list(board.gaps.kabupaten), "kabupaten_total": board.gaps.kabupaten_total,
                     "kecamatan": _gap_list(board.gaps.kecamatan), "kecamatan_total": board.gaps.kecamatan_total},
        })


@blp.route("/reach")
class NationalReach(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(NationalReachArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, NationalReachPageSchema)
    @error_responses(blp, 400, 401, 403)
    def get(self, per_page, cursor=None):
        """Every campaign with its reach, newest first (the directorate); pages by `cursor`."""
        if not permissions.can(current_user, "campaign.national"):
            abort(403, message=_("Only the directorate sees every campaign's reach."))
        page, items = reach.national_page(current_user, cursor=cursor, per_page=per_page)
        return {"items": [{"id": i.campaign.id, "title": i.campaign.title, "status": i.campaign.current_status,
                           "start_date": i.campaign.start_on, "end_date": i.campaign.end_on,
                           "targets": i.campaign.target_codes, "reach": i.totals.as_dict()} for i in items],
                "next_cursor": page.next_cursor, "per_page": page.per_page}
