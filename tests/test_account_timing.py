"""Issue 14 I1 and L1: whether an address has an account must not show in how long the answer
takes. Mail goes out after the response; registration does the same work either way."""
from flask import has_request_context
from sqlalchemy import text

from kim_platform.accounts import mails, services
from kim_platform.core import mail
from kim_platform.extensions import db
from tests.conftest import csrf_token

PASSWORD = "sungai mandar biru"


def form(client, path, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def record_deliveries(monkeypatch) -> list:
    """Each delivery as (recipient, whether it happened inside the request)."""
    deliveries, original = [], mail.deliver

    def recording(message, config):
        deliveries.append((message["To"], has_request_context()))
        original(message, config)

    monkeypatch.setattr(mail, "deliver", recording)
    return deliveries


def test_reset_mail_is_sent_after_the_response_and_both_answers_do_the_same_work(
        client, make_user, outbox, monkeypatch):
    make_user(email="ada@example.id")
    deliveries = record_deliveries(monkeypatch)
    queued_in_request = []
    original = mails.send_password_reset_mail

    def checking(user):
        original(user)
        # Still inside the view: the mail is queued, nothing has been written or sent yet.
        queued_in_request.append((user.email, outbox.messages()))

    monkeypatch.setattr(mails, "send_password_reset_mail", checking)
    known = form(client, "/lupa-sandi", email="ada@example.id")
    unknown = form(client, "/lupa-sandi", email="tiada@example.id")
    assert known.status_code == unknown.status_code == 200
    assert queued_in_request == [("ada@example.id", [])]
    # Sent once, outside the request: the answer was complete before any SMTP work began.
    assert deliveries == [("ada@example.id", False)]
    assert [m["To"] for m in outbox.messages()] == ["ada@example.id"]


def test_registration_mails_are_sent_after_the_response(client, make_user, outbox, monkeypatch):
    make_user(email="ada@example.id")
    deliveries = record_deliveries(monkeypatch)
    form(client, "/daftar", name="Siti", email="baru@example.id", password=PASSWORD)
    form(client, "/daftar", name="Siti", email="ada@example.id", password=PASSWORD)
    client.post("/api/v1/auth/register", json={"name": "B", "email": "api@example.id", "password": PASSWORD})
    client.post("/api/v1/auth/register", json={"name": "B", "email": "ada@example.id", "password": PASSWORD})
    assert deliveries == [("baru@example.id", False), ("ada@example.id", False), ("api@example.id", False),
                          ("ada@example.id", False)]


def test_a_failing_smtp_server_after_the_response_is_only_logged(app, client, make_user, outbox, monkeypatch,
                                                                  caplog):
    make_user(email="ada@example.id")

    def refuse(message, config):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(mail, "_send_smtp", refuse)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.invalid")
    response = form(client, "/lupa-sandi", email="ada@example.id")
    assert response.status_code == 200
    assert "could not send mail to ada@example.id" in caplog.text


def test_queued_mail_is_dropped_when_the_transaction_rolls_back_or_the_request_fails(app, outbox):
    with app.test_request_context("/"):
        db.session.execute(text("SELECT 1"))
        mail.send_mail("a@example.id", "s", "b")
        db.session.rollback()
        assert mail._hand_over_after_response(app.response_class("ok"))._on_close == []
    with app.test_request_context("/"):
        mail.send_mail("a@example.id", "s", "b")
        assert mail._hand_over_after_response(app.response_class("boom", status=500))._on_close == []
    with app.test_request_context("/"):
        db.session.execute(text("SELECT 1"))
        mail.send_mail("a@example.id", "s", "b")
        db.session.commit()
        response = mail._hand_over_after_response(app.response_class("ok"))
        assert outbox.messages() == []
        response.close()
    assert [m["To"] for m in outbox.messages()] == ["a@example.id"]


def test_outside_a_request_mail_is_sent_at_once(app, outbox):
    with app.app_context():
        mail.send_mail("cli@example.id", "s", "b")
    assert [m["To"] for m in outbox.messages()] == ["cli@example.id"]


def test_registration_hashes_the_password_for_new_and_taken_addresses(client, make_user, monkeypatch):
    """L1: argon2 is most of the work; a taken address used to skip it (11 ms against 45 ms)."""
    make_user(email="ada@example.id")
    calls = []
    original = services.hash_password

    def counting(password):
        calls.append(password)
        return original(password)

    monkeypatch.setattr(services, "hash_password", counting)
    for email in ("baru@example.id", "ada@example.id"):
        calls.clear()
        assert form(client, "/daftar", name="Siti", email=email, password=PASSWORD).status_code == 200
        assert calls == [PASSWORD], email
    for email in ("api@example.id", "ada@example.id"):
        calls.clear()
        response = client.post("/api/v1/auth/register", json={"name": "B", "email": email, "password": PASSWORD})
        assert response.status_code == 201
        assert calls == [PASSWORD], email
