"""Sending mail: SMTP when MAIL_SERVER is configured, else the log and instance/mail/.

Inside a request, mail is only queued and goes out after the response has been sent
(`call_on_close`), so how long an answer takes never tells whether a mail was sent (an account
exists). Mail queued before a rollback, or in a request that failed with a 5xx, is dropped: a
mail only speaks of what was committed. Outside a request (CLI) it is sent at once."""
import logging
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from flask import current_app, g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from kim_platform.core import clock

log = logging.getLogger(__name__)


def send_mail(to: str, subject: str, body: str) -> None:
    """Send now outside a request; inside one, queue it for after the response."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if has_request_context():
        g.setdefault("pending_mail", []).append(message)
    else:
        deliver(message, config)


def deliver(message: EmailMessage, config) -> None:
    if config.get("MAIL_SERVER"):
        _send_smtp(message, config)
        return
    outbox = Path(config["MAIL_OUTBOX"])
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = clock.utcnow().strftime("%Y%m%dT%H%M%S%f")
    path = outbox / f"{stamp}-{message['To'].replace('@', '_at_')}.eml"
    path.write_bytes(bytes(message))
    log.info("Mail to %s (%s) written to %s\n%s", message["To"], message["Subject"], path, message.get_content())


def _send_smtp(message: EmailMessage, config) -> None:
    with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=20) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


def _deliver_all(config, messages: list[EmailMessage]) -> None:
    """After the response: every queued mail; a failure is logged, never raised into the server."""
    for message in messages:
        try:
            deliver(message, config)
        except Exception:  # an SMTP outage must not break the worker or reveal anything
            log.exception("could not send mail to %s", message["To"])


def _hand_over_after_response(response):
    messages = g.pop("pending_mail", None)
    if messages:
        if response.status_code >= 500:
            log.warning("%d queued mail(s) dropped: the request failed", len(messages))
        else:
            config = current_app.config
            response.call_on_close(lambda: _deliver_all(config, messages))
    return response


def _drop_on_rollback(session) -> None:
    if has_request_context() and g.get("pending_mail"):
        log.info("%d queued mail(s) dropped: the transaction was rolled back", len(g.pending_mail))
        g.pending_mail = []


def init_app(app) -> None:
    app.after_request(_hand_over_after_response)
    if not event.contains(Session, "after_rollback", _drop_on_rollback):
        event.listen(Session, "after_rollback", _drop_on_rollback)
