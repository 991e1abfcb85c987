"""A region chosen by a code a Kepmendagri replaced (issue 19): pages redirect to the current code
with the note /wilayah/<old> gives, API filters answer for the current code and say so."""
from datetime import date
from urllib.parse import parse_qsl, urlsplit

import pytest

from kim_platform.extensions import db
from kim_platform.regions.models import Region, RegionChange

OLD, NEW = "76.01", "76.02"  # Kab. Majene merged into Kab. Mamuju (a made-up decree)


@pytest.fixture
def merged():
    """OLD retired into NEW, as `flask regions apply` leaves it (retired_on, replaced_by, a change row)."""
    old = db.session.get(Region, OLD)
    old.retired_on, old.replaced_by = date(2027, 1, 2), NEW
    db.session.add(RegionChange(old_code=OLD, new_code=NEW, kind="merge", old_name=old.name,
                                decree="Kepmendagri 100.1-1/2027", effective_on=date(2027, 1, 2)))
    db.session.flush()


@pytest.mark.parametrize("path, kept", [
    ("/cakupan", {"urut": "name"}),
    ("/teladan", {"bidang": "literasi"}),
    ("/kim", {"urut": "name", "q": "uji"}),
    ("/kegiatan", {"jenis": "diskusi"}),
    ("/aspirasi/statistik", {}),
])
def test_pages_redirect_an_old_code_keeping_the_query(client, merged, path, kept):
    query = "&".join(f"{k}={v}" for k, v in {**kept, "wilayah": OLD}.items())
    response = client.get(f"{path}?{query}")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == path
    assert dict(parse_qsl(target.query)) == {**kept, "wilayah": NEW, "kode_lama": OLD}
    page = client.get(f"{target.path}?{target.query}")
    assert page.status_code == 200
    assert f"Kode lama {OLD}" in page.get_data(as_text=True)  # the note /wilayah/<old> gives


def test_a_current_or_split_code_is_not_redirected(client, merged):
    assert client.get(f"/cakupan?wilayah={NEW}").status_code == 200
    split = db.session.get(Region, "76.03")
    split.retired_on = date(2027, 1, 2)  # split or removed: nothing took it over whole
    db.session.flush()
    assert client.get("/cakupan?wilayah=76.03").status_code == 200
    assert "Kode lama" not in client.get(f"/cakupan?wilayah={NEW}&kode_lama=76.03").get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/api/v1/kims?region={}", "/api/v1/activities?region={}", "/api/v1/teladan?region={}",
    "/api/v1/campaigns?region={}", "/api/v1/aspirations/stats?region={}",
    "/api/v1/coverage?level=kecamatan&parent={}", "/api/v1/coverage/gaps?level=kecamatan&parent={}",
    "/api/v1/coverage/timeseries?region={}&months=2", "/api/v1/regions?parent={}",
])
def test_api_filters_answer_for_the_current_code(client, merged, path):
    response = client.get(path.format(OLD))
    assert response.status_code == 200
    assert response.headers["Region-Replaced"] == f"{OLD}={NEW}"
    assert response.get_json() == client.get(path.format(NEW)).get_json()


def test_the_kim_list_api_finds_the_kims_of_the_current_code(client, merged, make_kim):
    kim = make_kim()  # in Kab. Mamuju (NEW)
    body = client.get(f"/api/v1/kims?region={OLD}").get_json()
    assert [item["id"] for item in body["items"]] == [kim.id]
    assert "Region-Replaced" not in client.get(f"/api/v1/kims?region={NEW}").headers
