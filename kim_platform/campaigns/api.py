"""/api/v1/campaigns: list, create, change, publish, close, materials and disseminations."""
import marshmallow as ma
from flask import request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort

from kim_platform import permissions
from kim_platform.activities.api import ActivitySchema, serialise_activities
from kim_platform.api.schemas import ID_RANGE, error_responses
from kim_platform.campaigns import forms, queries, services, sharing
from kim_platform.campaigns.models import CHANNELS, MATERIAL_KINDS, STATUSES
from kim_platform.core import throttle
from kim_platform.kims.queries import get_kim
from kim_platform.regions.api import RegionCode

blp = Blueprint("campaigns_api", __name__, description="Dissemination campaigns (paket diseminasi)")
SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]


class CursorArgs(ma.Schema):
    cursor = ma.fields.Integer(validate=ID_RANGE, metadata={"description": "`next_cursor` of the previous page"})
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=queries.MAX_PER_PAGE))


class CampaignListArgs(CursorArgs):
    region = RegionCode(metadata={"description": "campaigns whose targets lie in this region or contain it"})
    active = ma.fields.Boolean(metadata={"description": "true: published and running today; false: the others"})
    bidang = ma.fields.String(validate=ma.validate.Length(max=40),
                              metadata={"description": "meant for this bidang (or for every bidang)"})


class MaterialSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(MATERIAL_KINDS))
    title = ma.fields.String(required=True)
    url = ma.fields.String(required=True)
    thumb_url = ma.fields.String(allow_none=True)
    size = ma.fields.Integer(required=True)
    width = ma.fields.Integer(allow_none=True)
    height = ma.fields.Integer(allow_none=True)


class ReachSchema(ma.Schema):
    kims = ma.fields.Integer(required=True, metadata={"description": "KIMs that logged a dissemination"})
    desa = ma.fields.Integer(required=True, metadata={"description": "desa where it was passed on"})
    people = ma.fields.Integer(required=True, metadata={"description": "people reached offline"})
    reports = ma.fields.Integer(required=True)


class CampaignSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    key_message = ma.fields.String(required=True)
    description = ma.fields.String(required=True, metadata={"description": "Markdown as written"})
    description_html = ma.fields.String(required=True, metadata={"description": "rendered and sanitised"})
    links = ma.fields.List(ma.fields.String(), required=True)
    hashtags = ma.fields.List(ma.fields.String(), required=True)
    targets = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "region code prefixes"})
    bidang = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "empty: every bidang"})
    start_date = ma.fields.Date(required=True)
    end_date = ma.fields.Date(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES), metadata={
        "description": "closed once the end date has passed"})
    materials = ma.fields.List(ma.fields.Nested(MaterialSchema), required=True)
    url = ma.fields.String(required=True)
    reach = ma.fields.Nested(ReachSchema, allow_none=True, metadata={"description": "one campaign only"})


class CampaignPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CampaignSchema), required=True)
    next_cursor = ma.fields.Integer(allow_none=True, required=True)
    per_page = ma.fields.Integer(required=True)


class DisseminationSchema(ActivitySchema):
    channel = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(CHANNELS))


class DisseminationPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DisseminationSchema), required=True)
    next_cursor = ma.fields.Integer(allow_none=True, required=True)
    per_page = ma.fields.Integer(required=True)


class CampaignInputSchema(ma.Schema):
    """Documented fields; checks are in services (the same as the page's)."""

    class Meta:
        unknown = ma.EXCLUDE

    title = ma.fields.Raw(metadata={"type": "string"})
    key_message = ma.fields.Raw(metadata={"type": "string", "description": "short, ready to read out"})
    description = ma.fields.Raw(metadata={"type": "string", "description": "Markdown"})
    links = ma.fields.Raw(metadata={"type": "array", "items": {"type": "string"}})
    hashtags = ma.fields.Raw(metadata={"type": "array", "items": {"type": "string"}})
    targets = ma.fields.Raw(metadata={"type": "array", "items": {"type": "string"},
                                      "description": "1 to 20 region codes inside the caller's scope"})
    bidang = ma.fields.Raw(metadata={"type": "array", "items": {"type": "string"}})
    start_date = ma.fields.Raw(metadata={"type": "string", "format": "date"})
    end_date = ma.fields.Raw(metadata={"type": "string", "format": "date"})
    action = ma.fields.Raw(metadata={"type": "string", "enum": list(forms.ACTIONS),
                                     "description": "`publish` publishes a draft after saving"})


class MaterialUploadSchema(ma.Schema):
    file = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                                  "description": "an image, or a PDF of at most 20 MB"})
    title = ma.fields.Raw(metadata={"type": "string"})


def serialise_campaigns(campaigns, with_reach: bool = False) -> list[dict]:
    items = []
    for c in campaigns:
        reach = queries.reach(c) if with_reach else None
        items.append({
            "id": c.id, "title": c.title, "key_message": c.key_message, "description": c.description_md,
            "description_html": c.description_html, "links": list(c.links or []), "hashtags": list(c.hashtags or []),
            "targets": c.target_codes, "bidang": list(c.target_bidang or []), "start_date": c.start_on,
            "end_date": c.end_on, "status": c.current_status,
            "materials": [{"id": m.id, "kind": m.kind, "title": m.title,
                           "url": url_for("campaigns.material", key=m.key),
                           "thumb_url": url_for("campaigns.material", key=m.thumb_key) if m.thumb_key else None,
                           "size": m.size, "width": m.width, "height": m.height} for m in c.materials],
            "url": url_for("campaigns.detail", campaign_id=c.id),
            "reach": reach.__dict__ if reach else None,
        })
    return items


def _campaign_or_404(campaign_id: int):
    campaign = queries.get_campaign(campaign_id)
    if campaign is None or not permissions.campaign_visible(current_user, campaign):
        abort(404, message=_("No such campaign."))
    return campaign


@blp.route("")
class Campaigns(MethodView):
    decorators = throttle.posting("campaign", methods=["POST"])

    @blp.arguments(CampaignListArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, CampaignPageSchema)
    @error_responses(blp, 400)
    def get(self, per_page, cursor=None, **filters):
        """Campaigns the caller may see, newest first; pages by `cursor`, without a total."""
        page = queries.campaign_page(current_user, cursor=cursor, per_page=per_page, **filters)
        return {"items": serialise_campaigns(page.items), "next_cursor": page.next_cursor,
                "per_page": page.per_page}

    @login_required
    @blp.doc(security=SECURITY, requestBody={"content": {"application/json": {"schema": CampaignInputSchema}}})
    @blp.response(201, CampaignSchema)
    @error_responses(blp, 400, 401, 403, 422)
    def post(self):
        """Create a campaign (the directorate anywhere, a pembina inside their scope), as a draft
        unless `action` is `publish`."""
        campaign = forms.save(current_user, forms.from_request(request))
        return serialise_campaigns([campaign], with_reach=True)[0]


@blp.route("/<int:campaign_id>")
class CampaignItem(MethodView):
    decorators = throttle.posting("campaign", methods=["PATCH"])

    @blp.response(200, CampaignSchema)
    @error_responses(blp, 404)
    def get(self, campaign_id):
        """One campaign with its materials and reach so far."""
        return serialise_campaigns([_campaign_or_404(campaign_id)], with_reach=True)[0]

    @login_required
    @blp.doc(security=SECURITY, requestBody={"content": {"application/json": {"schema": CampaignInputSchema}}})
    @blp.response(200, CampaignSchema)
    @error_responses(blp, 400, 401, 403, 404, 409, 422)
    def patch(self, campaign_id):
        """Change some fields (its managers); fields left out stay."""
        campaign = _campaign_or_404(campaign_id)
        forms.save(current_user, forms.from_request(request, editing=True), campaign)
        return serialise_campaigns([campaign], with_reach=True)[0]


@blp.route("/<int:campaign_id>/publish")
class CampaignPublish(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(200, CampaignSchema)
    @error_responses(blp, 401, 403, 404, 409, 422)
    def post(self, campaign_id):
        """Publish a draft: the admins of the targeted KIMs are told (one mail a day at most)."""
        campaign = _campaign_or_404(campaign_id)
        services.publish_campaign(current_user, campaign)
        return serialise_campaigns([campaign], with_reach=True)[0]


@blp.route("/<int:campaign_id>/close")
class CampaignClose(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(200, CampaignSchema)
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, campaign_id):
        """Close a published campaign before its end date."""
        campaign = _campaign_or_404(campaign_id)
        services.close_campaign(current_user, campaign)
        return serialise_campaigns([campaign], with_reach=True)[0]


@blp.route("/<int:campaign_id>/materials")
class CampaignMaterials(MethodView):
    decorators = throttle.posting("campaign", methods=["POST"])

    @login_required
    @blp.doc(security=SECURITY, requestBody={"content": {"multipart/form-data": {"schema": MaterialUploadSchema}}})
    @blp.response(201, MaterialSchema)
    @error_responses(blp, 401, 403, 404, 409, 413, 422)
    def post(self, campaign_id):
        """Add a material: an image (re-encoded) or a PDF (checked by its content)."""
        campaign = _campaign_or_404(campaign_id)
        upload = forms.material_upload(request)
        data, filename, title = upload if upload else (b"", "", None)
        material = services.add_material(current_user, campaign, data, filename, title)
        return serialise_campaigns([campaign])[0]["materials"][material.position]


@blp.route("/<int:campaign_id>/disseminations")
class CampaignDisseminations(MethodView):
    @blp.arguments(CursorArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, DisseminationPageSchema)
    @error_responses(blp, 400, 404)
    def get(self, campaign_id, per_page, cursor=None):
        """Reports logged for the campaign that the caller may see, newest first. Log one with
        POST /api/v1/kims/<id>/activities and `campaign_id`, `channel`, `type=diseminasi`."""
        campaign = _campaign_or_404(campaign_id)
        page = queries.dissemination_page(current_user, campaign, cursor=cursor, per_page=per_page)
        channels = queries.channels_of(a.id for a in page.items)
        items = [{**item, "channel": channels.get(item["id"])}
                 for item in serialise_activities(page.items, current_user)]
        return {"items": items, "next_cursor": page.next_cursor, "per_page": page.per_page}


# --- share links ----------------------------------------------------------------------------------

class ShareLinkArgs(CursorArgs):
    kim = ma.fields.Integer(validate=ID_RANGE, metadata={"description": "only this KIM's link"})


class ShareLinkCreateArgs(ma.Schema):
    kim = ma.fields.Integer(required=True, validate=ID_RANGE, metadata={"description": "the caller's KIM"})


class ShareLinkSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    campaign_id = ma.fields.Integer(required=True)
    kim_id = ma.fields.Integer(required=True)
    kim_name = ma.fields.String(required=True)
    desa_code = ma.fields.String(required=True, metadata={"description": "the KIM's desa"})
    code = ma.fields.String(required=True)
    url = ma.fields.String(required=True, metadata={"description": "absolute short link (/p/<code>)"})
    whatsapp_text = ma.fields.String(required=True, metadata={"description": "key message and link, ready to paste"})
    poster_url = ma.fields.String(required=True, metadata={"description": "the KIM's printable A4 poster"})
    visits = ma.fields.Integer(required=True, metadata={
        "description": "counted visits (HEAD and chat link previews are not counted)"})
    visitors = ma.fields.Integer(required=True, metadata={"description": "visitors, each counted once a day"})
    created_at = ma.fields.DateTime(required=True)


class ShareLinkPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ShareLinkSchema), required=True)
    next_cursor = ma.fields.Integer(allow_none=True, required=True)
    per_page = ma.fields.Integer(required=True)


def serialise_share_link(campaign, link) -> dict:
    url = sharing.share_url(link)
    return {"id": link.id, "campaign_id": link.campaign_id, "kim_id": link.kim_id, "kim_name": link.kim.name,
            "desa_code": link.kim.desa_code, "code": link.code, "url": url,
            "whatsapp_text": sharing.whatsapp_text(campaign, url),
            "poster_url": url_for("campaigns.poster", campaign_id=campaign.id, kim=link.kim_id),
            "visits": link.visits, "visitors": link.visitors, "created_at": link.created_at}


@blp.route("/<int:campaign_id>/share-links")
class CampaignShareLinks(MethodView):
    decorators = throttle.posting("share-link", methods=["POST"])

    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(ShareLinkArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, ShareLinkPageSchema)
    @error_responses(blp, 400, 401, 403, 404)
    def get(self, campaign_id, per_page, cursor=None, kim=None):
        """The campaign's share links with their visit counts (its managers), newest first; pages
        by `cursor`."""
        campaign = _campaign_or_404(campaign_id)
        if not permissions.can(current_user, "campaign.manage", campaign):
            abort(403, message=_("Only the managers of this campaign see all its share links."))
        page = queries.share_links_page(campaign, kim_id=kim, cursor=cursor, per_page=per_page)
        return {"items": [serialise_share_link(campaign, link) for link in page.items],
                "next_cursor": page.next_cursor, "per_page": page.per_page}

    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(ShareLinkCreateArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(201, ShareLinkSchema, description="the link was made now")
    @blp.alt_response(200, schema=ShareLinkSchema, description="the KIM's link, made before")
    @error_responses(blp, 400, 401, 403, 404, 409)
    def post(self, campaign_id, kim):
        """The share link of the caller's KIM (`kim`) for the campaign: made on the first call,
        the same link on every later one (safe to repeat). For members of a KIM the campaign
        targets; a closed campaign gets no new links (409)."""
        campaign = _campaign_or_404(campaign_id)
        link, created = services.create_share_link(current_user, campaign, get_kim(kim))
        return serialise_share_link(campaign, link), 201 if created else 200
