"""A pembina provinsi's user directory: people connected to the province, masked emails (issue 14, M4)."""
import pytest
from sqlalchemy import event

from kim_platform.extensions import db
from tests.conftest import bearer, login

OTHER_DESA, OTHER_POINT = "73.71.01.1001", (-5.1326, 119.4135)  # Makassar, Sulawesi Selatan


@pytest.fixture
def directory(make_user, make_kim):
    people = {
        "prov76": make_user(name="Pembina Sulbar", role="pembina", scope="76"),
        "direktorat": make_user(name="Direktur", role="direktorat"),
        "inside": make_user(name="Relawan Mamuju", email="budi.mamuju@example.id"),
        "outside": make_user(name="Relawan Makassar", email="sari.makassar@example.id"),
        "both": make_user(name="Relawan Dua Provinsi", email="dua@example.id"),
        "loner": make_user(name="Relawan Tanpa KIM", email="loner@example.id"),
        "pembina_in": make_user(name="Pembina Mamuju", email="pembina.mamuju@example.id", role="pembina",
                                scope="76.02"),
        "pembina_out": make_user(name="Pembina Makassar", role="pembina", scope="73.71"),
    }
    make_kim(members=[(people["inside"], "ketua"), (people["both"], "anggota")])
    make_kim(desa_code=OTHER_DESA, point=OTHER_POINT, members=[(people["outside"], "ketua"),
                                                               (people["both"], "anggota")])
    return people


def _listed(client, viewer, q=""):
    response = client.get(f"/api/v1/users?per_page=200&q={q}", headers=bearer(viewer))
    assert response.status_code == 200
    return {item["name"]: item for item in response.get_json()["items"]}


def test_a_pembina_provinsi_lists_only_people_connected_to_their_province(client, directory):
    listed = _listed(client, directory["prov76"])
    assert {"Relawan Mamuju", "Relawan Dua Provinsi", "Pembina Mamuju", "Pembina Sulbar"} <= set(listed)
    assert not {"Relawan Makassar", "Relawan Tanpa KIM", "Pembina Makassar", "Direktur"} & set(listed)
    assert listed["Relawan Mamuju"]["email"] == "b***@example.id"
    assert listed["Pembina Mamuju"]["email"] == "p***@example.id"
    assert "budi.mamuju@example.id" not in client.get("/api/v1/users", headers=bearer(directory["prov76"])) \
        .get_data(as_text=True)


def test_the_page_follows_the_same_rule(client, directory):
    login(client, directory["prov76"])
    html = client.get("/pengguna").get_data(as_text=True)
    assert "Relawan Mamuju" in html and "b***@example.id" in html and "budi.mamuju@example.id" not in html
    assert "Relawan Makassar" not in html and "sari.makassar" not in html and "Relawan Tanpa KIM" not in html


def test_no_email_fragments_but_a_full_address_finds_a_new_colleague(client, directory):
    prov = directory["prov76"]
    assert _listed(client, prov, "budi") == {}  # the name is "Relawan Mamuju": no search in emails
    assert _listed(client, prov, "makassar") == {}
    assert set(_listed(client, prov, "loner@example.id")) == {"Relawan Tanpa KIM"}
    assert _listed(client, prov, "loner@example.id")["Relawan Tanpa KIM"]["email"] == "l***@example.id"
    assert set(_listed(client, prov, "Relawan")) == {"Relawan Mamuju", "Relawan Dua Provinsi"}


def test_the_directorate_sees_everyone_with_emails(client, directory):
    listed = _listed(client, directory["direktorat"])
    assert {"Relawan Makassar", "Relawan Tanpa KIM", "Pembina Makassar"} <= set(listed)
    assert listed["Relawan Makassar"]["email"] == "sari.makassar@example.id"
    assert set(_listed(client, directory["direktorat"], "sari")) == {"Relawan Makassar"}  # email fragment


def test_granting_answers_with_a_masked_email_too(client, directory):
    response = client.post(f"/api/v1/users/{directory['inside'].id}/roles", json={"role": "pembina",
                                                                                  "scope": "76.02"},
                           headers=bearer(directory["prov76"]))
    assert response.status_code == 201 and response.get_json()["email"] == "b***@example.id"


def test_the_directory_costs_the_same_queries_for_many_users(client, make_user, make_kim, directory):
    headers = bearer(directory["prov76"])

    def statements() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/api/v1/users?per_page=200", headers=headers).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    statements()  # the token's first use is recorded once (then at most once a minute): not a per-user cost
    few = statements()
    make_kim(members=[(make_user(), "anggota") for _ in range(15)])
    assert statements() == few
