"""NUL characters anywhere in the input are a 400, never a 500 from the database."""
import pytest

from tests.conftest import bearer

URLS = ["/api/v1/regions?q=%00", "/wilayah/cari?q=%00x", "/api/v1/kims?q=%00", "/kim?q=%00",
        "/api/v1/activities?type=%00", "/api/v1/kims?bidang=%00", "/tiles/kims/5/1/1.pbf?bidang=%00",
        "/kim/%00", "/kegiatan?jenis=%00", "/cakupan?wilayah=%00", "/api/v1/regions/%00",
        "/kim?wilayah=76&bidang=%00&status=%00&urut=%00"]


@pytest.mark.parametrize("url", URLS, ids=range(len(URLS)))
def test_nul_in_the_url_is_400(client, url):
    response = client.get(url)
    assert response.status_code == 400


def test_nul_in_json_and_forms_is_400(client, make_user):
    user = make_user()
    response = client.post("/api/v1/kims", json={"name": "KIM\u0000"}, headers=bearer(user))
    assert response.status_code == 400 and "body" in response.get_json()["error"]["fields"]
    form = client.post("/masuk", data={"email": "a\x00@b.id", "password": "x"})
    assert form.status_code == 400
