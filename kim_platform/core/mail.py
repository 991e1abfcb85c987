"""Sending mail: SMTP when MAIL_SERVER is configured, else the log and instance/mail/.

Inside a request, mail is only queued and goes out after the response has been sent
(`call_on_close`), so how long an answer takes never tells whether a mail was sent (an account
exists). Mail queued before a rollback, or in a request that failed with a 5xx, is dropped: a
mail only speaks of what was committed. Outside a request (CLI) it is sent at once.

With the job queue (core/queue.py) every mail is a `mail` job instead, inserted in the current
transaction (inside a request, the request's: committed with it or dropped with it; outside one,
in the caller's transaction if one is open, else in one of its own) and sent by the worker, retried
with backoff when SMTP fails. Each message gets its Message-ID and timestamp when it is written;
the job's dedup key is that Message-ID, and a redelivered job writes the same outbox file again.

"Exactly once" for SMTP: the job's row is marked done in the transaction after the SMTP server
has accepted the message, and SMTP has no way to take a message back or to ask whether it
arrived. A worker killed (or a database lost) between the server's "250 OK" and that commit sends
the message again on the next attempt: at least once, with the same Message-ID (which mail
clients and many servers use to drop the duplicate); never lost, never sent for a rollback."""
import logging
import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app, g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from kim_platform.core import clock

log = logging.getLogger(__name__)


MAIL_JOB = "mail"


def _message(config, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def send_mail(to: str, subject: str, body: str) -> None:
    """Send now outside a request; inside one, queue it for after the response; with the job
    queue, enqueue a mail job (see the module's docstring)."""
    from kim_platform.core import queue

    config = current_app.config
    if queue.enabled():
        _enqueue(config, to, subject, body)
        return
    message = _message(config, to, subject, body)
    if has_request_context():
        g.setdefault("pending_mail", []).append(message)
    else:
        deliver(message, config)


def _enqueue(config, to: str, subject: str, body: str) -> int:
    from kim_platform.core import queue
    from kim_platform.core.transaction import job_transaction
    from kim_platform.extensions import db

    domain = config["MAIL_FROM"].rsplit("@", 1)[-1].strip("> ") or "kim.localhost"
    message_id = make_msgid(domain=domain)
    stamp = clock.utcnow().strftime("%Y%m%dT%H%M%S%f")
    payload = {"to": to, "subject": subject, "body": body, "message_id": message_id, "stamp": stamp}
    if has_request_context() or db.session().in_transaction():  # committed (or not) with the caller's work
        return queue.enqueue(MAIL_JOB, payload, dedup_key=f"mail:{message_id}")
    with job_transaction():  # a CLI command that has committed its work already
        return queue.enqueue(MAIL_JOB, payload, dedup_key=f"mail:{message_id}")


def _mail_job(payload: dict) -> None:
    """The worker sends one queued mail; SMTP errors raise, and the job is retried with backoff."""
    config = current_app.config
    message = _message(config, payload["to"], payload["subject"], payload["body"])
    message["Message-ID"] = payload["message_id"]
    stamp = datetime.strptime(payload["stamp"], "%Y%m%dT%H%M%S%f").replace(tzinfo=timezone.utc)
    message["Date"] = format_datetime(stamp)
    deliver(message, config, stamp=payload["stamp"])


def deliver(message: EmailMessage, config, stamp: str | None = None) -> None:
    """Send by SMTP, or write to the outbox. With `stamp` (a queued mail's), the file's name is
    fixed by the message: a redelivered job rewrites the same file instead of adding one."""
    if config.get("MAIL_SERVER"):
        _send_smtp(message, config)
        return
    outbox = Path(config["MAIL_OUTBOX"])
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = stamp or clock.utcnow().strftime("%Y%m%dT%H%M%S%f")
    path = outbox / f"{stamp}-{message['To'].replace('@', '_at_')}.eml"
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(bytes(message))
    temporary.replace(path)
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
    from kim_platform.core.queue import job_handler

    job_handler(app, MAIL_JOB, _mail_job, keep_payload=False)  # the payload holds links with tokens
    app.after_request(_hand_over_after_response)
    if not event.contains(Session, "after_rollback", _drop_on_rollback):
        event.listen(Session, "after_rollback", _drop_on_rollback)
