"""Invitations by email: the same answer for every address, and membership only by consent (issue 14, M3)."""
import re
from datetime import timedelta

from sqlalchemy import func, select

from kim_platform import permissions
from kim_platform.audit.models import AuditEntry
from kim_platform.core.clock import utcnow
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, KimInvitation, Membership
from tests.conftest import DESA, DESA_POINT, bearer, csrf_token, login

NEW_KIM = {"desa_code": DESA, "lat": DESA_POINT[0], "lon": DESA_POINT[1], "bidang": ["literasi"]}


def members_of(kim) -> dict:
    rows = db.session.execute(select(Membership.user_id, Membership.role).where(Membership.kim_id == kim.id))
    return {row.user_id: row.role for row in rows}


def invite(client, inviter, kim, email, role="anggota"):
    return client.post(f"/api/v1/kims/{kim.id}/members", json={"email": email, "role": role},
                       headers=bearer(inviter))


def test_the_api_answers_the_same_for_known_and_unknown_addresses_and_adds_nobody(client, make_user, make_kim,
                                                                                 outbox):
    ketua = make_user()
    known = make_user(name="Budi Terdaftar", email="budi@example.id")
    kim = make_kim(members=[(ketua, "ketua")])
    answers = [invite(client, ketua, kim, email, "ketua") for email in ("budi@example.id", "asing@example.id")]
    assert [a.status_code for a in answers] == [202, 202]
    bodies = [a.get_json() for a in answers]
    assert bodies[0] == {"status": "invited", "email": "budi@example.id", "role": "ketua"}
    assert bodies[1] == {"status": "invited", "email": "asing@example.id", "role": "ketua"}
    assert "Budi Terdaftar" not in answers[0].get_data(as_text=True)
    assert members_of(kim) == {ketua.id: "ketua"}
    # Both addresses get the same mail with a link to answer.
    assert outbox.last_link("budi@example.id", "/undangan/") and outbox.last_link("asing@example.id", "/undangan/")
    subjects = {m["Subject"] for m in outbox.messages()}
    assert len(subjects) == 1
    assert known.id not in members_of(kim)


def test_the_members_page_answers_the_same_too(client, make_user, make_kim):
    ketua = make_user()
    make_user(name="Budi Terdaftar", email="budi@example.id")
    kim = make_kim(members=[(ketua, "ketua")])
    login(client, ketua)
    answers = []
    for email in ("budi@example.id", "asing@example.id"):
        response = client.post(f"/kim/{kim.number}/anggota", data={"email": email, "role": "ketua",
                                                                   "csrf_token": csrf_token(client)})
        assert response.status_code == 302
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Budi Terdaftar" not in page
        answers.append((response.headers["Location"], re.findall(r'<div class="alert[^>]*>([^<]*)</div>', page)))
    assert answers[0][1] == ["Undangan telah dikirim ke budi@example.id. Ia menjadi anggota setelah menerimanya."]
    assert answers[0][0] == answers[1][0]
    assert [m.replace("budi@", "asing@") for m in answers[0][1]] == answers[1][1]
    assert members_of(kim) == {ketua.id: "ketua"}


def test_accepting_in_my_account_makes_the_member_with_the_offered_role(client, make_user, make_kim):
    ketua, invitee = make_user(name="Ketua Pengundang"), make_user(email="budi@example.id")
    kim = make_kim(name="KIM Binanga Cerdas", members=[(ketua, "ketua")])
    assert invite(client, ketua, kim, "Budi@Example.id", "admin").status_code == 202
    login(client, invitee)  # logging in alone accepts nothing
    assert invitee.id not in members_of(kim)
    html = client.get("/akun").get_data(as_text=True)
    invitation = db.session.scalar(select(KimInvitation).where(KimInvitation.kim_id == kim.id))
    assert "KIM Binanga Cerdas" in html and "Ketua Pengundang" in html and "admin" in html
    accept_url, decline_url = f"/undangan/{invitation.id}/terima", f"/undangan/{invitation.id}/tolak"
    assert f'action="{accept_url}"' in html and f'action="{decline_url}"' in html
    assert client.post(accept_url, data={}).status_code == 400  # the CSRF token is required
    response = client.post(accept_url, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"] == f"/kim/{kim.number}"
    assert members_of(kim)[invitee.id] == "admin"
    actions = set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == invitee.id)))
    assert {"kim.member_add", "kim.invitation_accept"} <= actions
    db.session.refresh(invitation)
    assert invitation.status == "accepted" and invitation.answered_at is not None
    assert f"/undangan/{invitation.id}/terima" not in client.get("/akun").get_data(as_text=True)
    # Answered once: a second answer is refused.
    again = client.post(decline_url, data={"csrf_token": csrf_token(client)}, follow_redirects=True)
    assert "sudah menjawab" in again.get_data(as_text=True)
    assert members_of(kim)[invitee.id] == "admin"


def test_declining_makes_nobody_a_member(client, make_user, make_kim):
    ketua, invitee = make_user(), make_user(email="budi@example.id")
    kim = make_kim(members=[(ketua, "ketua")])
    invite(client, ketua, kim, "budi@example.id")
    invitation = db.session.scalar(select(KimInvitation).where(KimInvitation.kim_id == kim.id))
    login(client, invitee)
    assert client.post(f"/undangan/{invitation.id}/tolak", data={"csrf_token": csrf_token(client)}).status_code == 302
    db.session.refresh(invitation)
    assert invitation.status == "declined"
    assert members_of(kim) == {ketua.id: "ketua"}
    assert "kim.invitation_decline" in set(db.session.scalars(select(AuditEntry.action)))


def test_the_mailed_link_works_for_its_owner_only(app, client, make_user, make_kim, outbox):
    ketua, invitee, other = make_user(), make_user(email="budi@example.id"), make_user()
    kim = make_kim(name="KIM Binanga Cerdas", members=[(ketua, "ketua")])
    invite(client, ketua, kim, "budi@example.id")
    link = outbox.last_link("budi@example.id", "/undangan/")
    anonymous = client.get(link)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/masuk")
    stranger = app.test_client()
    login(stranger, other)
    assert stranger.get(link).status_code == 404
    invitation = db.session.scalar(select(KimInvitation).where(KimInvitation.kim_id == kim.id))
    assert stranger.post(f"/undangan/{invitation.id}/terima",
                         data={"csrf_token": csrf_token(stranger)}).status_code == 404
    assert client.get(link[:-3] + "xyz").status_code in (302, 404)
    login(client, invitee)
    page = client.get(link)
    assert page.status_code == 200 and "KIM Binanga Cerdas" in page.get_data(as_text=True)
    assert client.get(link[:-3] + "xyz").status_code == 404  # a forged token
    assert client.post(f"/undangan/{invitation.id}/terima", data={"csrf_token": csrf_token(client)}).status_code == 302
    assert invitee.id in members_of(kim) and other.id not in members_of(kim)


def test_an_account_registered_later_sees_the_invitation(client, make_user, make_kim, outbox):
    ketua = make_user()
    kim = make_kim(name="KIM Binanga Cerdas", members=[(ketua, "ketua")])
    invite(client, ketua, kim, "baru@example.id", "ketua")
    link = outbox.last_link("baru@example.id", "/undangan/")
    client.post("/daftar", data={"name": "Warga Baru", "email": "baru@example.id", "password": "sungai mandar biru",
                                 "csrf_token": csrf_token(client)})
    assert client.get(outbox.last_link("baru@example.id", "/verifikasi/")).status_code == 302
    client.post("/masuk", data={"email": "baru@example.id", "password": "sungai mandar biru",
                                "csrf_token": csrf_token(client)})
    newcomer = db.session.scalar(select(Membership.user_id).where(Membership.kim_id == kim.id,
                                                                  Membership.user_id != ketua.id))
    assert newcomer is None  # neither confirming nor logging in makes a member
    assert "KIM Binanga Cerdas" in client.get("/akun").get_data(as_text=True)
    assert client.get(link).status_code == 200


def test_the_api_lists_accepts_and_declines_for_the_owner_only(client, make_user, make_kim):
    ketua, invitee, other = make_user(), make_user(email="budi@example.id"), make_user()
    kim = make_kim(members=[(ketua, "ketua")])
    second = make_kim(members=[(ketua, "ketua")])
    invite(client, ketua, kim, "budi@example.id", "admin")
    invite(client, ketua, second, "budi@example.id")
    assert client.get("/api/v1/me/invitations", headers=bearer(other)).get_json() == []
    listed = client.get("/api/v1/me/invitations", headers=bearer(invitee)).get_json()
    assert {(i["kim_id"], i["role"], i["status"]) for i in listed} == {(kim.id, "admin", "pending"),
                                                                       (second.id, "anggota", "pending")}
    first_id = next(i["id"] for i in listed if i["kim_id"] == kim.id)
    second_id = next(i["id"] for i in listed if i["kim_id"] == second.id)
    for action in ("accept", "decline"):
        refused = client.post(f"/api/v1/invitations/{first_id}/{action}", headers=bearer(other))
        assert refused.status_code == 404 and refused.get_json()["error"]["code"]
    assert client.post("/api/v1/invitations/999999999/accept", headers=bearer(invitee)).status_code == 404
    accepted = client.post(f"/api/v1/invitations/{first_id}/accept", headers=bearer(invitee))
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    assert members_of(kim)[invitee.id] == "admin"
    assert client.post(f"/api/v1/invitations/{first_id}/decline", headers=bearer(invitee)).status_code == 409
    declined = client.post(f"/api/v1/invitations/{second_id}/decline", headers=bearer(invitee))
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    assert invitee.id not in members_of(second)
    assert client.get("/api/v1/me/invitations", headers=bearer(invitee)).get_json() == []


def test_invitations_expire_and_inviting_again_refreshes_them(client, make_user, make_kim):
    ketua, invitee = make_user(), make_user(email="budi@example.id")
    kim = make_kim(members=[(ketua, "ketua")])
    invite(client, ketua, kim, "budi@example.id")
    invitation = db.session.scalar(select(KimInvitation).where(KimInvitation.kim_id == kim.id))
    assert timedelta(days=13) < invitation.expires_at - utcnow() <= timedelta(days=14)
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.flush()
    assert client.get("/api/v1/me/invitations", headers=bearer(invitee)).get_json() == []
    expired = client.post(f"/api/v1/invitations/{invitation.id}/accept", headers=bearer(invitee))
    assert expired.status_code == 409 and invitee.id not in members_of(kim)
    invite(client, ketua, kim, "budi@example.id", "admin")
    assert db.session.scalar(select(func.count()).select_from(KimInvitation)) == 1
    assert client.get("/api/v1/me/invitations", headers=bearer(invitee)).get_json()[0]["role"] == "admin"
    assert client.post(f"/api/v1/invitations/{invitation.id}/accept", headers=bearer(invitee)).status_code == 200


def test_an_unconfirmed_account_cannot_answer(make_user, make_kim):
    ketua = make_user()
    kim = make_kim(members=[(ketua, "ketua")])
    from kim_platform.kims.services import invite_member

    invitation = invite_member(ketua, kim, "belum@example.id")
    assert not permissions.can_answer_invitation(make_user(email="belum@example.id", verified=False), invitation)


def test_accepted_ketua_invitations_do_not_count_toward_the_daily_kim_cap(app, client, make_user, make_kim,
                                                                           monkeypatch):
    monkeypatch.setitem(app.config, "MAX_KIMS_PER_DAY", 2)
    invitee = make_user(email="budi@example.id")
    for _ in range(3):
        ketua = make_user()
        kim = make_kim(members=[(ketua, "ketua")])
        invite(client, ketua, kim, "budi@example.id", "ketua")
    for item in client.get("/api/v1/me/invitations", headers=bearer(invitee)).get_json():
        assert client.post(f"/api/v1/invitations/{item['id']}/accept", headers=bearer(invitee)).status_code == 200
    assert db.session.scalar(select(func.count()).where(Membership.user_id == invitee.id,
                                                        Membership.role == "ketua")) == 3
    answers = [client.post("/api/v1/kims", json={**NEW_KIM, "name": f"KIM Budi {n}", "confirm_not_duplicate": True},
                           headers=bearer(invitee)).status_code for n in range(3)]
    assert answers == [201, 201, 429]
    assert db.session.scalar(select(func.count()).select_from(Kim).where(Kim.name.like("KIM Budi %"))) == 2
