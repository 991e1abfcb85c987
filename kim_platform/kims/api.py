"""/api/v1/kims and /api/v1/bidang."""
import functools
import math

import marshmallow as ma
from flask import jsonify, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort
from sqlalchemy import and_, func, null, text

from kim_platform import permissions
from kim_platform.api.answers import RawJSON, json_answer, raw_json_answer
from kim_platform.api.schemas import PaginationArgs, error_responses, page_body, page_schema, with_geojson
from kim_platform.core import exports as core_exports
from kim_platform.core import throttle
from kim_platform.core.auth import limiter
from kim_platform.core.i18n import current_locale
from kim_platform.core.sqljson import UrlPattern
from kim_platform.core.text import PlainText
from kim_platform.kims import forms as kim_forms
from kim_platform.kims import exports, mails, queries, services
from kim_platform.kims.models import ANGGOTA, INVITATION_STATUSES, MEMBER_ROLES, PENGURUS_POSITIONS, STATUSES, Bidang
from kim_platform.kims.slots import HEALTH_STATES
from kim_platform.regions.api import RegionCode

blp = Blueprint("kims_api", __name__, description="KIM registry")
invitations_blp = Blueprint("invitations_api", __name__,
                            description="Invitations to join a KIM, answered by the invited address's owner")
bidang_blp = Blueprint("bidang_api", __name__, description="The bidang taxonomy")
SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]


def _bbox(value: str):
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError:
        raise ma.ValidationError("Use minlon,minlat,maxlon,maxlat.") from None
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise ma.ValidationError("Use minlon,minlat,maxlon,maxlat.")
    minlon, minlat, maxlon, maxlat = parts
    if not (-180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90):
        raise ma.ValidationError("The box must have minlon < maxlon and minlat < maxlat within the globe.")
    return parts


class BBoxField(ma.fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return _bbox(super()._deserialize(value, attr, data, **kwargs))


class KimListArgs(PaginationArgs):
    region = RegionCode(metadata={"description": "region code; KIMs in it and below (prefix)"})
    bidang = ma.fields.String(validate=ma.validate.Length(max=40), metadata={"description": "bidang slug"})
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES),
                              metadata={"description": "only this status (`inactive` for KIMs no longer "
                                                       "active; drafts and submissions only where the "
                                                       "caller may see them)"})
    include_inactive = ma.fields.Boolean(load_default=False, metadata={
        "description": "also list inactive KIMs (left out by default; the map draws them grey)"})
    q = ma.fields.String(validate=ma.validate.Length(max=100), metadata={"description": "name or number"})
    bbox = BBoxField(metadata={"description": "minlon,minlat,maxlon,maxlat"})
    sort = ma.fields.String(load_default="name", validate=ma.validate.OneOf(sorted(queries.SORTS)))
    health = ma.fields.String(validate=ma.validate.OneOf(HEALTH_STATES), metadata={
        "description": "only KIMs in this health state, as computed daily (aktif: a report in the last "
                       "90 days and a valid SK; vakum: none for 180 days or more)"})
    format = ma.fields.String(validate=ma.validate.OneOf(["json", "geojson"]))


class RegionPathSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    level = ma.fields.String(required=True)


class KimSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, allow_none=True)
    name = ma.fields.String(required=True)
    slug = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    bidang = ma.fields.List(ma.fields.String(), required=True)
    desa_code = ma.fields.String(required=True)
    region_path = ma.fields.List(ma.fields.Nested(RegionPathSchema), required=True)
    lat = ma.fields.Float(required=True)
    lon = ma.fields.Float(required=True)
    member_count = ma.fields.Integer(required=True)
    description = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    founded_on = ma.fields.Date(allow_none=True)
    sk_number = ma.fields.String(allow_none=True)
    sk_issuer = ma.fields.String(allow_none=True)
    sk_date = ma.fields.Date(allow_none=True)
    sk_valid_until = ma.fields.Date(allow_none=True, metadata={"description": "the SK's masa berlaku"})
    pengurus = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.OneOf(PENGURUS_POSITIONS)),
                              values=ma.fields.Integer(), allow_none=True, metadata={
        "description": "position → user id of the member holding it (members and the region's pembina only)"})
    updated_at = ma.fields.DateTime(required=True, metadata={"description": "last change of the profile"})
    data_confirmed_at = ma.fields.DateTime(allow_none=True, metadata={
        "description": "when its admins last confirmed the data (or edited it)"})
    whatsapp = ma.fields.String(allow_none=True, metadata={"description": "the KIM's public contact"})
    email = ma.fields.String(allow_none=True, metadata={"description": "the KIM's public contact"})
    socials = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    logo_url = ma.fields.String(allow_none=True)
    rejection_reason = ma.fields.String(allow_none=True)
    verified_at = ma.fields.DateTime(allow_none=True)
    last_activity_on = ma.fields.Date(allow_none=True, metadata={"description": "date of the latest published report"})
    url = ma.fields.String(required=True)


class DuplicateSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    status = ma.fields.String()


class KimCreatedSchema(KimSchema):
    possible_duplicates = ma.fields.List(ma.fields.Nested(DuplicateSchema), required=True, metadata={
        "description": "KIMs with a similar name in the same desa that the caller may see"})
    similar_name_being_registered = ma.fields.Boolean(required=True, metadata={
        "description": "another group is registering a KIM with a similar name in this desa (not public yet)"})


KimPageSchema = page_schema(KimSchema, "KimPage")


class KimInputSchema(ma.Schema):
    """Documented fields (JSON, or multipart form fields with `logo`/`sk_file` files), parsed by
    kims.forms.kim_input like the page's; checks and their messages live in kims.services."""

    class Meta:
        unknown = ma.EXCLUDE  # status, number, id … are ignored, never applied

    name = ma.fields.Raw(metadata={"type": "string"})
    bidang = ma.fields.Raw(metadata={"type": "array", "items": {"type": "string"}})
    desa_code = ma.fields.Raw(metadata={"type": "string", "example": "76.02.01.1002"})
    lat = ma.fields.Raw(metadata={"type": "number"})
    lon = ma.fields.Raw(metadata={"type": "number"})
    address = ma.fields.Raw(allow_none=True, metadata={"type": "string"})
    description = ma.fields.Raw(allow_none=True, metadata={"type": "string"})
    whatsapp = ma.fields.Raw(allow_none=True, metadata={"type": "string"})
    email = ma.fields.Raw(allow_none=True, metadata={"type": "string"})
    socials = ma.fields.Raw(allow_none=True, metadata={"type": "object"})
    sk_number = ma.fields.Raw(allow_none=True, metadata={"type": "string"})
    sk_issuer = ma.fields.Raw(allow_none=True, metadata={"type": "string"})
    sk_date = ma.fields.Raw(allow_none=True, metadata={"type": "string", "format": "date"})
    sk_valid_until = ma.fields.Raw(allow_none=True, metadata={"type": "string", "format": "date",
                                                              "description": "the SK's masa berlaku"})
    pengurus = ma.fields.Raw(allow_none=True, metadata={
        "type": "object", "description": "editing: {\"ketua\": user_id, \"sekretaris\": …, \"bendahara\": …} "
                                         "among the KIM's members (null empties a position); multipart: "
                                         "pengurus_<position> fields"})
    founded_on = ma.fields.Raw(allow_none=True, metadata={"type": "string", "format": "date"})
    action = ma.fields.Raw(metadata={"type": "string", "enum": list(kim_forms.ACTIONS), "description":
                                     "`save` (default) or `submit`: save, then submit for verification "
                                     "when the KIM is a draft, rejected or inactive"})
    confirm_not_duplicate = ma.fields.Raw(metadata={"type": "boolean", "description": (
        "registering: true when the caller checked the look-alikes of a 409 answer and this is another "
        "group; without it, a similar name in the desa answers 409")})
    logo = ma.fields.Raw(metadata={"type": "string", "format": "binary", "description": "multipart only"})
    sk_file = ma.fields.Raw(metadata={"type": "string", "format": "binary", "description": "multipart only"})


INPUT_BODY = {"content": {"application/json": {"schema": KimInputSchema},
                          "multipart/form-data": {"schema": KimInputSchema}}}


class DuplicateErrorSchema(ma.Schema):
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    fields = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    possible_duplicates = ma.fields.List(ma.fields.Nested("DuplicateSchema"), required=True)
    similar_name_being_registered = ma.fields.Boolean(required=True)


class DuplicateAnswerSchema(ma.Schema):
    error = ma.fields.Nested(DuplicateErrorSchema, required=True)


class RejectSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=2000), PlainText(multiline=True)])


class MemberSchema(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)


class MemberInputSchema(ma.Schema):
    email = ma.fields.Email(required=True)
    role = ma.fields.String(load_default=ANGGOTA, validate=ma.validate.OneOf(MEMBER_ROLES))


class InvitedSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "always `invited`"})
    email = ma.fields.String(required=True)
    role = ma.fields.String(required=True)


class InvitationSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kim_id = ma.fields.Integer(required=True)
    kim_name = ma.fields.String(required=True)
    kim_desa_code = ma.fields.String(required=True)
    role = ma.fields.String(required=True, metadata={"description": "the role offered"})
    invited_by = ma.fields.String(allow_none=True, metadata={"description": "the inviter's name"})
    invited_at = ma.fields.DateTime(required=True)
    expires_at = ma.fields.DateTime(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(INVITATION_STATUSES))


class BidangSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    parent_slug = ma.fields.String(allow_none=True)
    name = ma.fields.String(required=True)
    name_id = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)


class BidangInputSchema(ma.Schema):
    slug = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$"))
    parent_slug = ma.fields.String(load_default=None, allow_none=True)
    name_id = ma.fields.String(required=True, validate=[ma.validate.Length(min=2, max=80), PlainText()])
    name_en = ma.fields.String(required=True, validate=[ma.validate.Length(min=2, max=80), PlainText()])


def serialise_kims(kims, viewer, facts=None) -> list[dict]:
    """Public representation: the KIM's own contacts, never its members' email or phone."""
    from flask import url_for

    facts = facts if facts is not None else queries.kim_facts(kims)
    # Who may read a rejection reason depends on membership: one query for the page, not one per KIM.
    # The pengurus too (for members and the region's pembina): one query, only for a logged-in caller.
    queries.load_memberships([kim for kim in kims if kim.rejection_reason or permissions.is_authenticated(viewer)])
    items = []
    for kim in kims:
        fact = facts[kim.id]
        items.append({
            "id": kim.id, "number": kim.number, "name": kim.name, "slug": kim.slug, "status": kim.status,
            "bidang": list(kim.bidang), "desa_code": kim.desa_code, "region_path": fact.path,
            "lat": fact.lat, "lon": fact.lon, "member_count": fact.member_count,
            "description": kim.description, "address": kim.address, "founded_on": kim.founded_on,
            "sk_number": kim.sk_number, "sk_issuer": kim.sk_issuer, "sk_date": kim.sk_date,
            "sk_valid_until": kim.sk_valid_until,
            "pengurus": {m.position: m.user_id for m in kim.memberships if m.position}
            if permissions.can_see_private_kim_data(viewer, kim) else None,
            "updated_at": kim.updated_at, "data_confirmed_at": kim.data_confirmed_at,
            "whatsapp": kim.whatsapp, "email": kim.email, "socials": dict(kim.socials or {}),
            "logo_url": url_for("kims.logo", key=kim.logo_key, _external=False) if kim.logo_key else None,
            "rejection_reason": kim.rejection_reason if kim.rejection_reason
            and permissions.can_see_private_kim_data(viewer, kim) else None,
            "verified_at": kim.verified_at, "last_activity_on": kim.last_activity_on,
            "url": url_for("kims.profile", ref=kim.public_ref),
        })
    return items


class _Record:
    """`queries.kim_record`'s mapping where the rules expect a KIM (status, desa_code); it has no
    members, so it only serves viewers who are nobody's member."""

    memberships = ()

    def __init__(self, record: dict):
        self.status, self.desa_code = record["status"], record["desa_code"]


def _iso(value):
    return value.isoformat() if value is not None else None


def record_body(record: dict) -> dict:
    """KimSchema's dump of `queries.kim_record` for a viewer who is not logged in (who never sees
    the pengurus or a rejection reason: permissions.can_see_private_kim_data): the body
    serialise_kims gives (dates in ISO 8601), built without ORM objects or marshmallow."""
    from flask import url_for

    ref = record["number"] or record["slug"]
    return {
        "id": record["id"], "number": record["number"], "name": record["name"], "slug": record["slug"],
        "status": record["status"], "bidang": list(record["bidang"]), "desa_code": record["desa_code"],
        "region_path": record["region_path"] or [], "lat": record["lat"], "lon": record["lon"],
        "member_count": record["member_count"], "description": record["description"],
        "address": record["address"], "founded_on": _iso(record["founded_on"]),
        "sk_number": record["sk_number"], "sk_issuer": record["sk_issuer"], "sk_date": _iso(record["sk_date"]),
        "sk_valid_until": _iso(record["sk_valid_until"]), "pengurus": None,
        "updated_at": _iso(record["updated_at"]), "data_confirmed_at": _iso(record["data_confirmed_at"]),
        "whatsapp": record["whatsapp"], "email": record["email"], "socials": dict(record["socials"] or {}),
        "logo_url": url_for("kims.logo", key=record["logo_key"]) if record["logo_key"] else None,
        "rejection_reason": None, "verified_at": _iso(record["verified_at"]),
        "last_activity_on": _iso(record["last_activity_on"]), "url": url_for("kims.profile", ref=ref),
    }


@functools.cache
def public_item_sql(geojson: bool, logo: UrlPattern, profile: UrlPattern):
    """record_body in SQL, over the listed KIM `k` (queries.listed_kim): KimSchema's dump for a
    viewer who sees only public KIM data (permissions.sees_only_public_data: no pengurus, no
    rejection reason), keys in the order Flask sorts them; as a GeoJSON Feature when `geojson`
    (the properties without lat/lon, as _feature_collection writes them). Exact where
    `public_item_exact()` holds. Built once per shape and URL pattern (building it costs more
    Python than the rest of the answer)."""
    from kim_platform.core.sqljson import iso_datetime
    from kim_platform.regions.queries import region_path_json

    k = queries.listed_kim()
    lat, lon, member_count = queries.located_columns_of(k)
    ref = func.coalesce(k.number, k.slug)
    fields = [
        ("address", k.address), ("bidang", k.bidang), ("data_confirmed_at", iso_datetime(k.data_confirmed_at)),
        ("desa_code", k.desa_code), ("description", k.description), ("email", k.email),
        ("founded_on", k.founded_on), ("id", k.id), ("last_activity_on", k.last_activity_on),
        ("lat", lat), ("logo_url", logo.sql(k.logo_key)), ("lon", lon),
        ("member_count", func.coalesce(member_count, 0)), ("name", k.name), ("number", k.number),
        ("pengurus", null()), ("region_path", func.coalesce(region_path_json(k.desa_code), text("'[]'::json"))),
        ("rejection_reason", null()), ("sk_date", k.sk_date), ("sk_issuer", k.sk_issuer),
        ("sk_number", k.sk_number), ("sk_valid_until", k.sk_valid_until), ("slug", k.slug),
        ("socials", func.coalesce(k.socials, text("'{}'::jsonb"))), ("status", k.status),
        ("updated_at", iso_datetime(k.updated_at)), ("url", profile.sql(ref)),
        ("verified_at", iso_datetime(k.verified_at)), ("whatsapp", k.whatsapp),
    ]
    if not geojson:
        return func.json_build_object(*(part for pair in fields for part in pair))
    properties = func.json_build_object(*(part for key, value in fields if key not in ("lat", "lon")
                                          for part in (key, value)))
    return func.json_build_object(
        "geometry", func.json_build_object("coordinates", func.json_build_array(lon, lat), "type", "Point"),
        "id", k.id, "properties", properties, "type", "Feature")


@functools.cache
def public_item_exact():
    """Where public_item_sql writes what url_for would: number or slug, and logo key, made of
    URL-safe characters only (as the services make them); another row takes the slow path."""
    k = queries.listed_kim()
    return and_(UrlPattern.safe(func.coalesce(k.number, k.slug)), UrlPattern.safe(k.logo_key, nullable=True))


def _public_page(page, per_page, sort, geojson: bool, filters: dict):
    """The list for a viewer who sees only public KIM data, its items written by PostgreSQL (one
    statement), or None where a row needs the serialiser (public_item_exact)."""
    item = public_item_sql(geojson, UrlPattern("kims.logo", "key"), UrlPattern("kims.profile", "ref"))
    result = queries.list_kims_json(current_user, item, public_item_exact(), page=page, per_page=per_page, sort=sort, **filters)
    if not result.exact:
        return None
    envelope = {"page": result.page, "per_page": result.per_page, "total": result.total}
    if geojson:
        return raw_json_answer({"type": "FeatureCollection", "features": RawJSON(result.items), **envelope},
                               mimetype="application/geo+json")
    return raw_json_answer({"items": RawJSON(result.items), **envelope})


def _wants_geojson(format_arg) -> bool:
    if format_arg:
        return format_arg == "geojson"
    best = request.accept_mimetypes.best_match(["application/json", "application/geo+json"])
    return best == "application/geo+json"


def _feature_collection(items: list[dict], page) -> dict:
    features = []
    for item in items:
        properties = {k: v for k, v in item.items() if k not in ("lat", "lon")}
        for key in ("founded_on", "sk_date", "sk_valid_until", "verified_at", "last_activity_on", "updated_at",
                    "data_confirmed_at"):
            if properties.get(key) is not None:
                properties[key] = properties[key].isoformat()
        features.append({"type": "Feature", "id": item["id"],
                         "geometry": {"type": "Point", "coordinates": [item["lon"], item["lat"]]},
                         "properties": properties})
    return {"type": "FeatureCollection", "features": features,
            "page": page.page, "per_page": page.per_page, "total": page.total}


def _kim_or_404(kim_id: int):
    kim = queries.get_kim(kim_id)
    if kim is None or not permissions.can_view_kim(current_user, kim):
        abort(404, message=_("No such KIM."))
    return kim


@blp.route("")
class Kims(MethodView):
    decorators = throttle.posting("kim")

    @blp.arguments(KimListArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, KimPageSchema, description="also as GeoJSON with format=geojson or Accept: "
                                                   "application/geo+json")
    @blp.doc(**with_geojson(KimPageSchema))
    @error_responses(blp, 400)
    def get(self, page, per_page, sort, format=None, **filters):
        """List the KIMs the caller may see (the public: verified ones; inactive ones with
        `status=inactive` or `include_inactive`), filtered, one page at a time."""
        geojson = _wants_geojson(format)
        if permissions.sees_only_public_data(current_user):
            answer = _public_page(page, per_page, sort, geojson, filters)
            if answer is not None:
                return answer
        result = queries.list_kims(current_user, page=page, per_page=per_page, sort=sort, with_facts=True, **filters)
        items = serialise_kims(result.items, current_user, result.facts)
        if geojson:
            response = jsonify(_feature_collection(items, result))
            response.mimetype = "application/geo+json"
            return response
        return page_body(result, items)

    @login_required
    @blp.doc(security=SECURITY, requestBody=INPUT_BODY)
    @blp.response(201, KimCreatedSchema)
    @blp.alt_response(409, schema=DuplicateAnswerSchema, description="KIMs with a similar name in the desa "
                      "(or another conflict): check them, then send again with `confirm_not_duplicate`")
    @error_responses(blp, 400, 401, 413, 422, 429)
    def post(self):
        """Register a KIM as a draft; the caller becomes its ketua.

        The same input as the registration page (kims.forms.kim_input): JSON, or multipart with a
        `logo` and an `sk_file`. `status`, `number` and other fields not listed are ignored."""
        given = kim_forms.from_request(request)
        try:
            kim = kim_forms.save(current_user, given)
        except services.PossibleDuplicate as refusal:
            return _duplicate_answer(refusal)
        duplicates = services.look_alikes_for(current_user, kim.name, kim.desa_code, exclude_id=kim.id)
        body = serialise_kims([kim], current_user)[0]
        body["possible_duplicates"] = [{"id": d.id, "name": d.name, "status": d.status} for d in duplicates.visible]
        body["similar_name_being_registered"] = duplicates.others_being_registered
        return body


@blp.route("/<int:kim_id>")
class KimItem(MethodView):
    decorators = throttle.posting("kim", methods=["PATCH"])

    @blp.response(200, KimSchema)
    @error_responses(blp, 404)
    def get(self, kim_id):
        """One KIM."""
        if permissions.sees_only_public_data(current_user):
            # The public's hot path: one statement, no ORM objects (members' positions and a
            # rejection reason are never the public's to see).
            record = queries.kim_record(kim_id)
            if record is None or not permissions.can_view_kim(current_user, _Record(record)):
                abort(404, message=_("No such KIM."))
            return json_answer(record_body(record))
        return serialise_kims([_kim_or_404(kim_id)], current_user)[0]

    @login_required
    @blp.doc(security=SECURITY, requestBody=INPUT_BODY)
    @blp.response(200, KimSchema)
    @error_responses(blp, 400, 401, 403, 404, 413, 422)
    def patch(self, kim_id):
        """Change some fields (KIM admins and the region's pembina), as the edit page does.

        Fields left out stay as they are; an empty `desa_code` too."""
        kim = _kim_or_404(kim_id)
        kim_forms.save(current_user, kim_forms.from_request(request, editing=True), kim)
        return serialise_kims([kim], current_user)[0]


def _duplicate_answer(refusal):
    """409 with the look-alikes the caller may be told of (the page lists the same)."""
    from kim_platform.core.api_errors import ERROR_CODES

    response = jsonify({"error": {
        "code": ERROR_CODES[409], "message": str(refusal.message), "fields": refusal.field_messages(),
        "possible_duplicates": [{"id": d.id, "name": d.name, "status": d.status} for d in refusal.look_alikes.visible],
        "similar_name_being_registered": refusal.look_alikes.others_being_registered}})
    response.status_code = 409
    return response


def _transition(kim_id: int, action: str, reason: str | None = None):
    kim = _kim_or_404(kim_id)
    services.change_status(current_user, kim, action, reason)
    mails.notify_status(kim, action)
    return serialise_kims([kim], current_user)[0]


def _register_transition(action: str, summary: str) -> None:
    """One route per body-less transition: POST /api/v1/kims/<id>/<action>."""

    class Transition(MethodView):
        @login_required
        @blp.doc(security=SECURITY, summary=summary)
        @blp.response(200, KimSchema)
        @error_responses(blp, 401, 403, 404, 409)
        def post(self, kim_id):
            return _transition(kim_id, action)

    Transition.__name__ = Transition.__qualname__ = f"Kim{action.title()}"
    blp.route(f"/<int:kim_id>/{action}")(Transition)


_register_transition("submit", "Submit for verification by the region's pembina (from draft, rejected or inactive)")
_register_transition("verify", "Verify a submitted KIM (pembina of its region, direktorat); it gets its number")
_register_transition("deactivate", "Mark a verified KIM inactive (its admins or the region's pembina)")


@blp.route("/<int:kim_id>/reject")
class KimReject(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(RejectSchema)
    @blp.response(200, KimSchema)
    @error_responses(blp, 401, 403, 404, 409, 422)
    def post(self, data, kim_id):
        """Reject a submitted KIM with a reason; its admins can edit and submit again."""
        return _transition(kim_id, "reject", data["reason"])


@blp.route("/<int:kim_id>/members")
class KimMembers(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(200, MemberSchema(many=True))
    @error_responses(blp, 401, 403, 404)
    def get(self, kim_id):
        """Members with their roles (members and the region's pembina); no contacts."""
        kim = _kim_or_404(kim_id)
        if not permissions.can_see_private_kim_data(current_user, kim):
            abort(403, message=_("Only members and pembina see the member list."))
        return [{"user_id": m.user_id, "name": m.user.name, "role": m.role} for m in kim.memberships]

    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(MemberInputSchema)
    @blp.response(202, InvitedSchema)
    @error_responses(blp, 401, 403, 404, 422)
    def post(self, data, kim_id):
        """Invite someone by email (ketua/admin).

        Nobody becomes a member here: the address gets a mail, and its owner accepts or declines
        (`POST /api/v1/invitations/<id>/accept`). The answer is the same for every address."""
        kim = _kim_or_404(kim_id)
        invitation = services.invite_member(current_user, kim, data["email"], data["role"])
        mails.send_invitation(invitation, current_user)
        return {"status": "invited", "email": invitation.email, "role": invitation.role}


@blp.route("/<int:kim_id>/members/<int:user_id>")
class KimMember(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @error_responses(blp, 401, 403, 404, 409)
    def delete(self, kim_id, user_id):
        """Remove a member (ketua/admin; anyone may leave)."""
        kim = _kim_or_404(kim_id)
        membership = next((m for m in kim.memberships if m.user_id == user_id), None)
        if membership is None:
            abort(404, message=_("Not a member."))
        services.remove_member(current_user, kim, membership)


def _bidang_json(b: Bidang) -> dict:
    return {"slug": b.slug, "parent_slug": b.parent_slug, "name": b.label(current_locale()),
            "name_id": b.name_id, "name_en": b.name_en}


@bidang_blp.route("")
class BidangList(MethodView):
    @bidang_blp.response(200, BidangSchema(many=True))
    def get(self):
        """The bidang taxonomy (top-level fields and their sub-fields)."""
        return [_bidang_json(b) for b in queries.bidang_list()]

    @login_required
    @bidang_blp.doc(security=SECURITY)
    @bidang_blp.arguments(BidangInputSchema)
    @bidang_blp.response(201, BidangSchema)
    @error_responses(bidang_blp, 401, 403, 409, 422)
    def post(self, data):
        """Add a bidang (direktorat)."""
        bidang = services.create_bidang(current_user, data)
        return _bidang_json(bidang)



def _invitation_json(invitation) -> dict:
    return {"id": invitation.id, "kim_id": invitation.kim_id, "kim_name": invitation.kim.name,
            "kim_desa_code": invitation.kim.desa_code, "role": invitation.role,
            "invited_by": invitation.invited_by.name if invitation.invited_by else None,
            "invited_at": invitation.created_at, "expires_at": invitation.expires_at, "status": invitation.status}


@invitations_blp.route("/me/invitations")
class MyInvitations(MethodView):
    @login_required
    @invitations_blp.doc(security=SECURITY)
    @invitations_blp.response(200, InvitationSchema(many=True))
    @error_responses(invitations_blp, 401)
    def get(self):
        """Open invitations to my (verified) email address, newest first."""
        return [_invitation_json(i) for i in queries.pending_invitations(current_user)]


def _answer(invitation_id: int, action: str):
    invitation = services.answerable_invitation(current_user, invitation_id)
    if invitation is None:
        abort(404, message=_("No such invitation."))
    if action == "accept":
        services.accept_invitation(current_user, invitation)
    else:
        services.decline_invitation(current_user, invitation)
    return _invitation_json(invitation)


@invitations_blp.route("/invitations/<int:invitation_id>/accept")
class InvitationAccept(MethodView):
    @login_required
    @invitations_blp.doc(security=SECURITY)
    @invitations_blp.response(200, InvitationSchema)
    @error_responses(invitations_blp, 401, 404, 409)
    def post(self, invitation_id):
        """Accept an invitation to my address: I become a member with the offered role.

        404 for an invitation to another address; 409 when already answered or expired."""
        return _answer(invitation_id, "accept")


@invitations_blp.route("/invitations/<int:invitation_id>/decline")
class InvitationDecline(MethodView):
    @login_required
    @invitations_blp.doc(security=SECURITY)
    @invitations_blp.response(200, InvitationSchema)
    @error_responses(invitations_blp, 401, 404, 409)
    def post(self, invitation_id):
        """Decline an invitation to my address (404 for another address's; 409 when answered or expired)."""
        return _answer(invitation_id, "decline")


class ExportRequestSchema(ma.Schema):
    format = ma.fields.String(required=True, validate=ma.validate.OneOf(("geojson", "xlsx")),
                              metadata={"description": "`geojson` (points, for a GIS) or `xlsx` (a spreadsheet)"})
    region = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=13), metadata={
        "description": "region code: its KIMs and those below it; absent or null: the whole of Indonesia"})


class ExportSchema(ma.Schema):
    id = ma.fields.Integer()
    state = ma.fields.String(metadata={"description": "queued, running, ready or failed"})
    format = ma.fields.String()
    region = ma.fields.String(allow_none=True)
    rows = ma.fields.Integer(allow_none=True, metadata={"description": "KIMs in the file, once ready"})
    size_bytes = ma.fields.Integer(allow_none=True)
    requested_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    status_url = ma.fields.String(metadata={"description": "this resource: poll it until `state` is ready"})
    download_url = ma.fields.String(allow_none=True, metadata={"description": "the file, once ready"})


def _export_json(export) -> dict:
    return {"id": export.id, "state": core_exports.export_state(export), "format": export.fmt, "region": export.params.get("region"),
            "rows": export.rows, "size_bytes": export.size_bytes, "requested_at": export.requested_at,
            "finished_at": export.finished_at, "status_url": url_for("kims_api.KimExport", export_id=export.id),
            "download_url": url_for("kims.export_download", export_id=export.id) if export.ready else None}


@blp.route("/exports")
class KimExports(MethodView):
    decorators = [limiter.limit("30 per hour", methods=["POST"])]

    @blp.arguments(ExportRequestSchema, error_status_code=400)
    @blp.response(202, ExportSchema, description="the file is being built: poll `status_url`")
    @blp.alt_response(200, schema=ExportSchema, description="the same file was built within the hour: "
                                                          "`download_url` serves it")
    @error_responses(blp, 400, 422, 429)
    def post(self, data):
        """Ask for the KIM directory (public data of verified and inactive KIMs) of a region or of
        Indonesia as a file, built in the background; the same request within the hour gets the
        same file."""
        export, _created = core_exports.request_export(exports.KIND, data["format"], {"region": data["region"]})
        return _export_json(export), 200 if export.ready else 202


@blp.route("/exports/<int:export_id>")
class KimExport(MethodView):
    @blp.response(200, ExportSchema)
    @error_responses(blp, 404)
    def get(self, export_id):
        """Where a directory file stands, and its download address once ready."""
        export = core_exports.get_export(export_id)
        if export is None or export.kind != exports.KIND:
            abort(404, message=_("No such export."))
        return _export_json(export)
