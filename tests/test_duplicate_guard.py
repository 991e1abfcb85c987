"""The duplicate-name guard never reveals other groups' private KIMs (issue 14, L5)."""
from tests.conftest import DESA, DESA_POINT, bearer, login
from tests.test_kims_pages import FORM, post_form

PRIVATE_NAME = "KIM Binanga Maju Bersatu"
VALID = {"name": "KIM Binanga Maju", "bidang": ["literasi"], "desa_code": DESA, "lat": DESA_POINT[0],
         "lon": DESA_POINT[1]}


def _private_draft(make_user, make_kim, status="draft"):
    return make_kim(name=PRIVATE_NAME, status=status, members=[(make_user(name="Ketua Lain"), "ketua")])


def test_the_registration_page_does_not_link_another_groups_draft(client, make_user, make_kim):
    for status in ("draft", "submitted", "rejected"):
        _private_draft(make_user, make_kim, status)
    login(client, make_user())
    warned = post_form(client, "/kim/daftar", FORM)
    html = warned.get_data(as_text=True)
    assert warned.status_code == 422
    assert "Sedang didaftarkan KIM dengan nama mirip di desa ini." in html
    assert PRIVATE_NAME not in html and "kim-uji-" not in html
    assert "sudah terdaftar" not in html  # no "already registered" list without a public KIM


def test_the_registration_page_still_links_public_look_alikes(client, make_user, make_kim):
    public = make_kim(name="KIM Binanga Maju Sejahtera")
    _private_draft(make_user, make_kim)
    login(client, make_user())
    html = post_form(client, "/kim/daftar", FORM).get_data(as_text=True)
    assert f'href="/kim/{public.number}"' in html and "KIM Binanga Maju Sejahtera" in html
    assert PRIVATE_NAME not in html
    assert "Sedang didaftarkan KIM dengan nama mirip di desa ini." in html


def test_the_api_gives_no_id_or_status_of_a_private_look_alike(client, make_user, make_kim):
    draft = _private_draft(make_user, make_kim)
    registrant = make_user()
    refused = client.post("/api/v1/kims", json=VALID, headers=bearer(registrant))
    assert refused.status_code == 409  # the guard's confirm step, as on the page
    error = refused.get_json()["error"]
    assert error["possible_duplicates"] == [] and error["similar_name_being_registered"] is True
    response = client.post("/api/v1/kims", json={**VALID, "confirm_not_duplicate": True}, headers=bearer(registrant))
    assert response.status_code == 201
    body = response.get_json()
    assert body["possible_duplicates"] == [] and body["similar_name_being_registered"] is True
    for answer in (refused, response):
        assert PRIVATE_NAME not in answer.get_data(as_text=True) and draft.slug not in answer.get_data(as_text=True)


def test_the_api_lists_public_look_alikes_and_the_ketua_sees_their_own_draft(client, make_user, make_kim):
    public = make_kim(name="KIM Binanga Maju Sejahtera")
    error = client.post("/api/v1/kims", json=VALID, headers=bearer(make_user())).get_json()["error"]
    assert error["possible_duplicates"] == [{"id": public.id, "name": public.name, "status": "verified"}]
    assert error["similar_name_being_registered"] is False
    confirmed = {**VALID, "confirm_not_duplicate": True}
    body = client.post("/api/v1/kims", json=confirmed, headers=bearer(make_user())).get_json()
    assert body["possible_duplicates"] == [{"id": public.id, "name": public.name, "status": "verified"}]
    # Registering again: one's own draft is no secret to oneself.
    ketua = make_user()
    first = client.post("/api/v1/kims", json=confirmed, headers=bearer(ketua)).get_json()
    again = client.post("/api/v1/kims", json=VALID, headers=bearer(ketua)).get_json()["error"]
    assert first["id"] in {d["id"] for d in again["possible_duplicates"]}


def test_the_pembina_queue_shows_look_alikes_of_their_region(client, make_user, make_kim):
    make_kim(name="KIM Binanga Maju", status="submitted")
    _private_draft(make_user, make_kim)
    pembina = make_user(role="pembina", scope="76.02")
    login(client, pembina)
    html = client.get("/verifikasi").get_data(as_text=True)
    assert PRIVATE_NAME in html  # within the pembina's own region every KIM is theirs to see
