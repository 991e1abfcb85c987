"""API tokens end: on a password change or reset, on deactivation, and when they expire."""
import re
from datetime import datetime, timedelta

from flask_babel import format_datetime
from sqlalchemy import select

from kim_platform.accounts import services
from kim_platform.accounts.models import ApiToken
from kim_platform.config import Config
from kim_platform.core import clock
from kim_platform.extensions import db
from tests.conftest import PASSWORD, bearer, csrf_token, login

NEW_PASSWORD = "teh manis hangat sekali"


def form(client, path, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def me(client, headers) -> int:
    return client.get("/api/v1/me", headers=headers).status_code


def live_tokens(user) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                          ApiToken.revoked_at.is_(None))))


def test_changing_the_password_revokes_every_token(client, make_user):
    user = make_user()
    phone, script = bearer(user), bearer(user)
    assert me(client, phone) == me(client, script) == 200
    login(client, user)
    response = form(client, "/akun/sandi", current_password=PASSWORD, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert response.status_code == 302
    assert me(client, phone) == me(client, script) == 401
    assert live_tokens(user) == []
    assert "token API Anda dicabut" in client.get("/akun").get_data(as_text=True)


def test_resetting_the_password_revokes_every_token(client, make_user, outbox):
    user = make_user(email="lupa@example.id")
    stolen = bearer(user)
    assert me(client, stolen) == 200
    form(client, "/lupa-sandi", email="lupa@example.id")
    link = outbox.last_link("lupa@example.id", "/atur-ulang-sandi/")
    done = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                   "csrf_token": csrf_token(client, link)})
    assert done.status_code == 302
    assert me(client, stolen) == 401
    # A token asked for with the new password works.
    fresh = client.post("/api/v1/auth/token", json={"email": "lupa@example.id", "password": NEW_PASSWORD})
    assert me(client, {"Authorization": f"Bearer {fresh.get_json()['token']}"}) == 200


def test_deactivation_revokes_every_token_and_reactivation_does_not_revive_them(app, client, make_user):
    user = make_user()
    director = make_user(role="direktorat")
    headers = bearer(user)
    assert me(client, headers) == 200
    login(client, director)
    assert form(client, f"/pengguna/{user.id}/aktif", active="0").status_code == 302
    assert me(client, headers) == 401
    assert form(client, f"/pengguna/{user.id}/aktif", active="1").status_code == 302
    assert me(client, headers) == 401
    assert live_tokens(user) == []


def test_a_token_expires_after_the_configured_lifetime(app, client, make_user, monkeypatch):
    user = make_user()
    before = clock.utcnow()
    created = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
    after = clock.utcnow()
    body = created.get_json()
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(days=90) <= expires_at <= after + timedelta(days=90)
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert me(client, headers) == 200

    token = db.session.get(ApiToken, body["id"])
    token.expires_at = clock.utcnow() - timedelta(seconds=1)
    db.session.flush()
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    listed = client.get("/api/v1/auth/tokens", headers=bearer(user)).get_json()
    assert body["id"] not in [t["id"] for t in listed] and len(listed) == 1

    monkeypatch.setitem(app.config, "API_TOKEN_LIFETIME", timedelta(days=7))
    token, _ = services.create_api_token(user, "pendek")
    assert timedelta(days=7) - timedelta(minutes=1) < token.expires_at - clock.utcnow() <= timedelta(days=7)


def test_the_lifetime_comes_from_the_environment(monkeypatch):
    assert Config().API_TOKEN_LIFETIME == timedelta(days=90)
    monkeypatch.setenv("KIM_API_TOKEN_DAYS", "30")
    assert Config().API_TOKEN_LIFETIME == timedelta(days=30)


def test_akun_and_the_api_show_last_use_and_expiry(app, client, make_user):
    user = make_user()
    token, _ = services.create_api_token(user, "HP lapangan")
    used = clock.utcnow().replace(microsecond=0) - timedelta(days=3, hours=5)
    token.last_used_at = used
    token.expires_at = used + timedelta(days=40)
    db.session.flush()

    login(client, user)
    page = client.get("/akun").get_data(as_text=True)
    with app.test_request_context():
        shown_used, shown_expiry = format_datetime(used, "short"), format_datetime(token.expires_at, "short")
    row = re.search(r"<tr><td>HP lapangan</td>.*?</tr>", page, re.S).group(0)
    assert shown_used in row and shown_expiry in row and shown_used != shown_expiry
    assert "Berlaku sampai" in page and "90 hari" in page

    listed = client.get("/api/v1/auth/tokens", headers=bearer(user)).get_json()  # not `secret`: using it is a use
    item = next(t for t in listed if t["id"] == token.id)
    assert datetime.fromisoformat(item["last_used_at"]) == used
    assert datetime.fromisoformat(item["expires_at"]) == used + timedelta(days=40)


def test_the_token_page_says_until_when_it_works(client, make_user):
    user = make_user()
    login(client, user)
    created = form(client, "/akun/token", label="HP saya").get_data(as_text=True)
    assert "Token ini berlaku sampai" in created


def test_a_use_is_recorded_at_most_once_a_minute(client, make_user, frozen_clock):
    user = make_user()
    token, secret = services.create_api_token(user, "HP lapangan")
    start = clock.utcnow().replace(microsecond=0)
    frozen_clock(start)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(type(token), token.id).last_used_at == start
    frozen_clock(start + timedelta(seconds=30))
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    db.session.expire_all()
    assert db.session.get(type(token), token.id).last_used_at == start  # not within the minute
    frozen_clock(start + timedelta(minutes=2))
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    db.session.expire_all()
    assert db.session.get(type(token), token.id).last_used_at == start + timedelta(minutes=2)
