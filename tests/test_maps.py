"""Vector tiles and the national map page."""
import gzip
import math

import mapbox_vector_tile
import pytest

from kim_platform.maps import tiles
from tests.conftest import DESA_POINT, bearer


def tile_xy(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def decode(response):
    data = response.data
    if response.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return mapbox_vector_tile.decode(data)


@pytest.fixture(autouse=True)
def empty_tile_cache():
    tiles.cache.clear()
    tiles.forget_version()


def get_tile(client, layer, lat, lon, z, query="", **kwargs):
    x, y = tile_xy(lat, lon, z)
    return client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf{query}", **kwargs)


def test_kim_points_at_street_zoom_with_minimal_attributes(client, make_kim):
    kim = make_kim(bidang=["umkm", "media"], last_activity_on=None)
    response = get_tile(client, "kims", *DESA_POINT, 14, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.mimetype == "application/vnd.mapbox-vector-tile"
    assert response.headers["Content-Encoding"] == "gzip"
    features = decode(response)["kims"]["features"]
    assert [f["properties"] for f in features] == [{"id": kim.id, "bidang": "umkm", "status": "verified",
                                                   "active": False}]
    assert features[0]["geometry"]["type"] == "Point"


def test_low_zoom_tiles_carry_counts_not_points(client, make_kim):
    for n in range(3):
        make_kim(name=f"KIM {n}")
    make_kim(name="Belum", status="submitted")
    features = decode(get_tile(client, "kims", *DESA_POINT, 5))["kims"]["features"]
    assert [(f["properties"]["code"], f["properties"]["count"]) for f in features] == [("76.02", 3)]
    features = decode(get_tile(client, "kims", *DESA_POINT, 9))["kims"]["features"]
    assert [(f["properties"]["code"], f["properties"]["count"]) for f in features] == [("76.02.01", 3)]


def test_filters_and_visibility(client, make_user, make_kim):
    make_kim(name="Literasi", bidang=["media"])
    make_kim(name="Ekonomi", bidang=["umkm"])
    waiting = make_kim(name="Menunggu", status="submitted")
    count = lambda resp: sum(f["properties"]["count"] for f in decode(resp)["kims"]["features"])  # noqa: E731
    assert count(get_tile(client, "kims", *DESA_POINT, 6)) == 2
    assert count(get_tile(client, "kims", *DESA_POINT, 6, "?bidang=literasi")) == 1
    assert get_tile(client, "kims", *DESA_POINT, 6, "?bidang=kesehatan").status_code == 204
    pembina = make_user(role="pembina", scope="76.02")
    mine = get_tile(client, "kims", *DESA_POINT, 14, "?status=submitted", headers=bearer(pembina))
    assert [f["properties"]["id"] for f in decode(mine)["kims"]["features"]] == [waiting.id]
    assert "private" in mine.headers["Cache-Control"]
    public = get_tile(client, "kims", *DESA_POINT, 14, "?status=submitted")
    assert public.status_code == 204 and "public" in public.headers["Cache-Control"]


def test_region_tiles_carry_coverage(client, make_kim):
    make_kim()
    make_kim(name="Kedua di desa yang sama")
    features = decode(get_tile(client, "regions", *DESA_POINT, 7))["regions"]["features"]
    mamuju = next(f["properties"] for f in features if f["properties"]["code"] == "76.02")
    assert mamuju["desa_covered"] == 1 and mamuju["kim_verified"] == 2
    assert mamuju["desa_total"] == 101 and mamuju["coverage_pct"] == pytest.approx(1.0)  # 1 of 101 desa
    levels = {z: decode(get_tile(client, "regions", *DESA_POINT, z))["regions"]["features"][0]["properties"]["code"]
              for z in (4, 7, 10)}
    assert [len(code) for code in levels.values()] == [2, 5, 8]


def test_cache_etag_and_invalidation(client, make_user, make_kim):
    first = get_tile(client, "kims", *DESA_POINT, 14)
    assert first.status_code == 204
    etag = first.headers["ETag"]
    assert get_tile(client, "kims", *DESA_POINT, 14, headers={"If-None-Match": etag}).status_code == 304
    kim = make_kim(status="submitted")
    pembina = make_user(role="pembina", scope="76.02")
    client.post(f"/api/v1/kims/{kim.id}/verify", headers=bearer(pembina))
    tiles.forget_version()  # as one second later
    after = get_tile(client, "kims", *DESA_POINT, 14, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag  # a new version, not the cached tile


@pytest.mark.parametrize("path, field", [
    ("/tiles/kims/17/0/0.pbf", "z"), ("/tiles/kims/3/8/0.pbf", "x"), ("/tiles/kims/3/0/9.pbf", "y"),
    ("/tiles/kims/a/0/0.pbf", "z"), ("/tiles/regions/-1/0/0.pbf", "z"), ("/tiles/kims/5/1/1.pbf?status=x", "status"),
])
def test_invalid_tiles_are_400(client, path, field):
    response = client.get(path)
    assert response.status_code == 400 and field in response.get_json()["error"]["fields"]


def test_unknown_layer_is_404(client):
    assert client.get("/tiles/secret/1/0/0.pbf").status_code == 404


def test_the_map_page_inlines_no_data_and_uses_vendored_libraries(client, make_kim):
    for n in range(5):
        make_kim(name=f"KIM Peta {n}")
    html = client.get("/peta").get_data(as_text=True)
    assert "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min." in html
    assert "/tiles/kims/{z}/{x}/{y}.pbf" in html and "/tiles/regions/{z}/{x}/{y}.pbf" in html
    assert "KIM Peta" not in html  # points come from tiles, never inline
    assert "unpkg.com" not in html and "cdn.jsdelivr" not in html


def test_region_at_a_point_with_its_coverage(client, make_kim):
    make_kim()
    lat, lon = DESA_POINT
    kabupaten = client.get(f"/api/v1/map/region-at?lat={lat}&lon={lon}&zoom=7").get_json()
    assert (kabupaten["code"], kabupaten["desa_covered"], kabupaten["desa_total"]) == ("76.02", 1, 101)
    assert client.get(f"/api/v1/map/region-at?lat={lat}&lon={lon}&zoom=3").get_json()["code"] == "76"
    assert client.get(f"/api/v1/map/region-at?lat={lat}&lon={lon}&zoom=12").get_json()["code"] == "76.02.01"
    assert client.get("/api/v1/map/region-at?lat=-8&lon=110&zoom=7").status_code == 404  # not in the sample
    for bad in ("lat=nan&lon=1", "lat=95&lon=1", "lat=1", "lat=1&lon=1&zoom=30"):
        assert client.get(f"/api/v1/map/region-at?{bad}").status_code == 400


def test_region_pages_and_kim_profiles_reuse_the_layers(client, make_kim):
    kim = make_kim()
    for url in ("/wilayah/76.02", f"/kim/{kim.number}"):
        html = client.get(url).get_data(as_text=True)
        assert 'data-kim-tiles="/tiles/kims/{z}/{x}/{y}.pbf"' in html and "/static/js/national-map." in html
