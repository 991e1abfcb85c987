"""The mails accounts send. Failures are logged, never shown: they must not reveal accounts."""
import logging

from flask_babel import gettext as _

from kim_platform.accounts import services
from kim_platform.core.mail import send_mail
from kim_platform.core.urls import absolute_url

log = logging.getLogger(__name__)


def send_quietly(to: str, subject: str, body: str) -> None:
    """Queue the mail (it goes after the response: core/mail.py); a failure is only logged."""
    try:
        send_mail(to, subject, body)
    except Exception:  # an SMTP outage must not turn into a 500 or an account oracle
        log.exception("could not send mail to %s", to)


def send_registration_mail(result: "services.Registration") -> None:
    if result.user is not None:
        link = absolute_url("accounts.verify_email", token=services.email_verification_token(result.user))
        send_quietly(result.email, _("Confirm your KIM Platform account"), _(
            "Hello %(name)s,\n\nPlease confirm your email address to activate your account:\n%(link)s\n\n"
            "The link is valid for 7 days. If you did not register, ignore this message.",
            name=result.user.name, link=link))
    else:
        reset = absolute_url("accounts.forgot_password")
        send_quietly(result.email, _("You already have a KIM Platform account"), _(
            "Someone (perhaps you) tried to register with this email address, which already has an "
            "account.\n\nIf it was you, log in, or set a new password here:\n%(link)s\n\n"
            "If it was not you, you can ignore this message.", link=reset))


def send_password_reset_mail(user) -> None:
    link = absolute_url("accounts.reset_password", token=services.password_reset_token(user))
    send_quietly(user.email, _("Reset your KIM Platform password"), _(
        "Hello %(name)s,\n\nOpen this link to choose a new password (valid for one hour, once):\n%(link)s\n\n"
        "If you did not ask for this, ignore this message; your password stays the same.",
        name=user.name, link=link))
