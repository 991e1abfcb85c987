"""/api/v1/activities, /api/v1/kims/<id>/activities and /api/v1/activity-types."""
import functools
from datetime import date
from urllib.parse import urlencode

import marshmallow as ma
from flask import jsonify, request, url_for
from flask_wtf.csrf import generate_csrf
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort
from sqlalchemy import JSON, Text, case, cast, func, not_, null, or_, select, text

from kim_platform import permissions
from kim_platform.activities import forms, queries, services
from kim_platform.activities.models import STATUSES, ActivityStatus, Photo
from kim_platform.activities.slots import REPORTING_KIM
from kim_platform.api.answers import RawJSON, raw_json_answer
from kim_platform.api.schemas import ID_RANGE, PaginationArgs, error_responses, page_body, page_schema, with_geojson
from kim_platform.core import throttle
from kim_platform.core.i18n import current_locale
from kim_platform.core.sqljson import UrlPattern
from kim_platform.kims.api import BBoxField
from kim_platform.kims.queries import get_kim_with_memberships
from kim_platform.regions.api import RegionCode

blp = Blueprint("activities_api", __name__, description="Activity reports (kegiatan)")
types_blp = Blueprint("activity_types_api", __name__, description="Activity types (ADINDA and more)")
SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]


class CursorField(ma.fields.String):
    """A keyset cursor of the feed ("<activity date>_<id>"); anything else is a 400."""

    def _deserialize(self, value, attr, data, **kwargs):
        cursor = queries.parse_cursor(super()._deserialize(value, attr, data, **kwargs))
        if cursor is None:
            raise ma.ValidationError("Not a cursor of this feed.")
        return cursor


class ActivityListArgs(PaginationArgs):
    region = RegionCode(metadata={"description": "where it took place: this region and below"})
    kim = ma.fields.Integer(validate=ID_RANGE)
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES),
                              metadata={"description": "default `published`; drafts and hidden reports "
                                                       "only where the caller may see them"})
    type = ma.fields.String(validate=ma.validate.Length(max=40))
    bidang = ma.fields.String(validate=ma.validate.Length(max=40), metadata={"description": "bidang of the KIM"})
    from_ = ma.fields.Date(data_key="from")
    to = ma.fields.Date()
    bbox = BBoxField(metadata={"description": "minlon,minlat,maxlon,maxlat (reports with a point)"})
    format = ma.fields.String(validate=ma.validate.OneOf(["json", "geojson"]))
    cursor = CursorField(metadata={"description": "the `next_cursor` of the previous page: the reports "
                                                 "after it (then `page` is not used); stable while "
                                                 "reports are posted"})


class PhotoSchema(ma.Schema):
    url = ma.fields.String(required=True)
    thumb_url = ma.fields.String(required=True)
    width = ma.fields.Integer()
    height = ma.fields.Integer()


class ActivitySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kim_id = ma.fields.Integer(required=True)
    kim_name = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    date = ma.fields.Date(required=True)
    type = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    desa_code = ma.fields.String(required=True)
    place = ma.fields.String(required=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    description = ma.fields.String(metadata={"description": "Markdown as written"})
    description_html = ma.fields.String(metadata={"description": "rendered and sanitised"})
    reach_offline = ma.fields.Integer()
    reach_online = ma.fields.Integer()
    links = ma.fields.List(ma.fields.String())
    tags = ma.fields.List(ma.fields.String())
    photos = ma.fields.List(ma.fields.Nested(PhotoSchema), required=True)
    hidden_reason = ma.fields.String(allow_none=True)
    url = ma.fields.String(required=True)
    photos_expected = ma.fields.Integer(required=True, metadata={
        "description": "photos announced with `photo_count`, to be sent one by one"})
    photos_received = ma.fields.Integer(required=True, metadata={
        "description": "of those, received so far (a large one may still be with the job worker: it "
                       "is in `photos` once re-encoded)"})
    complete = ma.fields.Boolean(required=True, metadata={
        "description": "all announced photos received (until then the report is never public)"})
    written_at = ma.fields.DateTime(allow_none=True, metadata={"description": "device time when it was written"})
    received_at = ma.fields.DateTime(required=True, metadata={"description": "server time when it was received"})


class ActivityPageSchema(page_schema(ActivitySchema, "ActivityPageBase")):
    total = ma.fields.Integer(required=True, metadata={
        "description": f"reports matching, counted up to {queries.FEED_TOTAL_CAP} (see `total_capped`)"})
    total_capped = ma.fields.Boolean(required=True, metadata={
        "description": f"more than {queries.FEED_TOTAL_CAP} match: `total` is the cap"})
    next_cursor = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "pass as `cursor` for the next page (null on the last)"})
    next = ma.fields.String(required=True, allow_none=True, metadata={"description": "URL of the next page"})


class ActivityInputSchema(ma.Schema):
    """Documented fields (JSON, or multipart form fields with `photos` files); checks are in services."""

    class Meta:
        unknown = ma.EXCLUDE

    title = ma.fields.Raw(metadata={"type": "string"})
    date = ma.fields.Raw(metadata={"type": "string", "format": "date"})
    type = ma.fields.Raw(metadata={"type": "string"})
    description = ma.fields.Raw(metadata={"type": "string"})
    desa_code = ma.fields.Raw(metadata={"type": "string"})
    lat = ma.fields.Raw(metadata={"type": "number"})
    lon = ma.fields.Raw(metadata={"type": "number"})
    reach_offline = ma.fields.Raw(metadata={"type": "integer"})
    reach_online = ma.fields.Raw(metadata={"type": "integer"})
    links = ma.fields.Raw(metadata={"type": "array", "items": {"type": "string"}})
    tags = ma.fields.Raw(metadata={"type": "array", "items": {"type": "string"}})
    late_reason = ma.fields.Raw(metadata={"type": "string"})
    campaign_id = ma.fields.Raw(metadata={"type": "integer", "description": "creating: the published campaign "
                                          "this report disseminates (type `diseminasi`, with `channel`)"})
    channel = ma.fields.Raw(metadata={"type": "string", "description": "with `campaign_id`: pertemuan-warga, "
                                      "tempat-ibadah, radio-komunitas, grup-whatsapp, media-sosial, "
                                      "papan-informasi, rumah-ke-rumah or lainnya"})
    action = ma.fields.Raw(metadata={"type": "string", "enum": list(forms.EDIT_ACTIONS), "description":
                                     "creating: `publish` (default) or `draft`; changing: `save` (default), "
                                     "`publish` (a draft) or `review` (a hidden report: ask the pembina)"})
    publish = ma.fields.Raw(metadata={"type": "boolean", "description": "older spelling of `action`: "
                                      "true = publish, false = draft (creating) or save (changing)"})
    written_at = ma.fields.Raw(metadata={"type": "string", "format": "date-time", "description":
                                         "creating: device time when the volunteer wrote it (ISO 8601 with offset)"})
    photo_count = ma.fields.Raw(metadata={"type": "integer", "minimum": 0, "maximum": 6, "description":
                                          "creating: photos that follow one by one (PUT .../photos/<n>); while "
                                          "any is missing the report is stored unpublished and the action waits"})


IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False,
                   "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                   "description": "client UUID: a replay with the same body answers the same report "
                                  "(header `Idempotent-Replayed: true`); another body answers 409"}


class PhotoUploadSchema(ma.Schema):
    photo = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class PhotoReceiptSchema(ma.Schema):
    activity = ma.fields.Nested(ActivitySchema, required=True)
    photos_expected = ma.fields.Integer(required=True)
    photos_received = ma.fields.Integer(required=True)
    complete = ma.fields.Boolean(required=True)


class CsrfSchema(ma.Schema):
    csrf_token = ma.fields.String(required=True)


class ReportingKimSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    desa_code = ma.fields.String(required=True)
    desa_name = ma.fields.String(required=True)
    report_url = ma.fields.String(required=True)
    offline_pages = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "other forms of the KIM the offline app keeps (the aspiration form)"})


class ReportingTypeSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    label = ma.fields.String(required=True)


class RecentReportSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    activity_date = ma.fields.Date(required=True)
    status = ma.fields.String(required=True)
    complete = ma.fields.Boolean(required=True)
    photos_expected = ma.fields.Integer(required=True)
    photos_received = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)


class ReportingSchema(ma.Schema):
    kims = ma.fields.List(ma.fields.Nested(ReportingKimSchema), required=True)
    activity_types = ma.fields.List(ma.fields.Nested(ReportingTypeSchema), required=True)
    recent_reports = ma.fields.List(ma.fields.Nested(RecentReportSchema), required=True)


class HideSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class ActivityTypeSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    adinda = ma.fields.String(allow_none=True)


def serialise_activities(activities, viewer, facts=None) -> list[dict]:
    facts = facts if facts is not None else queries.activity_facts(activities)
    items = []
    for a in activities:
        fact = facts[a.id]
        items.append({
            "id": a.id, "kim_id": a.kim_id, "kim_name": fact.kim_name, "title": a.title, "date": a.activity_date,
            "type": a.type, "status": a.status, "desa_code": a.desa_code, "place": fact.place_label,
            "lat": fact.lat, "lon": fact.lon, "description": a.description_md,
            "description_html": a.description_html, "reach_offline": a.reach_offline,
            "reach_online": a.reach_online, "links": list(a.links or []), "tags": list(a.tags or []),
            "photos": [{"url": url_for("activities.photo", key=p.key), "thumb_url": url_for("activities.photo",
                                                                                          key=p.thumb_key),
                        "width": p.width, "height": p.height} for p in a.photos],
            "hidden_reason": a.hidden_reason
            if a.status == ActivityStatus.HIDDEN and permissions.can_view_activity(viewer, a) else None,
            "url": url_for("activities.detail", activity_id=a.id),
            "photos_expected": a.photos_expected or 0, "photos_received": a.photos_received,
            "complete": a.photos_complete, "written_at": a.written_at, "received_at": a.created_at,
        })
    return items


@functools.cache
def public_item_sql(geojson: bool, detail: UrlPattern, photo: UrlPattern):
    """serialise_activities in SQL, over the listed report (queries.listed_report: `a`, its KIM
    `ak`, its desa `ar`): ActivitySchema's dump for a viewer who sees only public data
    (permissions.sees_only_public_data: only published reports, so never a hidden reason), keys
    in the order Flask sorts them; as a GeoJSON Feature when `geojson` (properties without
    lat/lon). Exact where `public_item_exact()` holds. Built once per shape and URL pattern."""
    from kim_platform.core.sqljson import iso_datetime, json_array
    from kim_platform.regions.queries import path_label_sql

    a, ak, ar = queries.listed_report()
    point = func.coalesce(a.point, ar.centroid)
    lat, lon = func.ST_Y(point), func.ST_X(point)
    photo_item = func.json_build_object("height", Photo.height, "thumb_url", photo.sql(Photo.thumb_key),
                                        "url", photo.sql(Photo.key), "width", Photo.width)
    photos = select(json_array(photo_item, Photo.position, Photo.id)).where(
        Photo.activity_id == a.id).scalar_subquery()
    # As Activity.photos_received: stored, or large and still with the job worker.
    received = select(func.count()).where(Photo.activity_id == a.id, Photo.client_key.is_not(None),
                                          Photo.position < func.coalesce(a.photos_expected, 0)).scalar_subquery() \
        + func.coalesce(a.photos_with_worker, 0)
    fields = [
        ("complete", a.pending_action.is_(None)), ("date", a.activity_date), ("desa_code", a.desa_code),
        ("description", a.description_md), ("description_html", a.description_html), ("hidden_reason", null()),
        ("id", a.id), ("kim_id", a.kim_id), ("kim_name", ak.name), ("lat", lat),
        ("links", func.coalesce(a.links, text("'[]'::jsonb"))), ("lon", lon), ("photos", cast(photos, JSON)),
        ("photos_expected", func.coalesce(a.photos_expected, 0)), ("photos_received", received),
        ("place", func.coalesce(path_label_sql(a.desa_code), a.desa_code)), ("reach_offline", a.reach_offline),
        ("reach_online", a.reach_online), ("received_at", iso_datetime(a.created_at)), ("status", a.status),
        ("tags", func.to_json(func.coalesce(a.tags, text("'{}'::varchar[]")))), ("title", a.title),
        ("type", a.type), ("url", detail.sql(cast(a.id, Text))), ("written_at", iso_datetime(a.written_at)),
    ]
    if not geojson:
        return func.json_build_object(*(part for pair in fields for part in pair))
    properties = func.json_build_object(*(part for key, value in fields if key not in ("lat", "lon")
                                          for part in (key, value)))
    geometry = case((lat.is_(None), null()), else_=func.json_build_object(
        "coordinates", func.json_build_array(lon, lat), "type", "Point"))
    return func.json_build_object("geometry", geometry, "id", a.id, "properties", properties, "type", "Feature")


@functools.cache
def public_item_exact():
    """Where public_item_sql writes what url_for would: the photos' keys made of URL-safe
    characters only (as storage makes them); a page with another takes the serialiser."""
    a, _, _ = queries.listed_report()
    unsafe = select(Photo.id).where(Photo.activity_id == a.id, or_(
        not_(UrlPattern.safe(Photo.key)), not_(UrlPattern.safe(Photo.thumb_key)))).exists()
    return not_(unsafe)


def _public_feed(page, per_page, cursor, geojson: bool, filters: dict):
    """The feed for a viewer who sees only public data, written by PostgreSQL (one statement),
    or None where a row needs the serialiser (public_item_exact)."""
    item = public_item_sql(geojson, UrlPattern("activities.detail", "activity_id", numeric=True),
                           UrlPattern("activities.photo", "key"))
    result = queries.feed_page_json(current_user, item, public_item_exact(), page=page, per_page=per_page,
                                    cursor=cursor, **filters)
    if not result.exact:
        return None
    envelope = {"page": result.page, "per_page": result.per_page, "total": result.total,
                "total_capped": result.total_capped, "next_cursor": result.next_cursor,
                "next": _next_url(result.next_cursor)}
    if geojson:
        return raw_json_answer({"type": "FeatureCollection", "features": RawJSON(result.items), **envelope},
                               mimetype="application/geo+json")
    return raw_json_answer({"items": RawJSON(result.items), **envelope})


def _activity_or_404(activity_id: int):
    activity = queries.get_activity(activity_id)
    if activity is None or not permissions.can_view_activity(current_user, activity):
        abort(404, message=_("No such report."))
    return activity


@blp.route("/activities")
class Activities(MethodView):
    @blp.arguments(ActivityListArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, ActivityPageSchema, description="GeoJSON with format=geojson or Accept: application/geo+json")
    @blp.doc(**with_geojson(ActivityPageSchema))
    @error_responses(blp, 400)
    def get(self, page, per_page, format=None, from_=None, to=None, kim=None, cursor=None, **filters):
        """Reports the caller may see, newest first: published ones unless `status` asks for another.

        Follow `next` (or pass `next_cursor` as `cursor`) for the next page: keyset pages never
        repeat or skip a report when newer ones are posted meanwhile."""
        geojson = format == "geojson" or (not format and request.accept_mimetypes.best_match(
            ["application/json", "application/geo+json"]) == "application/geo+json")
        filters.update(kim_id=kim, date_from=from_, date_to=to)
        if permissions.sees_only_public_data(current_user):
            answer = _public_feed(page, per_page, cursor, geojson, filters)
            if answer is not None:
                return answer
        result = queries.feed_page(current_user, page=page, per_page=per_page, cursor=cursor, **filters)
        items = serialise_activities(result.items, current_user, result.facts)
        more = {"total_capped": result.total_capped, "next_cursor": result.next_cursor,
                "next": _next_url(result.next_cursor)}
        if geojson:
            features = [{"type": "Feature", "id": i["id"],
                         "geometry": {"type": "Point", "coordinates": [i["lon"], i["lat"]]} if i["lat"] is not None
                         else None,
                         "properties": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in i.items()
                                        if k not in ("lat", "lon")}} for i in items]
            response = jsonify({"type": "FeatureCollection", "features": features, "page": result.page,
                                "per_page": result.per_page, "total": result.total, **more})
            response.mimetype = "application/geo+json"
            return response
        return {**page_body(result, items), **more}


# The query parameters a next link carries on: the declared filters, by their names in the URL.
_FILTER_NAMES = frozenset(field.data_key or name for name, field in ActivityListArgs().fields.items()) - {
    "cursor", "page"}


def _next_url(cursor: str | None) -> str | None:
    """This request's URL for the page after `cursor`: the same filters, `cursor` instead of `page`.

    Only declared filters are copied, and as a query string, never as url_for keywords: a client's
    `endpoint=`, `_method=` or `_external=` would otherwise reach url_for (a 500, a foreign link)."""
    if cursor is None:
        return None
    args = [(key, value) for key, value in request.args.items(multi=True) if key in _FILTER_NAMES]
    return f"{url_for(request.endpoint, **(request.view_args or {}))}?{urlencode([*args, ('cursor', cursor)])}"


@blp.route("/kims/<int:kim_id>/activities")
class KimActivities(MethodView):
    decorators = throttle.posting("report")

    @login_required
    @blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_KEY], requestBody={"content": {
        "application/json": {"schema": ActivityInputSchema},
        "multipart/form-data": {"schema": ActivityInputSchema}}})
    @blp.response(201, ActivitySchema, headers={"Idempotent-Replayed": {
        "description": "`true` when this answers an earlier request with the same key and body",
        "schema": {"type": "string"}}})
    @error_responses(blp, 400, 401, 403, 404, 409, 413, 422)
    def post(self, kim_id):
        """Report an activity (members of the KIM): JSON, or multipart with up to 6 `photos`, or
        `photo_count` photos sent one by one afterwards; at most once per `Idempotency-Key`."""
        kim = get_kim_with_memberships(kim_id)
        if kim is None or not permissions.can_view_kim(current_user, kim):
            abort(404, message=_("No such KIM."))
        key = forms.idempotency_key(request)
        given = forms.from_request(request)
        receipt = services.submit_report(current_user, kim, given.raw, given.photos, action=given.action,
                                         written_at=given.written_at, photo_count=given.photo_count, key=key)
        body = serialise_activities([receipt.activity], current_user)[0]
        if receipt.replayed:
            return body, 201, {"Idempotent-Replayed": "true"}
        return body


@blp.route("/activities/<int:activity_id>")
class ActivityItem(MethodView):
    decorators = throttle.posting("report", methods=["PATCH"])

    @blp.response(200, ActivitySchema)
    @error_responses(blp, 404)
    def get(self, activity_id):
        """One report."""
        return serialise_activities([_activity_or_404(activity_id)], current_user)[0]

    @login_required
    @blp.doc(security=SECURITY, requestBody={"content": {"application/json": {"schema": ActivityInputSchema}}})
    @blp.response(200, ActivitySchema)
    @error_responses(blp, 400, 401, 403, 404, 422)
    def patch(self, activity_id):
        """Change a report (its author and the KIM's ketua/admins)."""
        activity = _activity_or_404(activity_id)
        given = forms.from_request(request, editing=True)
        services.update_activity(current_user, activity, given.raw, given.photos)
        services.finish_edit(current_user, activity, given.action)
        return serialise_activities([activity], current_user)[0]

    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(204)
    @error_responses(blp, 401, 403, 404)
    def delete(self, activity_id):
        """Delete a report and its photos."""
        activity = _activity_or_404(activity_id)
        services.delete_activity(current_user, activity)


@blp.route("/activities/<int:activity_id>/hide")
class ActivityHide(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(HideSchema)
    @blp.response(200, ActivitySchema)
    @error_responses(blp, 401, 403, 404, 409, 422)
    def post(self, data, activity_id):
        """Hide a report from public view, with a reason (pembina of its region)."""
        activity = _activity_or_404(activity_id)
        services.hide_activity(current_user, activity, data["reason"])
        return serialise_activities([activity], current_user)[0]


@blp.route("/activities/<int:activity_id>/unhide")
class ActivityUnhide(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(200, ActivitySchema)
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, activity_id):
        """Show a hidden report again (pembina of its region)."""
        activity = _activity_or_404(activity_id)
        services.unhide_activity(current_user, activity)
        return serialise_activities([activity], current_user)[0]


@blp.route("/activities/<int:activity_id>/review")
class ActivityReview(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(200, ActivitySchema)
    @error_responses(blp, 401, 403, 404, 409)
    def post(self, activity_id):
        """Ask the pembina to look again at a hidden report, after changing it (its author and ketua/admins)."""
        activity = _activity_or_404(activity_id)
        services.request_review(current_user, activity)
        return serialise_activities([activity], current_user)[0]


@blp.route("/activities/<int:activity_id>/photos/<int:n>")
class ActivityPhoto(MethodView):
    decorators = throttle.posting("photo", methods=["PUT"])

    @login_required
    @blp.doc(security=SECURITY, parameters=[{**IDEMPOTENCY_KEY, "required": True, "description":
                                             "client UUID of this photo: the same key again stores nothing"}],
             requestBody={"content": {"multipart/form-data": {"schema": PhotoUploadSchema}}})
    @blp.response(200, PhotoReceiptSchema)
    @error_responses(blp, 400, 401, 403, 404, 409, 413, 422)
    def put(self, activity_id, n):
        """Photo `n` (1..photos_expected) of a report sent with `photo_count`, on its own; the last
        one carries out the action the report was sent with (publish, review, draft)."""
        activity = _activity_or_404(activity_id)
        receipt = services.store_report_photo(current_user, activity, n, forms.photo_upload(request),
                                              forms.idempotency_key(request))
        activity = receipt.activity
        return {"activity": serialise_activities([activity], current_user)[0],
                "photos_expected": activity.photos_expected, "photos_received": activity.photos_received,
                "complete": activity.photos_complete}


@blp.route("/me/csrf")
class MyCsrfToken(MethodView):
    @login_required
    @blp.doc(security=[{"cookieAuth": []}])
    @blp.response(200, CsrfSchema)
    @error_responses(blp, 401)
    def get(self):
        """A fresh CSRF token for cookie-authenticated writes (header `X-CSRFToken`): the offline
        app asks before each sync, as the token of a page cached hours ago may have expired."""
        return {"csrf_token": generate_csrf()}


@blp.route("/me/reporting")
class MyReporting(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(200, ReportingSchema)
    @error_responses(blp, 401)
    def get(self):
        """What the offline app caches to report without signal: the caller's KIMs, the activity
        types and their 20 newest reports (with their photo state)."""
        locale = current_locale()
        kims = [{"id": k.id, "name": k.name, "desa_code": k.desa_code, "desa_name": k.desa_name,
                 "report_url": url_for("activities.report", ref=k.number or k.slug),
                 "offline_pages": [url for urls in REPORTING_KIM.collect(kim=k) for url in urls]}
                for k in queries.reporting_kims(current_user)]
        recent = [{"id": a.id, "title": a.title, "activity_date": a.activity_date, "status": a.status,
                   "complete": a.photos_complete, "photos_expected": a.photos_expected or 0,
                   "photos_received": a.photos_received, "url": url_for("activities.detail", activity_id=a.id)}
                  for a in queries.author_recent(current_user)]
        return {"kims": kims, "activity_types": [{"slug": t.slug, "label": t.label(locale)}
                                                 for t in queries.activity_types()],
                "recent_reports": recent}


@types_blp.route("")
class ActivityTypes(MethodView):
    @types_blp.response(200, ActivityTypeSchema(many=True))
    def get(self):
        """Activity types: the ADINDA framework and other common KIM activities."""
        locale = current_locale()
        return [{"slug": t.slug, "name": t.label(locale), "adinda": t.adinda} for t in queries.activity_types()]
