"""The KIM registry through the API: validation, location rules, status machine, numbers, GeoJSON."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kim_platform.audit.models import AuditEntry
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, KimInvitation, Membership
from tests.conftest import DESA, DESA_POINT, bearer

VALID = {
    "name": "KIM Binanga Maju", "bidang": ["literasi", "umkm"], "desa_code": DESA,
    "lat": DESA_POINT[0], "lon": DESA_POINT[1], "description": "Kelompok informasi masyarakat.",
    "whatsapp": "0812 3456 7890", "socials": {"instagram": "instagram.com/kimbinanga"},
    "sk_number": "140/12/2024", "founded_on": (clock.today() - timedelta(days=1000)).isoformat(),
}


def kim_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Kim))


@pytest.fixture
def volunteer(make_user):
    return make_user(name="Relawan Binanga")


@pytest.fixture
def pembina(make_user):
    return make_user(name="Pembina Mamuju", role="pembina", scope="76.02")


def create(client, user, **overrides):
    return client.post("/api/v1/kims", json={**VALID, **overrides}, headers=bearer(user))


def test_create_a_draft_with_the_registrant_as_ketua(client, volunteer):
    response = create(client, volunteer, status="verified", number="KIM-76.02-9999", id=12345)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "draft" and body["number"] is None and body["id"] != 12345  # mass assignment ignored
    assert body["bidang"] == ["literasi", "umkm"] and body["desa_code"] == DESA
    assert (body["lat"], body["lon"]) == pytest.approx(DESA_POINT)
    assert [r["code"] for r in body["region_path"]] == [DESA, "76.02.01", "76.02", "76"]
    assert body["whatsapp"] == "+6281234567890"
    assert body["socials"] == {"instagram": "https://instagram.com/kimbinanga"}
    assert body["possible_duplicates"] == []
    membership = db.session.scalar(select(Membership).where(Membership.kim_id == body["id"]))
    assert (membership.user_id, membership.role) == (volunteer.id, "ketua")
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "kim.create",
                                                      AuditEntry.object_id == str(body["id"]))) is not None


@pytest.mark.parametrize(
    "overrides, field, fragment",
    [
        ({"desa_code": "76.02.01.9999"}, "desa_code", ""),
        ({"desa_code": "76.02.01"}, "desa_code", ""),
        ({"lat": -5.1354, "lon": 119.4238}, "lat", "Mamuju"),           # Makassar: another kabupaten
        ({"lat": 35.68, "lon": 139.69}, "lat", "Indonesia"),            # Tokyo
        ({"lat": DESA_POINT[1], "lon": DESA_POINT[0]}, "lat", "tertukar"),  # swapped
        ({"lat": "NaN"}, "lat", ""),
        ({"lat": "Infinity"}, "lat", ""),
        ({"lat": "abc"}, "lat", ""),
        ({"lat": True}, "lat", ""),
        ({"bidang": ["tidak-ada"]}, "bidang", "tidak-ada"),
        ({"bidang": []}, "bidang", ""),
        ({"name": "  "}, "name", ""),
        ({"name": "x" * 151}, "name", "150"),
        ({"socials": {"instagram": "https://evil.example/kim"}}, "socials.instagram", ""),
        ({"socials": {"facebook": "javascript:alert(1)"}}, "socials.facebook", ""),
        ({"socials": {"myspace": "https://myspace.com/x"}}, "socials.myspace", ""),
        ({"founded_on": "2999-01-01"}, "founded_on", ""),
        ({"founded_on": "kemarin"}, "founded_on", ""),
        ({"whatsapp": "12"}, "whatsapp", ""),
        ({"email": "bukan email"}, "email", ""),
    ],
)
def test_bad_input_is_422_naming_the_field_and_saves_nothing(client, volunteer, overrides, field, fragment):
    before = kim_count()
    response = create(client, volunteer, **overrides)
    assert response.status_code == 422, response.get_json()
    fields = response.get_json()["error"]["fields"]
    assert field in fields and fragment in fields[field]
    assert kim_count() == before


def test_missing_required_fields_are_all_named(client, volunteer):
    response = client.post("/api/v1/kims", json={}, headers=bearer(volunteer))
    assert response.status_code == 422
    assert {"name", "bidang", "desa_code", "lat", "lon"} <= set(response.get_json()["error"]["fields"])


def test_anonymous_cannot_create(client):
    assert client.post("/api/v1/kims", json=VALID).status_code == 401


def test_status_machine_and_numbers(client, volunteer, pembina):
    first = create(client, volunteer).get_json()
    kim_id = first["id"]
    url = f"/api/v1/kims/{kim_id}"
    assert client.post(f"{url}/verify", headers=bearer(pembina)).status_code == 409  # still a draft
    assert client.post(f"{url}/submit", headers=bearer(volunteer)).get_json()["status"] == "submitted"
    assert client.post(f"{url}/reject", json={"reason": ""}, headers=bearer(pembina)).status_code == 422
    rejected = client.post(f"{url}/reject", json={"reason": "Lengkapi nomor SK."}, headers=bearer(pembina))
    assert rejected.get_json()["status"] == "rejected"
    assert client.post(f"{url}/submit", headers=bearer(volunteer)).status_code == 200
    verified = client.post(f"{url}/verify", headers=bearer(pembina)).get_json()
    assert verified["status"] == "verified" and verified["number"] == "KIM-76.02-0001"
    assert client.post(f"{url}/verify", headers=bearer(pembina)).status_code == 409
    assert client.post(f"{url}/deactivate", headers=bearer(volunteer)).get_json()["status"] == "inactive"
    # Inactive KIMs keep their number; the next KIM in the kabupaten gets a new one.
    second = create(client, volunteer, name="KIM Rimuku Sejahtera", desa_code="76.02.01.1013",
                    lat=-2.691547, lon=118.896353).get_json()
    client.post(f"/api/v1/kims/{second['id']}/submit", headers=bearer(volunteer))
    assert client.post(f"/api/v1/kims/{second['id']}/verify", headers=bearer(pembina)).get_json()["number"] \
        == "KIM-76.02-0002"
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(kim_id))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["kim.create", "kim.submit", "kim.reject", "kim.submit", "kim.verify", "kim.deactivate"]


def test_pembina_of_another_kabupaten_cannot_verify(client, make_user, make_kim):
    kim = make_kim(status="submitted")
    outsider = make_user(role="pembina", scope="73.71")
    response = client.post(f"/api/v1/kims/{kim.id}/verify", headers=bearer(outsider))
    assert response.status_code == 404  # a submitted KIM outside one's scope is not even visible
    province = make_user(role="pembina", scope="76")
    assert client.post(f"/api/v1/kims/{kim.id}/verify", headers=bearer(province)).status_code == 200


def test_only_managers_and_the_regions_pembina_edit(client, make_user, make_kim):
    admin, anggota, stranger = make_user(), make_user(), make_user()
    kim = make_kim(members=[(admin, "admin"), (anggota, "anggota")])
    old_name = kim.name
    url = f"/api/v1/kims/{kim.id}"
    assert client.patch(url, json={"name": "KIM Baru"}, headers=bearer(stranger)).status_code == 403
    assert client.patch(url, json={"name": "KIM Baru"}, headers=bearer(anggota)).status_code == 403
    response = client.patch(url, json={"name": "KIM Baru", "status": "draft"}, headers=bearer(admin))
    assert response.status_code == 200
    assert response.get_json()["name"] == "KIM Baru" and response.get_json()["status"] == "verified"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "kim.update"))
    assert (entry.before, entry.after) == ({"name": old_name}, {"name": "KIM Baru"})


def test_moving_the_pin_out_of_the_kabupaten_is_refused(client, make_user, make_kim):
    admin = make_user()
    kim = make_kim(members=[(admin, "ketua")])
    response = client.patch(f"/api/v1/kims/{kim.id}", json={"lat": -5.1354, "lon": 119.4238}, headers=bearer(admin))
    assert response.status_code == 422 and "Mamuju" in response.get_json()["error"]["fields"]["lat"]


def test_duplicate_names_in_the_same_desa_are_reported(client, volunteer, make_kim):
    """Like the page, the API refuses a look-alike until the registrant confirms (issue 15)."""
    make_kim(name="KIM Binanga Maju Bersama")
    refused = create(client, volunteer)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert [d["name"] for d in error["possible_duplicates"]] == ["KIM Binanga Maju Bersama"]
    assert set(error["fields"]) == {"confirm_not_duplicate"}
    body = create(client, volunteer, confirm_not_duplicate=True).get_json()
    assert [d["name"] for d in body["possible_duplicates"]] == ["KIM Binanga Maju Bersama"]


def test_public_list_shows_verified_only_and_pembina_see_their_queue(client, make_user, make_kim):
    verified = make_kim(name="KIM Terverifikasi")
    waiting = make_kim(name="KIM Menunggu", status="submitted")
    public = client.get("/api/v1/kims?per_page=200").get_json()
    assert {i["id"] for i in public["items"]} == {verified.id}
    pembina = make_user(role="pembina", scope="76.02")
    mine = client.get("/api/v1/kims?status=submitted", headers=bearer(pembina)).get_json()
    assert {i["id"] for i in mine["items"]} == {waiting.id}
    outsider = make_user(role="pembina", scope="73.71")
    assert client.get("/api/v1/kims?status=submitted", headers=bearer(outsider)).get_json()["items"] == []


def test_filters_region_bidang_bbox_and_pagination(client, make_kim):
    a = make_kim(name="KIM A", bidang=["media"])                       # literasi › media, in 76.02
    b = make_kim(name="KIM B", bidang=["kesehatan"], desa_code="76.04.01.1001", point=(-3.50506, 119.02194))
    ids = lambda url: [i["id"] for i in client.get(url).get_json()["items"]]  # noqa: E731
    assert ids("/api/v1/kims?region=76.02") == [a.id]
    assert ids("/api/v1/kims?region=76") == [a.id, b.id]
    assert ids("/api/v1/kims?bidang=literasi") == [a.id]      # a top-level field matches its sub-fields
    assert ids("/api/v1/kims?bidang=kesehatan") == [b.id]
    assert ids("/api/v1/kims?bbox=118.9,-2.8,119.0,-2.7") == [a.id]
    page = client.get("/api/v1/kims?per_page=1&page=2").get_json()
    assert page["total"] == 2 and [i["id"] for i in page["items"]] == [b.id]
    for bad in ("bbox=1,2,3", "bbox=119,-2,118,-3", "bbox=a,b,c,d", "region=76.x", "status=gone", "sort=evil"):
        response = client.get(f"/api/v1/kims?{bad}")
        assert response.status_code == 400, bad
        assert bad.split("=")[0] in response.get_json()["error"]["fields"]


def test_geojson_is_a_feature_collection_in_lon_lat_order(client, make_kim):
    kim = make_kim()
    for response in (client.get("/api/v1/kims?format=geojson"),
                     client.get("/api/v1/kims", headers={"Accept": "application/geo+json"})):
        assert response.mimetype == "application/geo+json"
        collection = response.get_json()
        assert collection["type"] == "FeatureCollection" and collection["total"] == 1
        feature = collection["features"][0]
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
        assert feature["geometry"]["coordinates"] == pytest.approx([DESA_POINT[1], DESA_POINT[0]])
        assert feature["properties"]["name"] == kim.name and "lat" not in feature["properties"]


def test_public_json_never_contains_member_contacts(client, make_user, make_kim):
    ketua = make_user(email="ketua.pribadi@example.id")
    ketua.whatsapp = "+6281299990000"
    kim = make_kim(members=[(ketua, "ketua")], whatsapp="+6281211110000", email="kim@example.id")
    for url in (f"/api/v1/kims/{kim.id}", "/api/v1/kims", "/api/v1/kims?format=geojson"):
        text = client.get(url).get_data(as_text=True)
        assert "ketua.pribadi@example.id" not in text and "6281299990000" not in text
        assert "kim@example.id" in text  # the KIM's own public contact
    members = client.get(f"/api/v1/kims/{kim.id}/members", headers=bearer(ketua)).get_json()
    assert members == [{"user_id": ketua.id, "name": ketua.name, "role": "ketua"}]


def test_members_invite_join_and_the_last_manager_stays(client, make_user, make_kim, outbox):
    ketua, existing = make_user(), make_user(email="ada@example.id")
    kim = make_kim(members=[(ketua, "ketua")])
    url = f"/api/v1/kims/{kim.id}/members"
    invited = client.post(url, json={"email": "ada@example.id", "role": "admin"}, headers=bearer(ketua))
    assert invited.status_code == 202 and invited.get_json() == {"status": "invited", "email": "ada@example.id",
                                                                 "role": "admin"}
    assert client.post(url, json={"email": "Baru@Example.id"}, headers=bearer(ketua)).status_code == 202
    assert db.session.scalar(select(func.count()).where(KimInvitation.kim_id == kim.id,
                                                        KimInvitation.email == "baru@example.id")) == 1
    # Nobody is a member before accepting.
    assert {m.user_id for m in db.session.get(Kim, kim.id).memberships} == {ketua.id}
    invitation_id = client.get("/api/v1/me/invitations", headers=bearer(existing)).get_json()[0]["id"]
    accepted = client.post(f"/api/v1/invitations/{invitation_id}/accept", headers=bearer(existing))
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    assert client.post(url, json={"email": "x@example.id"}, headers=bearer(existing)).status_code == 202  # admin
    assert client.delete(f"{url}/{ketua.id}", headers=bearer(existing)).status_code == 204
    # The admin is now the last manager and cannot leave.
    assert client.delete(f"{url}/{existing.id}", headers=bearer(existing)).status_code == 409


def test_bidang_taxonomy_and_its_extension_by_the_directorate(client, make_user):
    items = client.get("/api/v1/bidang").get_json()
    slugs = {i["slug"] for i in items}
    assert {"ekonomi-kreatif", "umkm", "sosial-budaya", "pariwisata", "kesehatan", "lingkungan", "literasi",
            "edukasi", "media", "publikasi", "teknologi-informasi", "pertanian-perikanan", "lainnya"} <= slugs
    assert next(i for i in items if i["slug"] == "umkm")["parent_slug"] == "ekonomi-kreatif"
    new = {"slug": "kebencanaan", "name_id": "Kebencanaan", "name_en": "Disaster preparedness"}
    assert client.post("/api/v1/bidang", json=new, headers=bearer(make_user())).status_code == 403
    director = make_user(role="direktorat")
    assert client.post("/api/v1/bidang", json=new, headers=bearer(director)).status_code == 201
    assert client.post("/api/v1/bidang", json=new, headers=bearer(director)).status_code == 409


def test_moving_to_another_kabupaten_needs_that_regions_verification(client, make_user, make_kim):
    admin = make_user()
    kim = make_kim(members=[(admin, "admin")])
    number = kim.number
    moved = client.patch(f"/api/v1/kims/{kim.id}", json={"desa_code": "76.04.01.1001", "lat": -3.50506,
                                                         "lon": 119.02194}, headers=bearer(admin)).get_json()
    assert moved["status"] == "submitted" and moved["number"] == number  # the number stays for good
    polman = make_user(role="pembina", scope="76.04")
    assert client.post(f"/api/v1/kims/{kim.id}/verify", headers=bearer(polman)).status_code == 200


def test_a_pembina_cannot_move_a_kim_out_of_their_region(client, make_user, make_kim):
    kim = make_kim()
    pembina = make_user(role="pembina", scope="76.02")
    response = client.patch(f"/api/v1/kims/{kim.id}", json={"desa_code": "76.04.01.1001", "lat": -3.50506,
                                                            "lon": 119.02194}, headers=bearer(pembina))
    assert response.status_code == 403
    assert db.session.get(Kim, kim.id).desa_code == DESA


BAD_BODIES = [[1, 2], "text", 42, None, {"name": ["x"]}, {"bidang": {"a": 1}}, {"lat": {"x": 1}, "lon": [1]},
              {"socials": [1]}, {"desa_code": 12}, {"founded_on": 5}, {"whatsapp": 123}, {"email": ["a"]},
              {"name": "x" * 10000}, {"reason": {"a": 1}}, {"title": 5, "date": [], "type": {}}]


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_odd_json_bodies_are_4xx_never_500(client, make_user, make_kim, body):
    user = make_user(role="direktorat")
    kim = make_kim(members=[(user, "ketua")], status="submitted")
    for method, url in (("post", "/api/v1/kims"), ("patch", f"/api/v1/kims/{kim.id}"),
                        ("post", f"/api/v1/kims/{kim.id}/activities"), ("post", "/api/v1/auth/register"),
                        ("post", "/api/v1/auth/token"), ("post", f"/api/v1/kims/{kim.id}/reject"),
                        ("post", f"/api/v1/kims/{kim.id}/members"), ("post", "/api/v1/bidang"),
                        ("post", f"/api/v1/users/{user.id}/roles")):
        response = getattr(client, method)(url, json=body, headers=bearer(user))
        assert 400 <= response.status_code < 500 or response.status_code in (200, 201, 202), (method, url)
        assert response.status_code < 500, (method, url, response.get_data(as_text=True)[:200])
