"""Anonymous answers that cost real work are cached or refused (L9): tiles refuse made-up filter
values before the cache is asked, coverage exports are built once per data version, and the
nation's kecamatan blank spots need a parent."""
import pytest
from sqlalchemy import select, text

from kim_platform.activities.models import Activity
from kim_platform.core import clock
from kim_platform.coverage import exports
from kim_platform.coverage import queries as coverage_queries
from kim_platform.extensions import db
from kim_platform.maps import tiles
from tests.test_maps import get_tile
from tests.conftest import DESA_POINT


@pytest.fixture(autouse=True)
def empty_caches():
    tiles.cache.clear()
    exports.cache.clear()
    tiles.forget_version()


@pytest.mark.parametrize("query, field", [
    ("?bidang=tidak-ada", "bidang"), ("?bidang=" + "x" * 500, "bidang"), ("?bidang=literasi&active=ya", "active"),
    ("?status=rahasia", "status"),
])
def test_tiles_refuse_unknown_filter_values_without_touching_the_cache(client, make_kim, query, field):
    make_kim()
    assert get_tile(client, "kims", *DESA_POINT, 12).status_code == 200
    entries = len(tiles.cache)
    response = get_tile(client, "kims", *DESA_POINT, 12, query)
    assert response.status_code == 400 and field in response.get_json()["error"]["fields"]
    assert len(tiles.cache) == entries


def test_tiles_accept_known_bidang_with_their_sub_fields(client, make_kim):
    make_kim(bidang=("media",))  # a sub-field of literasi
    for query in ("?bidang=literasi", "?bidang=media&active=0", "?bidang=literasi&active=1", "?active="):
        assert get_tile(client, "kims", *DESA_POINT, 12, query).status_code in (200, 204), query
    assert get_tile(client, "kims", *DESA_POINT, 12, "?bidang=literasi").status_code == 200
    assert get_tile(client, "kims", *DESA_POINT, 12, "?bidang=pariwisata").status_code == 204


@pytest.mark.parametrize("fmt", ["geojson", "csv", "xlsx"])
def test_an_identical_export_is_served_from_the_cache(client, make_kim, monkeypatch, fmt):
    make_kim()
    built = []
    summary = coverage_queries.summary
    monkeypatch.setattr(coverage_queries, "summary", lambda *a, **k: built.append(a) or summary(*a, **k))

    first = client.get(f"/cakupan/ekspor.{fmt}?wilayah=76")
    second = client.get(f"/cakupan/ekspor.{fmt}?wilayah=76")
    assert first.status_code == second.status_code == 200
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    assert len(built) == 1 and exports.cache.hits == 1
    revalidated = client.get(f"/cakupan/ekspor.{fmt}?wilayah=76", headers={"If-None-Match": first.headers["ETag"]})
    assert revalidated.status_code == 304 and not revalidated.data and len(built) == 1

    # Another region is another file; a new verified KIM is a new version of the same one.
    assert client.get(f"/cakupan/ekspor.{fmt}?wilayah=76.02").status_code == 200 and len(built) == 2
    for _ in range(2):  # the nation, the expensive one
        assert client.get(f"/cakupan/ekspor.{fmt}").status_code == 200
    assert len(built) == 3
    make_kim(name="KIM Baru Terverifikasi")
    tiles.forget_version()
    third = client.get(f"/cakupan/ekspor.{fmt}?wilayah=76")
    assert len(built) == 4 and third.headers["ETag"] != first.headers["ETag"]


def test_the_data_version_moves_when_a_report_is_deleted(make_kim):
    kim = make_kim()
    older = Activity(kim_id=kim.id, title="Lama", activity_date=clock.today(), type="diskusi", desa_code=kim.desa_code)
    newer = Activity(kim_id=kim.id, title="Baru", activity_date=clock.today(), type="diskusi", desa_code=kim.desa_code)
    db.session.add_all([older, newer])
    db.session.flush()
    tiles.forget_version()
    before = tiles.data_version()
    # Deleting the older report leaves the latest updated_at as it was; the figures changed.
    db.session.delete(db.session.scalar(select(Activity).where(Activity.id == older.id)))
    db.session.flush()
    tiles.forget_version()
    assert tiles.data_version() != before


def test_the_data_version_moves_with_the_first_value_of_a_fresh_sequence():
    """A sequence that never gave a value and one that gave its first both show last_value 1;
    the version moves all the same (the bench's one nextval() on a database whose figures had
    never changed since they were built left every ETag as it was: "data version bump renews
    cached answers" printed NO)."""
    # As on such a database (rolled back with the test).
    db.session.execute(text("DELETE FROM coverage_delta"))
    db.session.execute(text("ALTER SEQUENCE coverage_delta_id_seq RESTART"))
    tiles.forget_version()
    before = tiles.data_version()
    assert db.session.scalar(text("SELECT nextval('coverage_delta_id_seq')")) == 1
    assert db.session.execute(text("SELECT last_value FROM coverage_delta_id_seq")).scalar() == 1
    tiles.forget_version()
    assert tiles.data_version() != before


def test_the_nations_kecamatan_blank_spots_need_a_parent(client):
    response = client.get("/api/v1/coverage/gaps?level=kecamatan")
    assert response.status_code == 400 and "parent" in response.get_json()["error"]["fields"]
    assert client.get("/api/v1/coverage/gaps?level=kecamatan&parent=76").status_code == 200
    assert client.get("/api/v1/coverage/gaps?level=kabupaten").status_code == 200
