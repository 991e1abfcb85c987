"""/api/v1/health: the KIMs needing attention (pembina), a KIM's health, contact notes, confirmation."""
import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort

from kim_platform import permissions
from kim_platform.api.schemas import ID_RANGE, error_responses
from kim_platform.core import clock, throttle
from kim_platform.health import queries, services
from kim_platform.health.models import HealthState, Reason
from kim_platform.kims.queries import get_kim

blp = Blueprint("health_api", __name__, description="KIM health: states, the pembina's to-do list, contact notes")
SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]
MAX_PER_PAGE = 200


class AttentionArgs(ma.Schema):
    cursor = ma.fields.Integer(validate=ID_RANGE, metadata={"description": "`next_cursor` of the previous page"})
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE))
    state = ma.fields.String(validate=ma.validate.OneOf(HealthState.NEEDS_ATTENTION))


class ContactSchema(ma.Schema):
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    email = ma.fields.String(required=True, metadata={"description": "masked unless the caller may see it"})
    whatsapp = ma.fields.String(allow_none=True)


class NoteSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    body = ma.fields.String(required=True)
    author = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime(required=True)


class HealthSchema(ma.Schema):
    kim_id = ma.fields.Integer(required=True)
    kim_name = ma.fields.String(required=True)
    desa_code = ma.fields.String(required=True)
    state = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(HealthState.ALL), metadata={
        "description": "null until the daily computation has seen the KIM (verified KIMs only)"})
    reasons = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(Reason.ALL)), required=True)
    last_report_on = ma.fields.Date(allow_none=True)
    computed_on = ma.fields.Date(allow_none=True)
    sk_valid_until = ma.fields.Date(allow_none=True)
    sk_expired = ma.fields.Boolean(required=True)
    updated_at = ma.fields.DateTime(required=True)
    data_confirmed_at = ma.fields.DateTime(allow_none=True)
    contacts = ma.fields.List(ma.fields.Nested(ContactSchema), metadata={"description": "the to-do list only"})
    notes = ma.fields.List(ma.fields.Nested(NoteSchema), metadata={
        "description": "contact notes, newest first (the region's pembina only)"})


class AttentionPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(HealthSchema), required=True)
    next_cursor = ma.fields.Integer(allow_none=True, required=True)
    per_page = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)


class NoteInputSchema(ma.Schema):
    body = ma.fields.Raw(required=True, metadata={"type": "string", "description": "how the KIM was contacted"})


def _note(note) -> dict:
    return {"id": note.id, "body": note.body, "author": note.author.name if note.author else None,
            "created_at": note.created_at}


def _health(kim, health, contacts=None, notes=None) -> dict:
    body = {"kim_id": kim.id, "kim_name": kim.name, "desa_code": kim.desa_code,
            "state": health.state if health else None, "reasons": list(health.reasons) if health else [],
            "last_report_on": health.last_report_on if health else kim.last_activity_on,
            "computed_on": health.computed_on if health else None, "sk_valid_until": kim.sk_valid_until,
            "sk_expired": kim.sk_valid_until is not None and kim.sk_valid_until < clock.today(),
            "updated_at": kim.updated_at, "data_confirmed_at": kim.data_confirmed_at}
    if contacts is not None:
        body["contacts"] = [vars(contact) for contact in contacts]
    if notes is not None:
        body["notes"] = [_note(note) for note in notes]
    return body


def _kim_or_404(kim_id: int):
    kim = get_kim(kim_id)
    if kim is None or not permissions.can_view_kim(current_user, kim):
        abort(404, message=_("No such KIM."))
    return kim


@blp.route("/attention")
class Attention(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.arguments(AttentionArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, AttentionPageSchema)
    @error_responses(blp, 400, 401, 403)
    def get(self, per_page, cursor=None, state=None):
        """The KIMs of the caller's scope that need attention (perlu_pendampingan, vakum), with
        reasons, last report, contacts and notes; pages by `cursor` (KIM id order)."""
        if not permissions.can(current_user, "health.attention"):
            abort(403, message=_("Only the pembina and the directorate follow KIM health."))
        page = queries.attention_list(current_user, cursor=cursor, per_page=per_page, state=state)
        kims = [kim for kim, _health in page.rows]
        contacts = queries.admin_contacts(current_user, kims)
        notes = queries.notes_of([kim.id for kim in kims], limit_each=3)
        return {"items": [_health(kim, health, contacts[kim.id], notes[kim.id]) for kim, health in page.rows],
                "next_cursor": page.next_cursor, "per_page": per_page, "total": page.total}


@blp.route("/kims/<int:kim_id>")
class KimHealthItem(MethodView):
    @blp.response(200, HealthSchema)
    @error_responses(blp, 404)
    def get(self, kim_id):
        """A KIM's health state and reasons; its contact notes for the pembina of its region."""
        kim = _kim_or_404(kim_id)
        notes = queries.notes_of([kim.id], limit_each=20)[kim.id] \
            if permissions.can_follow_up_kim(current_user, kim) else None
        return _health(kim, queries.health_of(kim.id), notes=notes)


@blp.route("/kims/<int:kim_id>/notes")
class KimNotes(MethodView):
    decorators = throttle.posting("health", methods=["POST"])

    @login_required
    @blp.doc(security=SECURITY, requestBody={"content": {"application/json": {"schema": NoteInputSchema}}})
    @blp.response(201, NoteSchema)
    @error_responses(blp, 400, 401, 403, 404, 422)
    def post(self, kim_id):
        """"Sudah dihubungi": note that the KIM was contacted (the pembina of its region; audited)."""
        kim = _kim_or_404(kim_id)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, message=_("The body must be a JSON object."))
        return _note(services.add_contact_note(current_user, kim, body.get("body")))


@blp.route("/kims/<int:kim_id>/confirm")
class KimConfirm(MethodView):
    @login_required
    @blp.doc(security=SECURITY)
    @blp.response(200, HealthSchema)
    @error_responses(blp, 401, 403, 404)
    def post(self, kim_id):
        """"Data masih benar": the KIM's ketua or an admin confirms its data for another year."""
        kim = _kim_or_404(kim_id)
        services.confirm_data(current_user, kim)
        return _health(kim, queries.health_of(kim.id))
