"""Granting and revoking roles by region scope, the audit log, and `flask users create-admin`."""
import pytest
from sqlalchemy import select

from kim_platform import permissions
from kim_platform.accounts import services
from kim_platform.accounts.models import User
from kim_platform.accounts.services import AccountError
from kim_platform.audit.models import AuditEntry
from kim_platform.extensions import db
from tests.conftest import bearer, csrf_token, login


@pytest.fixture
def people(make_user):
    return {
        "direktorat": make_user(name="Direktur", role="direktorat"),
        "prov76": make_user(name="Pembina Sulbar", role="pembina", scope="76"),
        "kab7602": make_user(name="Pembina Mamuju", role="pembina", scope="76.02"),
        "prov73": make_user(name="Pembina Sulsel", role="pembina", scope="73"),
        "relawan": make_user(name="Relawan"),
    }


@pytest.mark.parametrize(
    "granter, role, scope, allowed",
    [
        ("direktorat", "pembina", "76", True),
        ("direktorat", "pembina", "73.71", True),
        ("direktorat", "direktorat", None, True),
        ("prov76", "pembina", "76.02", True),       # a kabupaten inside the province
        ("prov76", "pembina", "76", False),         # not the province itself
        ("prov76", "pembina", "73.71", False),      # another province's kabupaten
        ("prov76", "direktorat", None, False),      # nothing wider than one's own scope
        ("kab7602", "pembina", "76.02", False),     # pembina kabupaten grant nothing
        ("relawan", "pembina", "76.02", False),
    ],
)
def test_who_may_grant_what(people, make_user, granter, role, scope, allowed):
    target = make_user()
    assert permissions.can_grant(people[granter], role, scope) is allowed
    if allowed:
        grant = services.grant_role(people[granter], target, role, scope)
        assert (grant.role, grant.scope_code) == (role, scope)
    else:
        with pytest.raises(AccountError) as error:
            services.grant_role(people[granter], target, role, scope)
        assert error.value.status == 403
        assert target.grants == []


@pytest.mark.parametrize("scope", ["76.02.01", "76.02.01.1002", "7", "99", ""])
def test_pembina_scope_must_be_an_existing_province_or_kabupaten(people, make_user, scope):
    with pytest.raises(AccountError) as error:
        services.grant_role(people["direktorat"], make_user(), "pembina", scope)
    assert error.value.status == 422 and error.value.field == "scope"


def test_province_pembina_cannot_move_a_pembina_out_of_another_province(people):
    with pytest.raises(AccountError) as error:
        services.grant_role(people["prov76"], people["prov73"], "pembina", "76.02")
    assert error.value.status == 403
    assert people["prov73"].pembina_scope == "73"


def test_revoking_follows_the_same_scope_rules(people, make_user):
    kab = make_user(role="pembina", scope="76.04")
    with pytest.raises(AccountError):
        services.revoke_role(people["prov73"], kab, "pembina")
    services.revoke_role(people["prov76"], kab, "pembina")
    assert kab.pembina_scope is None
    with pytest.raises(AccountError) as error:
        services.revoke_role(people["prov76"], people["prov73"], "pembina")
    assert error.value.status == 403


def test_grants_and_revokes_are_audited_and_visible_by_scope(client, people, make_user):
    target = make_user()
    services.grant_role(people["prov76"], target, "pembina", "76.02")
    services.revoke_role(people["direktorat"], target, "pembina")
    db.session.flush()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.object_id == str(target.id))
                                 .order_by(AuditEntry.id)).all()
    assert [(e.action, e.actor_id, e.scope_code) for e in entries] == [
        ("role.grant", people["prov76"].id, "76.02"),
        ("role.revoke", people["direktorat"].id, "76.02"),
    ]
    assert entries[0].after == {"user_id": target.id, "role": "pembina", "scope": "76.02"}

    def visible(user):
        body = client.get("/api/v1/audit?per_page=200", headers=bearer(user)).get_json()
        return {item["id"] for item in body["items"]}

    ids = {e.id for e in entries}
    assert ids <= visible(people["direktorat"])
    assert ids <= visible(people["prov76"]) and ids <= visible(people["kab7602"])
    assert not ids & visible(people["prov73"])
    assert client.get("/api/v1/audit", headers=bearer(people["relawan"])).status_code == 403


def test_users_page_grants_within_scope(client, people, make_user, make_kim):
    target = make_user(name="Calon Pembina")
    make_kim(members=[(target, "ketua")])  # connected to the province: a KIM in Mamuju (76.02)
    login(client, people["prov76"])
    page = client.get("/pengguna?q=Calon").get_data(as_text=True)
    assert "Calon Pembina" in page
    response = client.post(f"/pengguna/{target.id}/peran", data={
        "role": "pembina", "scope": "76.02", "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert db.session.get(User, target.id).pembina_scope == "76.02"
    outside = client.post(f"/pengguna/{target.id}/peran", data={
        "role": "pembina", "scope": "73.71", "csrf_token": csrf_token(client)})
    assert outside.status_code == 403
    assert db.session.get(User, target.id).pembina_scope == "76.02"


def test_province_pembina_does_not_list_pembina_of_other_provinces(client, people, make_kim):
    make_kim(members=[(people["relawan"], "ketua")])
    body = client.get("/api/v1/users?per_page=200", headers=bearer(people["prov76"])).get_json()
    names = {item["name"] for item in body["items"]}
    assert "Pembina Mamuju" in names and "Relawan" in names
    assert "Pembina Sulsel" not in names and "Direktur" not in names


def test_create_admin_from_stdin(runner):
    result = runner.invoke(args=["users", "create-admin", "Admin@Komdigi.go.id"], input="angin laut mamuju\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "admin@komdigi.go.id"))
    assert user.is_direktorat and user.email_verified_at is not None
    again = runner.invoke(args=["users", "create-admin", "admin@komdigi.go.id"], input="whatever\n")
    assert again.exit_code == 0 and "existing" in again.output


def test_create_admin_refuses_a_weak_password(runner):
    result = runner.invoke(args=["users", "create-admin", "admin@komdigi.go.id"], input="password\n")
    assert result.exit_code == 1
    assert db.session.scalar(select(User).where(User.email == "admin@komdigi.go.id")) is None


def test_directorate_deactivates_an_account_and_its_logins_end(app, client, people, make_user):
    victim = make_user(name="Akun Lama")
    victim_browser = app.test_client()
    login(victim_browser, victim)
    login(client, people["direktorat"])
    response = client.post(f"/pengguna/{victim.id}/aktif", data={"active": "0", "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    db.session.refresh(victim)
    assert victim.is_active is False
    assert victim_browser.get("/akun").status_code == 302
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.deactivate"))
    assert entry.object_id == str(victim.id) and entry.actor_id == people["direktorat"].id
