"""Accounts through the JSON API: register, tokens, /me, CSRF for cookie-authenticated writes."""
from sqlalchemy import select

from kim_platform.accounts.models import ApiToken, User
from kim_platform.extensions import db
from tests.conftest import PASSWORD, bearer, csrf_token, login


def test_register_answers_the_same_for_new_and_taken_emails(client, make_user, outbox):
    make_user(email="ada@example.id")
    new = client.post("/api/v1/auth/register", json={"name": "Budi", "email": "Budi@Example.id",
                                                     "password": "ombak pantai barat", "whatsapp": "0813 1111 2222"})
    taken = client.post("/api/v1/auth/register", json={"name": "Budi", "email": "ada@example.id",
                                                       "password": "ombak pantai barat", "whatsapp": "0813 1111 2222"})
    assert new.status_code == taken.status_code == 201
    assert new.get_json() == {"name": "Budi", "email": "budi@example.id", "whatsapp": "+6281311112222",
                              "status": "verification_sent"}
    assert taken.get_json() == {**new.get_json(), "email": "ada@example.id"}
    assert "password" not in new.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "budi@example.id")) is not None


def test_register_validation_is_422_with_fields_and_saves_nothing(client):
    response = client.post("/api/v1/auth/register", json={"email": "not-an-email", "password": "password"})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert {"name", "email"} <= set(fields)
    weak = client.post("/api/v1/auth/register", json={"name": "B", "email": "b@example.id", "password": "password"})
    assert weak.status_code == 422 and "password" in weak.get_json()["error"]["fields"]
    assert db.session.scalar(select(User).where(User.email == "b@example.id")) is None


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_token_login_and_same_401_for_unknown_and_wrong(client, make_user):
    user = make_user(email="ada@example.id")
    ok = client.post("/api/v1/auth/token", json={"email": "ada@example.id", "password": PASSWORD, "label": "hp"})
    assert ok.status_code == 201
    body = ok.get_json()
    assert set(body) == {"id", "label", "token", "expires_at"} and body["token"].startswith("kim_")
    stored = db.session.get(ApiToken, body["id"])
    assert stored.user_id == user.id and body["token"] not in stored.token_hash

    wrong = client.post("/api/v1/auth/token", json={"email": "ada@example.id", "password": "salah sekali"})
    unknown = client.post("/api/v1/auth/token", json={"email": "siapa@example.id", "password": "salah sekali"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()


def test_unverified_account_gets_no_token(client, make_user):
    make_user(email="baru@example.id", verified=False)
    response = client.post("/api/v1/auth/token", json={"email": "baru@example.id", "password": PASSWORD})
    assert response.status_code == 403


def test_me_lists_roles_and_never_the_password_hash(client, make_user):
    user = make_user(role="pembina", scope="76.02")
    response = client.get("/api/v1/me", headers=bearer(user))
    body = response.get_json()
    assert response.status_code == 200
    assert body["scope"] == "76.02" and body["memberships"] == []
    assert body["roles"][0]["role"] == "pembina" and body["roles"][0]["scope_name"] == "Kabupaten Mamuju"
    assert "password" not in response.get_data(as_text=True) and "argon2" not in response.get_data(as_text=True)


def test_tokens_list_and_revoke(client, make_user):
    user = make_user()
    headers = bearer(user)
    listed = client.get("/api/v1/auth/tokens", headers=headers).get_json()
    assert len(listed) == 1 and set(listed[0]) == {"id", "label", "prefix", "created_at", "last_used_at",
                                                      "expires_at"}
    assert client.delete(f"/api/v1/auth/tokens/{listed[0]['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_someone_elses_token_cannot_be_revoked(client, make_user):
    owner, other = make_user(), make_user()
    bearer(owner)
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == owner.id))
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=bearer(other)).status_code == 404
    assert db.session.get(ApiToken, token_id).revoked_at is None


def test_invalid_bearer_is_401_even_with_a_valid_cookie(client, make_user):
    user = make_user()
    login(client, user)
    assert client.get("/api/v1/me").status_code == 200
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer kim_nonsense"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


def test_cookie_authenticated_api_writes_need_the_csrf_header(client, make_user):
    director = make_user(role="direktorat")
    target = make_user()
    login(client, director)
    url = f"/api/v1/users/{target.id}/roles"
    refused = client.post(url, json={"role": "pembina", "scope": "76.02"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf_failed"
    assert target.grant("pembina") is None
    accepted = client.post(url, json={"role": "pembina", "scope": "76.02"},
                           headers={"X-CSRFToken": csrf_token(client)})
    assert accepted.status_code == 201


def test_token_authenticated_writes_need_no_csrf(client, make_user):
    director = make_user(role="direktorat")
    target = make_user()
    response = client.post(f"/api/v1/users/{target.id}/roles", json={"role": "pembina", "scope": "76"},
                           headers=bearer(director))
    assert response.status_code == 201
    assert response.get_json()["roles"][0]["scope"] == "76"
