"""Rights over a report follow membership of its KIM (issue 14, L7)."""
from kim_platform.activities.models import Activity
from kim_platform.core import clock
from kim_platform.extensions import db
from tests.conftest import bearer, csrf_token, login

REPORT = {"title": "Sosialisasi cek fakta", "type": "klarifikasi-hoaks", "description": "Warga belajar."}


def _report_then_leave(client, kim, member):
    body = client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "date": clock.today().isoformat()},
                       headers=bearer(member)).get_json()
    activity_id = body["id"]
    # The author may still edit while a member.
    assert client.patch(f"/api/v1/activities/{activity_id}", json={"title": "Masih anggota"},
                        headers=bearer(member)).status_code == 200
    assert client.delete(f"/api/v1/kims/{kim.id}/members/{member.id}", headers=bearer(member)).status_code == 204
    return activity_id


def test_an_author_who_left_can_no_longer_edit_or_delete_through_the_api(client, kim_with_member):
    kim, member, admin = kim_with_member
    activity_id = _report_then_leave(client, kim, member)
    url = f"/api/v1/activities/{activity_id}"
    assert client.patch(url, json={"title": "Sudah keluar"}, headers=bearer(member)).status_code == 403
    assert client.delete(url, headers=bearer(member)).status_code == 403
    assert db.session.get(Activity, activity_id).title == "Masih anggota"
    # A remaining admin still can.
    assert client.patch(url, json={"title": "Diubah admin"}, headers=bearer(admin)).status_code == 200
    assert client.delete(url, headers=bearer(admin)).status_code == 204


def test_an_author_who_left_can_no_longer_edit_or_delete_on_the_pages(app, client, kim_with_member):
    kim, member, admin = kim_with_member
    activity_id = _report_then_leave(client, kim, member)
    login(client, member)
    assert client.get(f"/kegiatan/{activity_id}/ubah").status_code == 403
    assert client.post(f"/kegiatan/{activity_id}/ubah", data={"title": "Sudah keluar",
                                                              "csrf_token": csrf_token(client)}).status_code == 403
    assert client.post(f"/kegiatan/{activity_id}/hapus", data={"csrf_token": csrf_token(client)}).status_code == 403
    assert db.session.get(Activity, activity_id) is not None
    page = client.get(f"/kegiatan/{activity_id}").get_data(as_text=True)
    assert f"/kegiatan/{activity_id}/ubah" not in page
    admin_client = app.test_client()
    login(admin_client, admin)
    assert admin_client.get(f"/kegiatan/{activity_id}/ubah").status_code == 200
    assert admin_client.post(f"/kegiatan/{activity_id}/hapus",
                             data={"csrf_token": csrf_token(admin_client)}).status_code == 302
    assert db.session.get(Activity, activity_id) is None


def test_an_author_who_left_no_longer_sees_their_hidden_report(app, client, make_user, kim_with_member):
    kim, member, admin = kim_with_member
    activity_id = _report_then_leave(client, kim, member)
    pembina = make_user(role="pembina", scope="76.02")
    assert client.post(f"/api/v1/activities/{activity_id}/hide", json={"reason": "Memuat data pribadi."},
                       headers=bearer(pembina)).status_code == 200
    assert client.get(f"/api/v1/activities/{activity_id}", headers=bearer(member)).status_code == 404
    login(client, member)
    assert client.get(f"/kegiatan/{activity_id}").status_code == 404
    assert client.get(f"/api/v1/activities/{activity_id}", headers=bearer(admin)).status_code == 200
