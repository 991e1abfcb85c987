"""Sending mail: SMTP when MAIL_SERVER is configured, else the log and instance/mail/.

Inside a request, mail is only queued and goes out after the response has been sent
(`call_on_close`), so how long an answer takes never tells whether a mail was sent (an account
exists). Mail queued before a rollback, or in a request that failed with a 5xx, is dropped: a
mail only speaks of what was committed. Outside a request (CLI) it is sent at once.

With the job queue (core/queue.py) every mail is a `mail` job instead, sent by the worker and
retried with backoff when SMTP fails. Inside a request the job is enqueued after the response, in
a transaction of its own, and only if the request committed (as above: a rollback or a 5xx drops
it): the request does the same work whether it mails or not, so its timing still tells nothing,
and no request waits on the database or Redis for a mail. (The window this leaves, a process
killed between the answer and that insert, is the one mails had inline.) Outside a request the job
is inserted in the caller's transaction if one is open (a job's, a daily task's: committed with its
work), else in one of its own. Each message gets its Message-ID and timestamp when it is written;
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
_PENDING_JOBS = "pending_mail_jobs"


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


def _enqueue(config, to: str, subject: str, body: str) -> None:
    from kim_platform.core import queue
    from kim_platform.core.transaction import job_transaction
    from kim_platform.extensions import db

    domain = config["MAIL_FROM"].rsplit("@", 1)[-1].strip("> ") or "kim.localhost"
    message_id = make_msgid(domain=domain)
    stamp = clock.utcnow().strftime("%Y%m%dT%H%M%S%f")
    payload = {"to": to, "subject": subject, "body": body, "message_id": message_id, "stamp": stamp}
    if has_request_context():  # enqueued after the response, if the request commits
        g.setdefault(_PENDING_JOBS, []).append(payload)
        return
    if db.session().in_transaction():  # committed (or not) with the caller's work
        queue.enqueue(MAIL_JOB, payload, dedup_key=f"mail:{message_id}")
        return
    with job_transaction():  # a CLI command that has committed its work already
        queue.enqueue(MAIL_JOB, payload, dedup_key=f"mail:{message_id}")


def _enqueue_after_response(app, payloads: list[dict]) -> None:
    """The mail jobs of a request that committed, in a transaction of their own; a failure (the
    database away) is logged with the recipients, never raised into the server."""
    from kim_platform.core import queue
    from kim_platform.core.transaction import job_transaction
    from kim_platform.extensions import db

    with app.app_context():
        try:
            with job_transaction():
                for payload in payloads:
                    queue.enqueue(MAIL_JOB, payload, dedup_key=f"mail:{payload['message_id']}")
        except Exception:  # noqa: BLE001 - the answer has been sent; the log keeps the loss
            log.exception("mail(s) to %s not queued", ", ".join(p["to"] for p in payloads))
        finally:
            db.session.remove()


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
    jobs = g.pop(_PENDING_JOBS, None)
    if jobs:
        if response.status_code >= 500:
            log.warning("%d mail job(s) dropped: the request failed", len(jobs))
        else:
            app = current_app._get_current_object()
            response.call_on_close(lambda: _enqueue_after_response(app, jobs))
    return response


def _drop_on_rollback(session) -> None:
    if not has_request_context():
        return
    for key in ("pending_mail", _PENDING_JOBS):
        if g.get(key):
            log.info("%d queued mail(s) dropped: the transaction was rolled back", len(g.get(key)))
            setattr(g, key, [])


def init_app(app) -> None:
    from kim_platform.core.queue import job_handler

    job_handler(app, MAIL_JOB, _mail_job, keep_payload=False)  # the payload holds links with tokens
    app.after_request(_hand_over_after_response)
    if not event.contains(Session, "after_rollback", _drop_on_rollback):
        event.listen(Session, "after_rollback", _drop_on_rollback)
