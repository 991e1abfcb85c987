"""/api/v1/aspirations: list (overdue first, keyset pages), create, one item, transitions."""
import marshmallow as ma
from flask import request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort

from kim_platform import permissions
from kim_platform.activities.api import ActivitySchema, serialise_activities
from kim_platform.api.schemas import ID_RANGE, error_responses
from kim_platform.aspirations import forms, queries, services
from kim_platform.aspirations.models import ACTIONS, HOAX_CHANNELS, KINDS, STATES, TOPICS, UP, VERDICTS
from kim_platform.core import throttle
from kim_platform.core.clock import utcnow
from kim_platform.regions.api import RegionCode

blp = Blueprint("aspirations_api", __name__, description="Aspirations and hoax reports (issue 18)")
SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]


class AspirationListArgs(ma.Schema):
    cursor = ma.fields.String(validate=ma.validate.Length(max=200),
                              metadata={"description": "`next_cursor` of the previous page"})
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=queries.MAX_PER_PAGE))
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    topic = ma.fields.String(validate=ma.validate.OneOf(TOPICS))
    overdue = ma.fields.Boolean()
    region = RegionCode(metadata={"description": "items whose desa lies in this region"})
    kim_id = ma.fields.Integer(validate=ID_RANGE)


class EvidencePhotoSchema(ma.Schema):
    url = ma.fields.String(required=True)
    thumb_url = ma.fields.String(required=True)
    width = ma.fields.Integer(required=True)
    height = ma.fields.Integer(required=True)


class AspirationEventSchema(ma.Schema):
    action = ma.fields.String(required=True)
    from_state = ma.fields.String(allow_none=True, required=True)
    to_state = ma.fields.String(required=True)
    reason = ma.fields.String(allow_none=True, required=True)
    details = ma.fields.Dict(required=True)
    at = ma.fields.DateTime(required=True)
    actor = ma.fields.String(allow_none=True, required=True, metadata={"description": "name; null: the system"})


class AspirationSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kim_id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    topic = ma.fields.String(required=True, validate=ma.validate.OneOf(TOPICS))
    desa_code = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    residents_count = ma.fields.Integer(required=True)
    links = ma.fields.List(ma.fields.String(), required=True)
    hoax_claim = ma.fields.String(allow_none=True)
    hoax_channel = ma.fields.String(allow_none=True)
    hoax_link = ma.fields.String(allow_none=True)
    resident_name = ma.fields.String(allow_none=True, metadata={
        "description": "only for the reporting KIM's members and the handling pembina"})
    resident_contact = ma.fields.String(allow_none=True, metadata={
        "description": "only for the reporting KIM's members and the handling pembina"})
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(STATES))
    handler_scope = ma.fields.String(allow_none=True, required=True, metadata={"description": "null: the directorate"})
    due_at = ma.fields.DateTime(allow_none=True, required=True)
    overdue = ma.fields.Boolean(required=True)
    escalation_level = ma.fields.Integer(required=True, metadata={
        "description": "1: flagged for the province's pembina, 2: for the directorate"})
    extended = ma.fields.Boolean(required=True)
    agency = ma.fields.String(allow_none=True)
    agency_reference = ma.fields.String(allow_none=True)
    answer = ma.fields.String(allow_none=True)
    answer_links = ma.fields.List(ma.fields.String())
    verdict = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(VERDICTS))
    factcheck_link = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    original_id = ma.fields.Integer(allow_none=True)
    delivered_how = ma.fields.String(allow_none=True)
    delivered_on = ma.fields.Date(allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    answered_at = ma.fields.DateTime(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    photos = ma.fields.List(ma.fields.Nested(EvidencePhotoSchema), required=True)
    public_title = ma.fields.String(allow_none=True, metadata={"description": "the published version's title"})
    public_text = ma.fields.String(allow_none=True)
    public_claim = ma.fields.String(allow_none=True)
    published_at = ma.fields.DateTime(allow_none=True, metadata={"description": "null: not public"})
    photos_expected = ma.fields.Integer(required=True, metadata={
        "description": "evidence photos announced with `photo_count`, to be sent one by one"})
    photos_received = ma.fields.Integer(required=True, metadata={"description": "of those, stored so far"})
    complete = ma.fields.Boolean(required=True, metadata={"description": "every announced photo stored"})
    written_at = ma.fields.DateTime(allow_none=True, metadata={"description": "device time when it was written"})
    clarification_url = ma.fields.String(allow_none=True, metadata={
        "description": "the klarifikasi hoaks report published from this item"})
    history = ma.fields.List(ma.fields.Nested(AspirationEventSchema), metadata={"description": "one item only"})
    url = ma.fields.String(required=True)


class AspirationPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AspirationSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
    per_page = ma.fields.Integer(required=True)


class AspirationInputSchema(ma.Schema):
    """Documented fields; the checks are in services (the same as the page's)."""

    kim_id = ma.fields.Integer(required=True, metadata={"description": "the reporting KIM (you are a member)"})
    kind = ma.fields.String(required=True, metadata={"enum": list(KINDS)})
    topic = ma.fields.String(required=True, metadata={"enum": list(TOPICS)})
    desa_code = ma.fields.String(metadata={"description": "default the KIM's; a desa of the KIM's province"})
    description = ma.fields.String(required=True, metadata={"description": "at most 5,000 characters"})
    residents_count = ma.fields.Integer(metadata={"description": "how many residents raised it (default 1)"})
    links = ma.fields.List(ma.fields.String())
    resident_name = ma.fields.String(metadata={"description": "optional, private, deleted after closing"})
    resident_contact = ma.fields.String(metadata={"description": "optional, private, deleted after closing"})
    hoax_claim = ma.fields.String(metadata={"description": "a hoax report: the claim as heard"})
    hoax_channel = ma.fields.String(metadata={"enum": list(HOAX_CHANNELS)})
    hoax_link = ma.fields.String()
    photos = ma.fields.List(ma.fields.Raw(metadata={"type": "string", "format": "binary"}),
                            metadata={"description": "multipart only: up to 4 images, re-encoded"})
    written_at = ma.fields.String(metadata={"format": "date-time", "description":
                                            "device time when it was written (ISO 8601 with offset)"})
    photo_count = ma.fields.Integer(metadata={"minimum": 0, "maximum": 4, "description":
                                              "evidence photos that follow one by one (PUT .../photos/<n>)"})


IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False,
                   "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                   "description": "client UUID: a replay with the same body answers the same item "
                                  "(header `Idempotent-Replayed: true`); another body answers 409"}
REPLAYED_HEADER = {"Idempotent-Replayed": {
    "description": "`true` when this answers an earlier request with the same key and body",
    "schema": {"type": "string"}}}


class EvidenceUploadSchema(ma.Schema):
    photo = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ClarificationInputSchema(ma.Schema):
    title = ma.fields.String(metadata={"description": "default: from the item's claim"})
    description = ma.fields.String(metadata={"description": "Markdown; default: the claim, the verdict, "
                                             "the clarification and the fact-check link"})


class TransitionInputSchema(ma.Schema):
    action = ma.fields.String(required=True, metadata={"enum": list(ACTIONS)})
    reason = ma.fields.String(metadata={"description": "required for bukan_wewenang, ditolak, perpanjang"})
    target = ma.fields.String(metadata={"description": f"bukan_wewenang: a region code, or `{UP}` (up a level)"})
    original_id = ma.fields.Integer(metadata={"description": "duplikat: the original item"})
    agency = ma.fields.String(metadata={"description": "diteruskan: the agency"})
    reference = ma.fields.String(metadata={"description": "diteruskan: its reference (e.g. a LAPOR! ticket)"})
    answer = ma.fields.String(metadata={"description": "dijawab: the answer (a hoax: the clarification)"})
    links = ma.fields.List(ma.fields.String(), metadata={"description": "dijawab: links"})
    verdict = ma.fields.String(metadata={"enum": list(VERDICTS), "description": "dijawab, a hoax report"})
    factcheck_link = ma.fields.String(metadata={"description": "dijawab, a hoax report"})
    how = ma.fields.String(metadata={"description": "disampaikan: how it was passed on to residents"})
    delivered_on = ma.fields.Date(metadata={"description": "disampaikan: when"})


def serialise(items, viewer, with_history: bool = False) -> list[dict]:
    now = utcnow()
    out = []
    for a in items:
        body = {
            "id": a.id, "kim_id": a.kim_id, "kind": a.kind, "topic": a.topic, "desa_code": a.desa_code,
            "description": a.description, "residents_count": a.residents_count, "links": list(a.links or []),
            "hoax_claim": a.hoax_claim, "hoax_channel": a.hoax_channel, "hoax_link": a.hoax_link,
            "state": a.state, "handler_scope": a.handler_scope, "due_at": a.due_at, "overdue": a.is_overdue(now),
            "escalation_level": a.escalation_level, "extended": a.extended, "agency": a.agency,
            "agency_reference": a.agency_reference, "answer": a.answer, "answer_links": list(a.answer_links or []),
            "verdict": a.verdict, "factcheck_link": a.factcheck_link, "reason": a.reason,
            "original_id": a.original_id, "delivered_how": a.delivered_how, "delivered_on": a.delivered_on,
            "created_at": a.created_at, "answered_at": a.answered_at, "closed_at": a.closed_at,
            "photos": [{"url": url_for("aspirations.photo", key=p.key),
                        "thumb_url": url_for("aspirations.photo", key=p.thumb_key),
                        "width": p.width, "height": p.height} for p in a.photos],
            "url": url_for("aspirations.detail", item_id=a.id),
            "public_title": a.public_title, "public_text": a.public_text, "public_claim": a.public_claim,
            "published_at": a.published_at,
            "photos_expected": a.photos_expected or 0, "photos_received": a.photos_received,
            "complete": a.photos_complete, "written_at": a.written_at,
            "clarification_url": url_for("activities.detail", activity_id=a.clarification_activity_id)
            if a.clarification_activity_id else None,
        }
        if permissions.can_see_aspiration_personal(viewer, a):
            body["resident_name"], body["resident_contact"] = a.resident_name, a.resident_contact
        if with_history:
            body["history"] = [{"action": e.action, "from_state": e.from_state, "to_state": e.to_state,
                                "reason": e.reason, "details": e.details or {}, "at": e.at,
                                "actor": e.actor.name if e.actor else None} for e in queries.history(a)]
        out.append(body)
    return out


def _item_or_404(item_id: int):
    item = queries.get_aspiration(item_id)
    if item is None or not permissions.aspiration_visible(current_user, item):
        abort(404, message=_("No such item."))
    return item


@blp.route("")
class Aspirations(MethodView):
    decorators = throttle.posting("aspiration", methods=["POST"])

    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(AspirationListArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, AspirationPageSchema)
    @error_responses(blp, 400, 401)
    def get(self, per_page, cursor=None, **filters):
        """Items the caller may see (their KIMs', their region's), overdue first; pages by `cursor`."""
        page = queries.aspiration_page(current_user, cursor=cursor, per_page=per_page, **filters)
        return {"items": serialise(page.items, current_user), "next_cursor": page.next_cursor,
                "per_page": page.per_page}

    @login_required
    @blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_KEY], requestBody={"content": {
        "application/json": {"schema": AspirationInputSchema},
        "multipart/form-data": {"schema": AspirationInputSchema}}})
    @blp.response(201, AspirationSchema, headers=REPLAYED_HEADER)
    @error_responses(blp, 400, 401, 403, 404, 409, 413, 422)
    def post(self):
        """Record an aspiration, complaint, information request or hoax report for a KIM you belong
        to; at most once per `Idempotency-Key` (the offline outbox)."""
        from kim_platform.kims.queries import get_kim

        raw, photos = forms.aspiration_input(request)
        kim_id = raw.pop("kim_id", None)
        try:
            kim_id = int(kim_id) if not isinstance(kim_id, bool) else None
        except (TypeError, ValueError):
            kim_id = None
        kim = get_kim(kim_id) if kim_id and 1 <= kim_id < 2**63 else None
        if kim is None or not permissions.kim_visible(current_user, kim):
            raise services.AspirationError(_("Some fields need attention."), fields={"kim_id": _("No such KIM.")})
        key = forms.idempotency_key(request)
        written_at, photo_count = forms.delivery_input(request)
        receipt = services.send_aspiration(current_user, kim, raw, photos, written_at=written_at,
                                           photo_count=photo_count, key=key)
        body = serialise([receipt.item], current_user, with_history=True)[0]
        if receipt.replayed:
            return body, 201, {"Idempotent-Replayed": "true"}
        return body


class StatsArgs(ma.Schema):
    region = RegionCode(validate=ma.validate.Regexp(r"^\d{2}(\.\d{2})?$", error="Not a province or kabupaten code."),
                        metadata={"description": "a province or kabupaten/kota code; none: Indonesia"})


class TopicCountSchema(ma.Schema):
    topic = ma.fields.String(required=True)
    count = ma.fields.Integer(required=True)


class StatsSchema(ma.Schema):
    region = ma.fields.String(allow_none=True, required=True)
    window_days = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    by_kind = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    by_state = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    answered = ma.fields.Integer(required=True)
    median_hours_to_answer = ma.fields.Float(allow_none=True, required=True)
    answered_in_time_share = ma.fields.Float(allow_none=True, required=True)
    top_topics = ma.fields.List(ma.fields.Nested(TopicCountSchema), required=True)


@blp.route("/stats")
class AspirationStats(MethodView):
    @blp.arguments(StatsArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, StatsSchema)
    @error_responses(blp, 400)
    def get(self, region=None):
        """Public figures of a region over the last 90 days: counts only, never an item or a person."""
        stats = queries.public_stats(region)
        return {"region": stats.region, "window_days": queries.STATS_WINDOW_DAYS, "total": stats.total,
                "by_kind": stats.by_kind, "by_state": stats.by_state, "answered": stats.answered,
                "median_hours_to_answer": stats.median_hours_to_answer,
                "answered_in_time_share": stats.answered_in_time_share,
                "top_topics": [{"topic": t, "count": n} for t, n in stats.top_topics]}


class PublicListArgs(ma.Schema):
    cursor = ma.fields.String(validate=ma.validate.Length(max=200),
                              metadata={"description": "`next_cursor` of the previous page"})
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=queries.MAX_PER_PAGE))
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    region = RegionCode(metadata={"description": "items whose desa lies in this region"})


class PublicItemSchema(ma.Schema):
    """A published item: the handler's texts and the place, never a name, a contact or evidence."""
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    topic = ma.fields.String(required=True, validate=ma.validate.OneOf(TOPICS))
    title = ma.fields.String(required=True)
    text = ma.fields.String(required=True)
    claim = ma.fields.String(allow_none=True, required=True, metadata={"description": "a hoax: the claim"})
    verdict = ma.fields.String(allow_none=True, required=True, validate=ma.validate.OneOf(VERDICTS))
    factcheck_link = ma.fields.String(allow_none=True, required=True)
    desa_code = ma.fields.String(required=True)
    desa_name = ma.fields.String(allow_none=True, required=True)
    kabupaten_code = ma.fields.String(required=True)
    kabupaten_name = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.DateTime(required=True)
    answered_at = ma.fields.DateTime(allow_none=True, required=True)
    published_at = ma.fields.DateTime(required=True)
    url = ma.fields.String(required=True)


class PublicPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PublicItemSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
    per_page = ma.fields.Integer(required=True)


def serialise_public(items) -> list[dict]:
    names = queries.public_place_names(items)
    return [{"id": i.id, "kind": i.kind, "topic": i.topic, "title": i.public_title, "text": i.public_text,
             "claim": i.public_claim, "verdict": i.verdict, "factcheck_link": i.factcheck_link,
             "desa_code": i.desa_code, "desa_name": names.get(i.desa_code), "kabupaten_code": i.desa_code[:5],
             "kabupaten_name": names.get(i.desa_code[:5]), "created_at": i.created_at, "answered_at": i.answered_at,
             "published_at": i.published_at, "url": url_for("aspirations.public_detail", item_id=i.id)}
            for i in items]


@blp.route("/public")
class PublicAspirations(MethodView):
    @blp.arguments(PublicListArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, PublicPageSchema)
    @error_responses(blp, 400)
    def get(self, per_page, cursor=None, kind=None, region=None):
        """Answered items and hoax clarifications their handlers published, newest first; pages by `cursor`."""
        page = queries.public_page(region=region, kind=kind, cursor=cursor, per_page=per_page)
        return {"items": serialise_public(page.items), "next_cursor": page.next_cursor, "per_page": page.per_page}


@blp.route("/public/<int:item_id>")
class PublicAspiration(MethodView):
    @blp.response(200, PublicItemSchema)
    @error_responses(blp, 404)
    def get(self, item_id):
        """One published item (404 unless published)."""
        item = queries.public_item(item_id)
        if item is None:
            abort(404, message=_("No such item."))
        return serialise_public([item])[0]


class PublicationInputSchema(ma.Schema):
    public_title = ma.fields.String(required=True, metadata={"description": "at most 120 characters"})
    public_text = ma.fields.String(required=True, metadata={
        "description": "plain text (line breaks kept), at most 3,000 characters; prefill it from the answer"})
    public_claim = ma.fields.String(metadata={"description": "a hoax report only (required there)"})


@blp.route("/<int:item_id>/publication")
class AspirationPublication(MethodView):
    decorators = throttle.posting("aspiration", methods=["PUT", "DELETE"])

    @login_required
    @blp.doc(security=SECURITY, requestBody={"content": {"application/json": {"schema": PublicationInputSchema}}})
    @blp.response(200, AspirationSchema)
    @error_responses(blp, 400, 401, 403, 404, 409, 422)
    def put(self, item_id):
        """Publish (or update) the public version of an answered item: the handler's texts only."""
        item = _item_or_404(item_id)
        services.publish_aspiration(current_user, item, forms.publication_input(request))
        return serialise([item], current_user, with_history=True)[0]

    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(200, AspirationSchema)
    @error_responses(blp, 401, 403, 404, 409)
    def delete(self, item_id):
        """Hide the public version again (its public page and record answer 404)."""
        item = _item_or_404(item_id)
        services.unpublish_aspiration(current_user, item)
        return serialise([item], current_user, with_history=True)[0]


@blp.route("/<int:item_id>")
class AspirationItem(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(200, AspirationSchema)
    @error_responses(blp, 401, 404)
    def get(self, item_id):
        """One item with its history."""
        return serialise([_item_or_404(item_id)], current_user, with_history=True)[0]


@blp.route("/<int:item_id>/transitions")
class AspirationTransitions(MethodView):
    decorators = throttle.posting("aspiration", methods=["POST"])

    @login_required
    @blp.doc(security=SECURITY, requestBody={"content": {"application/json": {"schema": TransitionInputSchema}}})
    @blp.response(200, AspirationSchema)
    @error_responses(blp, 400, 401, 403, 404, 409, 422)
    def post(self, item_id):
        """One action of the state machine: 409 when the item's state does not allow it."""
        item = _item_or_404(item_id)
        action, fields = forms.transition_input(request)
        services.transition(current_user, item, action, fields)
        if not permissions.aspiration_visible(current_user, item):
            return serialise([item], None)[0]  # transferred out of the caller's scope: no personal data
        return serialise([item], current_user, with_history=True)[0]


class EvidenceReceiptSchema(ma.Schema):
    aspiration = ma.fields.Nested(AspirationSchema, required=True)
    photos_expected = ma.fields.Integer(required=True)
    photos_received = ma.fields.Integer(required=True)
    complete = ma.fields.Boolean(required=True)


@blp.route("/<int:item_id>/photos/<int:n>")
class AspirationEvidence(MethodView):
    decorators = throttle.posting("photo", methods=["PUT"])

    @login_required
    @blp.doc(security=SECURITY, parameters=[{**IDEMPOTENCY_KEY, "required": True, "description":
                                             "client UUID of this photo: the same key again stores nothing"}],
             requestBody={"content": {"multipart/form-data": {"schema": EvidenceUploadSchema}}})
    @blp.response(200, EvidenceReceiptSchema)
    @error_responses(blp, 400, 401, 403, 404, 409, 413, 422)
    def put(self, item_id, n):
        """Evidence photo `n` (1..photos_expected) of an item sent with `photo_count`, on its own
        (its author); stored and re-encoded like a report photo."""
        item = _item_or_404(item_id)
        receipt = services.store_evidence_photo(current_user, item, n, forms.photo_upload(request),
                                                forms.idempotency_key(request))
        item = receipt.item
        return {"aspiration": serialise([item], current_user)[0], "photos_expected": item.photos_expected,
                "photos_received": item.photos_received, "complete": item.photos_complete}


@blp.route("/<int:item_id>/clarification")
class AspirationClarification(MethodView):
    decorators = throttle.posting("report", methods=["POST"])

    @login_required
    @blp.doc(security=SECURITY, requestBody={"required": False, "content": {
        "application/json": {"schema": ClarificationInputSchema}}})
    @blp.response(201, ActivitySchema)
    @error_responses(blp, 400, 401, 403, 404, 409, 422)
    def post(self, item_id):
        """Publish an answered hoax item as the KIM's `klarifikasi-hoaks` activity report, once per
        item (members of the reporting KIM); 409 a second time, for another kind or without a verdict."""
        item = _item_or_404(item_id)
        activity = services.publish_clarification(current_user, item, forms.clarification_input(request))
        return serialise_activities([activity], current_user)[0]


# The oversight figures (time to answer, repeated topics) live on this blueprint too.
from kim_platform.aspirations import oversight_api  # noqa: E402,F401
