"""Account forms; every message is in the interface language."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField, TelField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from kim_platform.accounts.passwords import MAX_LENGTH
from kim_platform.core.auth import LazyFormCSRF
from kim_platform.core.text import PlainTextField

REQUIRED = _l("This field is required.")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _email_field():
    return EmailField(_l("Email"), filters=[_strip], validators=[
        DataRequired(REQUIRED), Length(max=254), Email(_l("Enter a valid email address."), check_deliverability=False),
    ], render_kw={"autocomplete": "email", "inputmode": "email"})


def _new_password_field(label):
    return PasswordField(label, validators=[DataRequired(REQUIRED), Length(max=MAX_LENGTH * 4)],
                         render_kw={"autocomplete": "new-password"})


class RegisterForm(FlaskForm):
    name = StringField(_l("Full name"), filters=[_strip], validators=[DataRequired(REQUIRED), Length(max=120)],
                       render_kw={"autocomplete": "name"})
    email = _email_field()
    password = _new_password_field(_l("Password"))
    whatsapp = TelField(_l("WhatsApp number (optional)"), validators=[Optional(), Length(max=30)],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=MAX_LENGTH * 4)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me logged in on this device"))


class ForgotPasswordForm(FlaskForm):
    email = _email_field()


class ResetPasswordForm(FlaskForm):
    password = _new_password_field(_l("New password"))
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(REQUIRED), EqualTo("password", _l("The two passwords are not the same."))
    ], render_kw={"autocomplete": "new-password"})


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)],
                                     render_kw={"autocomplete": "current-password"})


class ProfileForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    whatsapp = TelField(_l("WhatsApp number (optional)"), validators=[Optional(), Length(max=30)])


class ApiTokenForm(FlaskForm):
    label = StringField(_l("Label"), validators=[Optional(), Length(max=80), PlainTextField()],
                        render_kw={"placeholder": _l("e.g. phone app")})


class GrantRoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[SelectChoice("pembina", _l("Pembina")),
                                            SelectChoice("direktorat", _l("Directorate"))])
    scope = StringField(_l("Region code (for pembina)"), validators=[Optional(), Length(max=13)],
                        render_kw={"placeholder": "76.02", "inputmode": "decimal"})


class PostForm(FlaskForm):
    """A form with nothing but the CSRF token, for buttons that change something."""

    class Meta:
        csrf_class = LazyFormCSRF  # panels build one for every visitor; only a shown button needs it
