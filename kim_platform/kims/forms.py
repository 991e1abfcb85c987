"""KIM forms, and the one parser of a KIM's input shared by the registration/edit pages and the API.

The pages (form fields, `social_<platform>` inputs, `logo`/`sk_file` uploads) and the API (a JSON
object, or multipart form fields with the same files) hand their input to `kim_input`, so both get
the same defaults: a blank string is "empty", an empty desa code on an edit means "unchanged",
repeated `bidang` fields make a list (a single string too), and `social_<platform>` fields make the
`socials` object. Field checks with their messages live in kims.services (clean_kim_input) and
regions.places; the duplicate-name guard with its confirm step in services.create_kim; `save` runs
the same steps for both faces (create or change, files, submit).
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    URLField,
)
from wtforms import SelectChoice
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, DateInput, ListWidget

from kim_platform.kims import services
from kim_platform.kims.models import PENGURUS_POSITIONS, Kim
from kim_platform.kims.services import EDITABLE_FIELDS, SOCIAL_HOSTS, TRANSITIONS, KimError

SAVE, SUBMIT = "save", "submit"
ACTIONS = (SAVE, SUBMIT)
FILES = ("logo", "sk_file")
TRUE_WORDS = (True, "true", "1", "on", "yes")
FALSE_WORDS = (False, "false", "0", "off", "no")


@dataclass
class KimInput:
    raw: dict  # what services.create_kim / update_kim take
    action: str = SAVE  # SAVE, or SUBMIT for verification after saving
    confirmed: bool = False  # "not a duplicate": register despite look-alikes in the desa
    files: dict = field(default_factory=dict)  # logo / sk_file: the uploaded bytes


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _needs_attention(fields: dict, status: int = 422) -> KimError:
    return KimError(_l("Some fields need attention."), fields=fields, status=status)


def _bidang(source, getlist):
    """A list of slugs from repeated form fields, a JSON list or one string; blanks dropped.

    Anything else is passed on for services to refuse. The count is judged there before any query."""
    value = getlist("bidang") if getlist is not None else source.get("bidang")
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [v for v in value if not (isinstance(v, str) and not v.strip())]
    return value


def _socials(source):
    """The `socials` object (JSON), with `social_<platform>` fields (the page's inputs) added."""
    given = {p: source.get(f"social_{p}") for p in SOCIAL_HOSTS if f"social_{p}" in source}
    if "socials" not in source:
        return given
    socials = source.get("socials")
    if isinstance(socials, dict) and given:
        return {**socials, **given}
    return socials


def _pengurus(source):
    """The `pengurus` object (JSON), with `pengurus_<position>` fields (the edit page's selects) added."""
    given = {p: source.get(f"pengurus_{p}") for p in PENGURUS_POSITIONS if f"pengurus_{p}" in source}
    if "pengurus" not in source:
        return given
    pengurus = source.get("pengurus")
    if isinstance(pengurus, dict) and given:
        return {**pengurus, **given}
    return pengurus


def _fields(source, editing: bool) -> dict:
    getlist = getattr(source, "getlist", None)
    raw = {}
    for key in EDITABLE_FIELDS:
        if key == "bidang":
            if key in source:
                raw[key] = _bidang(source, getlist)
        elif key == "socials":
            if key in source or any(f"social_{p}" in source for p in SOCIAL_HOSTS):
                raw[key] = _socials(source)
        elif key == "pengurus":
            if key in source or any(f"pengurus_{p}" in source for p in PENGURUS_POSITIONS):
                raw[key] = _pengurus(source)
        elif key in source:
            value = source.get(key)  # a repeated form field: its first value
            raw[key] = "" if isinstance(value, str) and not value.strip() else value
    if editing and _blank(raw.get("desa_code", "-")):
        raw.pop("desa_code")  # not given on an edit: the KIM stays in its desa
    return raw


def _flag(source, key: str) -> bool:
    value = source.get(key)
    if _blank(value) or value in FALSE_WORDS:
        return False
    if value in TRUE_WORDS:
        return True
    raise _needs_attention({key: _l("Give true or false.")})


def _action(source) -> str:
    action = source.get("action")
    if _blank(action):
        return SAVE
    if action not in ACTIONS:
        raise _needs_attention({"action": _l("Choose one of: %(actions)s.", actions=", ".join(ACTIONS))})
    return action


def kim_input(source, files=None, editing: bool = False) -> KimInput:
    """Turn a JSON object or a form MultiDict (plus uploaded files) into the services' input."""
    if not hasattr(source, "get") or not hasattr(source, "__contains__") or isinstance(source, (str, bytes)):
        raise KimError(_l("The body must be a JSON object."), status=400)
    uploads = {}
    for name in FILES:
        upload = files.get(name) if files is not None else None
        if upload is not None and getattr(upload, "filename", ""):
            uploads[name] = upload.read()
    return KimInput(raw=_fields(source, editing), action=_action(source),
                    confirmed=False if editing else _flag(source, "confirm_not_duplicate"), files=uploads)


def from_request(request, editing: bool = False) -> KimInput:
    """The KIM input of a page or API request: a JSON body, or (multipart) form fields and files."""
    if request.mimetype == "application/json":
        return kim_input(request.get_json(silent=True), editing=editing)
    return kim_input(request.form, request.files, editing=editing)


def save(actor, given: KimInput, kim: Kim | None = None) -> Kim:
    """What registering (kim=None) or editing does on every face: create (behind the duplicate
    guard) or change the KIM, store its logo and SK scan, and submit it when asked and allowed."""
    if kim is None:
        kim = services.create_kim(actor, given.raw, confirmed=given.confirmed)
    else:
        services.update_kim(actor, kim, given.raw)
    if given.files:
        services.set_files(actor, kim, **given.files)
    if given.action == SUBMIT and kim.status in TRANSITIONS["submit"][0]:
        services.change_status(actor, kim, "submit")
    return kim


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class KimForm(FlaskForm):
    """Renders the registration/edit page; on a POST it checks only the CSRF token (kim_input parses)."""

    name = StringField(_l("Name of the KIM"), render_kw={"maxlength": 150, "placeholder": _l("e.g. KIM Binanga Maju")})
    bidang = CheckboxList(_l("Fields of work (bidang)"), choices=[], validate_choice=False)
    desa_code = HiddenField()
    lat = StringField(_l("Latitude"), render_kw={"inputmode": "decimal", "placeholder": "-2.6801"})
    lon = StringField(_l("Longitude"), render_kw={"inputmode": "decimal", "placeholder": "118.8930"})
    address = StringField(_l("Address (secretariat)"), validators=[Optional()], render_kw={"maxlength": 300})
    # Plain strings rendered as date inputs: the date is judged by services, as for the API.
    founded_on = StringField(_l("Founded on"), widget=DateInput())
    sk_number = StringField(_l("SK number"), validators=[Optional()], render_kw={"maxlength": 120})
    sk_issuer = StringField(_l("SK issued by (kepala desa/lurah)"), validators=[Optional()], render_kw={"maxlength": 150})
    sk_date = StringField(_l("SK date"), widget=DateInput())
    sk_valid_until = StringField(_l("SK valid until (masa berlaku)"), widget=DateInput())
    pengurus_ketua = SelectField(_l("Ketua"), choices=[], validate_choice=False)
    pengurus_sekretaris = SelectField(_l("Sekretaris"), choices=[], validate_choice=False)
    pengurus_bendahara = SelectField(_l("Bendahara"), choices=[], validate_choice=False)
    sk_file = FileField(_l("SK scan (PDF or photo, at most 10 MB)"),
                        render_kw={"accept": "application/pdf,image/*"})
    logo = FileField(_l("Logo (image, at most 5 MB)"), render_kw={"accept": "image/*"})
    description = TextAreaField(_l("Description"), validators=[Optional()], render_kw={"rows": 5, "maxlength": 5000})
    whatsapp = TelField(_l("Public WhatsApp of the KIM"), validators=[Optional()], render_kw={"inputmode": "tel"})
    email = EmailField(_l("Public email of the KIM"), validators=[Optional()])
    social_instagram = URLField("Instagram", validators=[Optional()], render_kw={"placeholder": "https://instagram.com/…"})
    social_facebook = URLField("Facebook", validators=[Optional()], render_kw={"placeholder": "https://facebook.com/…"})
    social_youtube = URLField("YouTube", validators=[Optional()], render_kw={"placeholder": "https://youtube.com/@…"})
    social_tiktok = URLField("TikTok", validators=[Optional()], render_kw={"placeholder": "https://tiktok.com/@…"})
    social_x = URLField("X", validators=[Optional()], render_kw={"placeholder": "https://x.com/…"})
    social_website = URLField(_l("Website"), validators=[Optional()], render_kw={"placeholder": "https://…"})
    confirm_not_duplicate = HiddenField()

    def show_errors(self, fields: dict) -> None:
        """Put the parser's and the services' field errors next to their inputs."""
        for key, message in fields.items():
            name = "social_" + key.split(".", 1)[1] if key.startswith("socials.") else \
                "pengurus_" + key.split(".", 1)[1] if key.startswith("pengurus.") else key
            target = getattr(self, name, None)
            if target is None or not hasattr(target, "errors") or name == "confirm_not_duplicate":
                self.form_errors.append(str(message))
            else:
                target.errors = list(target.errors or []) + [str(message)]


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason (shown to the KIM)"), render_kw={"rows": 3, "maxlength": 2000})


class InviteForm(FlaskForm):
    email = EmailField(_l("Email of the new member"))
    role = SelectField(_l("Role"), choices=[])


class JoinForm(FlaskForm):
    code = StringField(_l("Join code"), render_kw={"maxlength": 12, "autocapitalize": "characters"})


class ExportForm(FlaskForm):
    """The directory file: a region (empty: the whole of Indonesia) and a format."""

    region = StringField(_l("Region code (empty: the whole of Indonesia)"),
                         render_kw={"maxlength": 13, "inputmode": "decimal", "placeholder": "35.07"})
    format = RadioField(_l("Format"), choices=[SelectChoice("xlsx", _l("XLSX (spreadsheet)")),
                                               SelectChoice("geojson", _l("GeoJSON (GIS)"))], default="xlsx")
