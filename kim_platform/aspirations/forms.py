"""One parser for an aspiration's input and a transition's fields, shared by the pages and the API.

A JSON object (lists allowed) or a form MultiDict (links as text, one per line) with uploaded
`photos`; both reach services with the same names, so they get the same field errors."""
from flask_babel import lazy_gettext as _l

from kim_platform.aspirations.services import FIELDS, AspirationError
from kim_platform.core import idempotency

TRANSITION_FIELDS = ("reason", "target", "original_id", "agency", "reference", "answer", "links", "verdict",
                     "factcheck_link", "how", "delivered_on")


def _pick(source, names) -> dict:
    if not hasattr(source, "get") or not hasattr(source, "__contains__"):
        raise AspirationError(_l("The body must be a JSON object."), status=400)
    return {key: source.get(key) for key in names if key in source}


def aspiration_input(request) -> tuple[dict, list[bytes]]:
    """(fields, photos) of an intake page or API request."""
    if request.mimetype == "application/json":
        return _pick(request.get_json(silent=True), (*FIELDS, "kim_id")), []
    photos = [f.read() for f in request.files.getlist("photos") if f and f.filename]
    return _pick(request.form, (*FIELDS, "kim_id")), photos


def delivery_input(request) -> tuple[object, object]:
    """(written_at, photo_count) of an item sent from the offline outbox, as sent (checked by
    services.send_aspiration through core.idempotency)."""
    source = request.get_json(silent=True) if request.mimetype == "application/json" else request.form
    if not hasattr(source, "get"):
        return None, None
    return source.get("written_at"), source.get("photo_count")


def idempotency_key(request, required: bool = False) -> str | None:
    """The request's `Idempotency-Key` header; a bad one is a 400."""
    return idempotency.header_key(request, required, AspirationError)


def photo_upload(request) -> bytes | None:
    """The one file of an evidence photo sent on its own (multipart field `photo`)."""
    upload = request.files.get("photo")
    return upload.read() if upload and upload.filename else None


def clarification_input(request) -> dict:
    """The member's own title and description of a klarifikasi hoaks report, where given."""
    source = request.get_json(silent=True) if request.mimetype == "application/json" else request.form
    if source is None and not request.get_data():
        return {}
    return _pick(source, ("title", "description"))


def transition_input(request) -> tuple[str | None, dict]:
    """(action, fields) of a transition page or API request."""
    source = request.get_json(silent=True) if request.mimetype == "application/json" else request.form
    fields = _pick(source, (*TRANSITION_FIELDS, "action"))
    action = fields.pop("action", None)
    return (action if isinstance(action, str) else None), fields


PUBLICATION_FIELDS = ("public_title", "public_text", "public_claim")


def publication_input(request) -> dict:
    """The public version's fields of a page or API request (the texts the handler submits)."""
    source = request.get_json(silent=True) if request.mimetype == "application/json" else request.form
    return _pick(source, PUBLICATION_FIELDS)
