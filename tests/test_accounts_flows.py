"""Accounts in the browser: register, verify, log in/out, reset and change the password."""
import re

import pytest
from sqlalchemy import func, select

from kim_platform.accounts import passwords, services
from kim_platform.accounts.models import LoginSession, User
from kim_platform.extensions import db
from tests.conftest import PASSWORD, csrf_token, login


def form(client, path, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def without_csrf(html: str) -> str:
    return re.sub(r'value="[^"]*"', "", html)


def test_register_verify_and_log_in(client, outbox):
    response = form(client, "/daftar", name="Siti Rahma", email="Siti@Example.ID ", password="sungai mandar biru",
                    whatsapp="0812-3456-7890")
    assert response.status_code == 200
    user = db.session.scalar(select(User).where(User.email == "siti@example.id"))
    assert user is not None and user.email_verified_at is None and user.whatsapp == "+6281234567890"
    assert user.password_hash.startswith("$argon2id$") and "sungai" not in user.password_hash

    # Not verified yet: logging in is refused with a reason (the password was right).
    refused = form(client, "/masuk", email="siti@example.id", password="sungai mandar biru")
    assert refused.status_code == 422

    link = outbox.last_link("siti@example.id", "/verifikasi/")
    assert client.get(link).status_code == 302
    db.session.refresh(user)
    assert user.email_verified_at is not None

    response = form(client, "/masuk", email="SITI@example.id", password="sungai mandar biru")
    assert response.status_code == 302 and response.headers["Location"] == "/akun"
    page = client.get("/akun").get_data(as_text=True)
    assert "Siti Rahma" in page and "siti@example.id" in page


def test_registering_a_taken_email_looks_the_same_and_mails_the_owner(client, make_user, outbox):
    owner = make_user(email="ada@example.id")
    first = form(client, "/daftar", name="X", email="ada@example.id", password="sungai mandar biru")
    second = form(client, "/daftar", name="X", email="baru@example.id", password="sungai mandar biru")
    assert first.status_code == second.status_code == 200
    assert without_csrf(first.get_data(as_text=True)).replace("ada@", "@") == \
        without_csrf(second.get_data(as_text=True)).replace("baru@", "@")
    assert db.session.get(User, owner.id).name == owner.name  # untouched
    assert outbox.last_link("ada@example.id", "/lupa-sandi")  # a note, not an activation link
    assert outbox.last_link("baru@example.id", "/verifikasi/")


@pytest.mark.parametrize(
    "password, fragment",
    [("pendek", "8"), ("password", "umum"), ("12345678", "umum"), ("Bismillah", "umum"),
     ("x" * 129, "128"), ("siti@example.id", "email")],
)
def test_weak_passwords_are_refused_and_nothing_is_saved(client, password, fragment):
    before = user_count()
    response = form(client, "/daftar", name="Siti", email="siti@example.id", password=password)
    assert response.status_code == 422
    assert fragment in response.get_data(as_text=True)
    assert user_count() == before


def test_form_errors_keep_what_was_typed(client):
    response = form(client, "/daftar", name="Siti Rahma", email="bukan-email", password="sungai mandar biru")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Siti Rahma"' in html and 'value="bukan-email"' in html
    assert 'aria-invalid="true"' in html


def test_wrong_password_and_unknown_email_get_the_same_answer(client, make_user, monkeypatch):
    user = make_user(email="ada@example.id")
    calls = []

    class CountingHasher:
        def __init__(self, real):
            self.real = real

        def verify(self, hash_, password):
            calls.append(hash_)
            return self.real.verify(hash_, password)

        def __getattr__(self, name):
            return getattr(self.real, name)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher(passwords._hasher))
    wrong = form(client, "/masuk", email=user.email, password="salah sekali ya")
    unknown = form(client, "/masuk", email="tidakada@example.id", password="salah sekali ya")
    assert wrong.status_code == unknown.status_code == 422
    assert without_csrf(wrong.get_data(as_text=True)).replace(user.email, "") == \
        without_csrf(unknown.get_data(as_text=True)).replace("tidakada@example.id", "")
    assert len(calls) == 2  # one argon2 verification each: the same work, the same time


def test_login_rotates_the_session_and_honours_only_local_next(client, make_user):
    user = make_user()
    client.get("/masuk")
    before = client.get_cookie("session").value
    response = client.post("/masuk?next=https://evil.example/", data={
        "email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client, "/masuk")})
    assert response.headers["Location"] == "/akun"
    assert client.get_cookie("session").value != before
    client.post("/keluar", data={"csrf_token": csrf_token(client, "/akun")})
    response = client.post("/masuk?next=/wilayah/76", data={
        "email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client, "/masuk")})
    assert response.headers["Location"] == "/wilayah/76"


def test_protected_page_sends_anonymous_visitors_to_login_and_back(client, make_user):
    response = client.get("/akun")
    assert response.status_code == 302 and response.headers["Location"].startswith("/masuk?next=/akun")


def test_logout_invalidates_a_copied_cookie(app, client, make_user):
    user = make_user()
    login(client, user)
    stolen = client.get_cookie("session").value
    client.post("/keluar", data={"csrf_token": csrf_token(client, "/akun")})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/akun").status_code == 302
    assert db.session.scalar(select(func.count()).where(LoginSession.user_id == user.id)) == 0


def test_password_change_logs_out_other_devices_but_not_this_one(app, client, make_user):
    user = make_user()
    other_device = app.test_client()
    login(other_device, user)
    login(client, user)
    response = form(client, "/akun/sandi", current_password=PASSWORD, password="teh manis hangat sekali",
                    confirm="teh manis hangat sekali")
    assert response.status_code == 302
    assert client.get("/akun").status_code == 200
    assert other_device.get("/akun").status_code == 302


def test_password_change_needs_the_current_password(client, make_user):
    user = make_user()
    login(client, user)
    response = form(client, "/akun/sandi", current_password="bukan ini", password="teh manis hangat sekali",
                    confirm="teh manis hangat sekali")
    assert response.status_code == 422
    db.session.refresh(user)
    assert passwords.verify_password(user.password_hash, PASSWORD)


def test_deactivation_ends_existing_logins(app, client, make_user):
    user = make_user()
    admin = make_user(role="direktorat")
    login(client, user)
    services.set_active(admin, user, False)
    db.session.flush()
    assert client.get("/akun").status_code == 302
    refused = form(client, "/masuk", email=user.email, password=PASSWORD)
    assert refused.status_code == 422


def test_password_reset_link_is_single_use(client, make_user, outbox):
    user = make_user(email="lupa@example.id")
    response = form(client, "/lupa-sandi", email="lupa@example.id")
    assert response.status_code == 200
    link = outbox.last_link("lupa@example.id", "/atur-ulang-sandi/")
    assert client.get(link).status_code == 200
    done = client.post(link, data={"password": "hujan di sore hari", "confirm": "hujan di sore hari",
                                   "csrf_token": csrf_token(client, link)})
    assert done.status_code == 302
    db.session.refresh(user)
    assert passwords.verify_password(user.password_hash, "hujan di sore hari")
    assert client.get(link).status_code == 400  # used: the fingerprint changed
    login(client, user, "hujan di sore hari")


def test_password_reset_link_expires(app, client, make_user, outbox, monkeypatch):
    user = make_user(email="lupa@example.id")
    form(client, "/lupa-sandi", email="lupa@example.id")
    link = outbox.last_link("lupa@example.id", "/atur-ulang-sandi/")
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", -1)
    assert client.get(link).status_code == 400
    assert services.user_for_reset_token(link.rsplit("/", 1)[1]) is None
    db.session.refresh(user)
    assert passwords.verify_password(user.password_hash, PASSWORD)


def test_reset_request_does_not_reveal_accounts(client, make_user, outbox):
    make_user(email="ada@example.id")
    known = form(client, "/lupa-sandi", email="ada@example.id")
    unknown = form(client, "/lupa-sandi", email="tiada@example.id")
    assert without_csrf(known.get_data(as_text=True)).replace("ada@", "@") == \
        without_csrf(unknown.get_data(as_text=True)).replace("tiada@", "@")
    assert [m["To"] for m in outbox.messages()] == ["ada@example.id"]


def test_forms_without_csrf_token_are_rejected(client, make_user):
    user = make_user()
    response = client.post("/masuk", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    login(client, user)
    assert client.post("/keluar").status_code == 400
    assert client.get("/akun").status_code == 200  # still logged in


def test_profile_edit_normalises_whatsapp_and_rejects_nonsense(client, make_user):
    user = make_user()
    login(client, user)
    assert form(client, "/akun/ubah", name="Nama Baru", whatsapp="+62 812 1111 2222").status_code == 302
    db.session.refresh(user)
    assert (user.name, user.whatsapp) == ("Nama Baru", "+6281211112222")
    assert form(client, "/akun/ubah", name="Nama Baru", whatsapp="12").status_code == 422


def test_api_token_shown_once_listed_and_revoked(client, make_user):
    user = make_user()
    login(client, user)
    created = form(client, "/akun/token", label="HP saya")
    secret = re.search(r'<code class="secret">([^<]+)</code>', created.get_data(as_text=True)).group(1)
    assert created.headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    profile = client.get("/akun").get_data(as_text=True)
    assert "HP saya" in profile and secret not in profile
    token_id = re.search(r'/akun/token/(\d+)/cabut', profile).group(1)
    assert form(client, f"/akun/token/{token_id}/cabut").status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_logins_failures_and_403s_are_logged(client, make_user, caplog):
    user = make_user()
    caplog.set_level("INFO", logger="kim_platform.security")
    form(client, "/masuk", email=user.email, password="salah sekali")
    login(client, user)
    client.get("/pengguna")
    messages = [r.getMessage() for r in caplog.records if r.name == "kim_platform.security"]
    assert any("login failed" in m for m in messages)
    assert any(f"login succeeded for user {user.id}" in m for m in messages)
    assert any("403" in m and "/pengguna" in m for m in messages)
