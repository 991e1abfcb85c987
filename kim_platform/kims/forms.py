"""KIM forms. Field checks with their messages live in kims.services (shared with the API)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    URLField,
)
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from kim_platform.kims.services import SOCIAL_HOSTS


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class KimForm(FlaskForm):
    name = StringField(_l("Name of the KIM"), render_kw={"maxlength": 150, "placeholder": _l("e.g. KIM Binanga Maju")})
    bidang = CheckboxList(_l("Fields of work (bidang)"), choices=[], validate_choice=False)
    desa_code = HiddenField()
    lat = StringField(_l("Latitude"), render_kw={"inputmode": "decimal", "placeholder": "-2.6801"})
    lon = StringField(_l("Longitude"), render_kw={"inputmode": "decimal", "placeholder": "118.8930"})
    address = StringField(_l("Address (secretariat)"), validators=[Optional()], render_kw={"maxlength": 300})
    founded_on = DateField(_l("Founded on"), validators=[Optional()])
    sk_number = StringField(_l("SK number"), validators=[Optional()], render_kw={"maxlength": 120})
    sk_issuer = StringField(_l("SK issued by (kepala desa/lurah)"), validators=[Optional()], render_kw={"maxlength": 150})
    sk_date = DateField(_l("SK date"), validators=[Optional()])
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

    def raw_input(self) -> dict:
        """The submitted values in the shape kims.services expects."""
        return {
            "name": self.name.data or "", "bidang": self.bidang.data or [], "desa_code": self.desa_code.data or "",
            "lat": self.lat.data, "lon": self.lon.data, "address": self.address.data,
            "founded_on": self.founded_on.raw_data[0] if self.founded_on.raw_data else None,
            "sk_number": self.sk_number.data, "sk_issuer": self.sk_issuer.data,
            "sk_date": self.sk_date.raw_data[0] if self.sk_date.raw_data else None,
            "description": self.description.data, "whatsapp": self.whatsapp.data, "email": self.email.data,
            "socials": {p: getattr(self, f"social_{p}").data for p in SOCIAL_HOSTS
                        if getattr(self, f"social_{p}").data},
        }

    def show_errors(self, fields: dict) -> None:
        for key, message in fields.items():
            name = "social_" + key.split(".", 1)[1] if key.startswith("socials.") else key
            field = getattr(self, name, None)
            target = field if field is not None else None
            if target is None:
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
