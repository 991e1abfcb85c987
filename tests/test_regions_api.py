"""/api/v1/regions: shapes, filters, pagination, and 400/404 answers."""
import pytest

REGION_KEYS = {"code", "name", "level", "kind", "parent_code", "path", "retired_on", "replaced_by"}


def test_list_is_paginated_with_the_standard_envelope(client):
    body = client.get("/api/v1/regions?level=desa&per_page=10&page=2").get_json()
    assert set(body) == {"items", "page", "per_page", "total"}
    assert (body["page"], body["per_page"], body["total"]) == (2, 10, 3707)
    assert len(body["items"]) == 10
    assert all(set(item) == REGION_KEYS and item["level"] == "desa" for item in body["items"])
    codes = [item["code"] for item in body["items"]]
    assert codes == sorted(codes)
    first_page = client.get("/api/v1/regions?level=desa&per_page=10").get_json()
    assert not set(codes) & {item["code"] for item in first_page["items"]}


def test_per_page_is_capped_at_200(client):
    body = client.get("/api/v1/regions?level=desa&per_page=5000").get_json()
    assert body["per_page"] == 200 and len(body["items"]) == 200


def test_page_past_the_end_is_empty_not_an_error(client):
    body = client.get("/api/v1/regions?level=provinsi&page=9").get_json()
    assert body["items"] == [] and body["total"] == 2


def test_search_and_parent_filters(client):
    body = client.get("/api/v1/regions?q=Mamju&level=kabupaten").get_json()
    assert body["items"][0]["code"] == "76.02"
    assert body["items"][0]["path"] == "Kab. Mamuju, Prov. Sulawesi Barat"
    under = client.get("/api/v1/regions?parent=76.02&level=kecamatan&per_page=200").get_json()
    assert under["total"] == 11
    assert all(item["code"].startswith("76.02.") for item in under["items"])


def test_desa_path_names_every_level(client):
    item = client.get("/api/v1/regions?q=76.02.01.1002").get_json()["items"][0]
    assert item == {
        "code": "76.02.01.1002", "name": "Binanga", "level": "desa", "kind": "kelurahan",
        "parent_code": "76.02.01", "path": "Kel. Binanga, Kec. Mamuju, Kab. Mamuju, Prov. Sulawesi Barat",
        "retired_on": None, "replaced_by": None,
    }


def test_detail_with_centroid_bbox_children_and_ancestors(client):
    body = client.get("/api/v1/regions/76.02").get_json()
    assert body["children_count"] == 11
    assert body["centroid"] == {"lat": pytest.approx(-2.519698), "lon": pytest.approx(119.344576)}
    minlon, minlat, maxlon, maxlat = body["bbox"]
    assert minlon < body["centroid"]["lon"] < maxlon and minlat < body["centroid"]["lat"] < maxlat
    assert 116.5 < minlon < maxlon < 121 and -4 < minlat < maxlat < 0  # with its western islands
    assert body["ancestors"] == [{"code": "76", "name": "Sulawesi Barat", "level": "provinsi"}]


def test_desa_without_point_has_null_centroid_and_bbox(client):
    body = client.get("/api/v1/regions/73.15.09.1006").get_json()
    assert body["centroid"] is None and body["bbox"] is None and body["children_count"] == 0


def test_desa_with_point_has_centroid_but_no_bbox(client):
    body = client.get("/api/v1/regions/76.02.01.1002").get_json()
    assert body["centroid"] == {"lat": pytest.approx(-2.749192), "lon": pytest.approx(118.967345)}
    assert body["bbox"] is None


def test_children_endpoint(client):
    body = client.get("/api/v1/regions/76/children?per_page=4").get_json()
    assert body["total"] == 6 and [i["code"] for i in body["items"]] == ["76.01", "76.02", "76.03", "76.04"]
    page2 = client.get("/api/v1/regions/76/children?per_page=4&page=2").get_json()
    assert [i["code"] for i in page2["items"]] == ["76.05", "76.06"]


@pytest.mark.parametrize("url", ["/api/v1/regions/99", "/api/v1/regions/76.99", "/api/v1/regions/99/children"])
def test_unknown_code_is_404_json(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/regions/7x", "code"),
        ("/api/v1/regions/76.2", "code"),
        ("/api/v1/regions/7x/children", "code"),
        ("/api/v1/regions?level=negara", "level"),
        ("/api/v1/regions?parent=76.x", "parent"),
        ("/api/v1/regions?page=0", "page"),
        ("/api/v1/regions?page=abc", "page"),
        ("/api/v1/regions?per_page=0", "per_page"),
        ("/api/v1/regions?q=" + "a" * 101, "q"),
        ("/api/v1/regions/76/children?page=-1", "page"),
    ],
)
def test_malformed_parameters_are_400_naming_the_parameter(client, url, field):
    response = client.get(url)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and error["message"]
    assert field in error["fields"]


def test_unknown_api_path_and_method_answer_json(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong_method = client.post("/api/v1/regions")
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]
