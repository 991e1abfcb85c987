"""One parser for a report's input, shared by the report form and the API.

Both the HTML pages (form fields) and the API (JSON, or multipart form fields) hand their
input to `report_input`, so they get the same defaults and the same field errors: an empty
desa code or an empty pair of coordinates means "not given" (the KIM's desa, no point), and
the requested action is one of draft / publish / save / review. Field checks with their
messages stay in activities.services.

The offline app's extras are read here too: the `Idempotency-Key` header, the device time
`written_at` and `photo_count` (photos that follow one by one), and the one `photo` of a
one-by-one upload.
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from kim_platform.activities.models import PendingAction
from kim_platform.activities.services import FIELDS, ActivityError
from kim_platform.activities.slots import REPORT_FIELDS
from kim_platform.core import idempotency

DRAFT, PUBLISH, REVIEW = PendingAction.DRAFT, PendingAction.PUBLISH, PendingAction.REVIEW
SAVE = "save"  # an edit that only saves
CREATE_ACTIONS = (PUBLISH, DRAFT)
EDIT_ACTIONS = (SAVE, PUBLISH, REVIEW, DRAFT)  # "draft" on an edit only saves
LIST_FIELDS = ("links", "tags")
TRUE_WORDS = (True, "true", "1", "on", "yes")
FALSE_WORDS = (False, "false", "0", "off", "no")


@dataclass
class ReportInput:
    raw: dict  # what services.create_activity / update_activity take
    action: str  # one of CREATE_ACTIONS or EDIT_ACTIONS
    photos: list[bytes] = field(default_factory=list)
    written_at: object = None  # device time, as sent (checked by services.clean_delivery)
    photo_count: object = None  # photos that follow one by one, as sent


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def extra_fields() -> tuple[str, ...]:
    """Input fields that the domains above read from a new report (a campaign's `campaign_id`,
    `channel`), declared in the slot activity_report.fields."""
    return tuple(name for names in REPORT_FIELDS.collect() for name in names if name not in FIELDS)


def _fields(source) -> dict:
    """The known fields of a JSON object or a form MultiDict (repeated links/tags become a list)."""
    getlist = getattr(source, "getlist", None)
    raw = {}
    for key in FIELDS + extra_fields():
        if key not in source:
            continue
        if getlist is not None and key in LIST_FIELDS and len(getlist(key)) > 1:
            raw[key] = getlist(key)
        else:
            raw[key] = source.get(key)
    if "desa_code" in raw and _empty(raw["desa_code"]):
        del raw["desa_code"]  # not given: the KIM's desa (or, on an edit, the report's)
    if _empty(raw.get("lat")) and _empty(raw.get("lon")):
        raw.pop("lat", None)  # neither coordinate given: no point (or, on an edit, unchanged)
        raw.pop("lon", None)
    return raw


def _action(source, editing: bool) -> str:
    """`action` (draft/publish/save/review) or the API's older `publish` flag; creating publishes by default."""
    allowed = EDIT_ACTIONS if editing else CREATE_ACTIONS
    action = source.get("action")
    if not _empty(action):
        if action not in allowed:
            raise ActivityError(_l("Some fields need attention."), fields={"action": _l(
                "Choose one of: %(actions)s.", actions=", ".join(allowed))})
        return action
    publish = source.get("publish")
    if _empty(publish):
        return SAVE if editing else PUBLISH
    if publish in TRUE_WORDS:
        return PUBLISH
    if publish in FALSE_WORDS:
        return SAVE if editing else DRAFT
    raise ActivityError(_l("Some fields need attention."), fields={"publish": _l("Give true or false.")})


def report_input(source, photos=(), editing: bool = False) -> ReportInput:
    """Turn a JSON object or a form MultiDict (plus uploaded files) into the services' input."""
    if not hasattr(source, "get") or not hasattr(source, "__contains__"):
        raise ActivityError(_l("The body must be a JSON object."), status=400)
    return ReportInput(raw=_fields(source), action=_action(source, editing),
                       photos=[f.read() for f in photos if f and f.filename],
                       written_at=source.get("written_at"), photo_count=source.get("photo_count"))


def from_request(request, editing: bool = False) -> ReportInput:
    """The report input of a page or API request: a JSON body, or (multipart) form fields and `photos`."""
    if request.mimetype == "application/json":
        return report_input(request.get_json(silent=True), editing=editing)
    return report_input(request.form, request.files.getlist("photos"), editing=editing)


def idempotency_key(request, required: bool = False) -> str | None:
    """The request's `Idempotency-Key` header (1-64 of [A-Za-z0-9_-]); a bad one is a 400."""
    return idempotency.header_key(request, required, ActivityError)


def photo_upload(request) -> bytes | None:
    """The one file of a photo sent on its own (multipart field `photo`)."""
    upload = request.files.get("photo")
    return upload.read() if upload and upload.filename else None
