"""KIM health on the map and in coverage (issue 19): tiles filtered by the daily state, renewed by
the daily run (and only those), and the states per region beside "registered", equal to a direct
count at every level."""
from kim_platform.core import clock
from kim_platform.core.jobs import run_daily
from kim_platform.coverage.queries import coverage_rows
from kim_platform.health import queries, services
from kim_platform.health.models import HealthState
from kim_platform.maps import tiles
from tests.conftest import DESA_POINT
from tests.test_health import MAKASSAR, NOON_WIB, healthy_kim  # noqa: F401 (fixture)
from tests.test_maps import decode, empty_tile_cache, get_tile  # noqa: F401 (autouse fixture)


def ids(response) -> list[int]:
    if response.status_code == 204:
        return []
    assert response.status_code == 200
    return sorted(f["properties"]["id"] for f in decode(response)["kims"]["features"])


def test_kim_tiles_filtered_by_health_state(client, healthy_kim, make_kim, frozen_clock):
    frozen_clock(NOON_WIB)
    active = healthy_kim()
    dormant = healthy_kim(report_days_ago=300)
    services.compute_daily()
    fresh = make_kim(name="Baru diverifikasi")  # after the daily run: no state yet
    tile = lambda query, z=14: get_tile(client, "kims", *DESA_POINT, z, query)  # noqa: E731
    assert ids(tile("?health=vakum")) == [dormant.id]
    assert ids(tile("?health=aktif")) == [active.id]
    assert ids(tile("?health=perlu_pendampingan")) == []
    assert ids(tile("?health=belum_dinilai")) == [fresh.id]
    assert ids(tile("")) == sorted([active.id, dormant.id, fresh.id])
    counts = decode(tile("?health=vakum", z=5))["kims"]["features"]
    assert [(f["properties"]["code"], f["properties"]["count"]) for f in counts] == [("76.02", 1)]
    response = tile("?health=sehat")
    assert response.status_code == 400 and "health" in response.get_json()["error"]["fields"]


def test_the_daily_run_renews_the_health_tiles_and_only_those(client, healthy_kim, frozen_clock):
    frozen_clock(NOON_WIB)
    dormant = healthy_kim(report_days_ago=300)
    plain = get_tile(client, "kims", *DESA_POINT, 14)
    before = get_tile(client, "kims", *DESA_POINT, 14, "?health=vakum")
    assert before.status_code == 204
    assert run_daily(clock.today(), only=("health.states",)) == ["health.states"]
    tiles.forget_version()  # as one second later
    after = get_tile(client, "kims", *DESA_POINT, 14, "?health=vakum", headers={"If-None-Match": before.headers["ETag"]})
    assert after.headers["ETag"] != before.headers["ETag"] and ids(after) == [dormant.id]
    again = get_tile(client, "kims", *DESA_POINT, 14, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304  # unfiltered tiles keep their cache


LEVELS = [("provinsi", None), ("kabupaten", "76"), ("kabupaten", "73"), ("kecamatan", "76.02"),
          ("kecamatan", "73.71"), ("desa", "76.02.01"), ("desa", "73.71.01")]


def health_of_kim(kim) -> str:
    from kim_platform.health.queries import health_of

    return health_of(kim.id).state


def assert_equal_to_a_direct_count():
    for level, parent in LEVELS:
        direct = queries.direct_region_states(level, parent)
        for row in coverage_rows(level, parent):
            expected = direct.get(row.code, dict.fromkeys(HealthState.ALL, 0))
            assert (row.health_aktif, row.health_perlu_pendampingan, row.health_vakum) == tuple(
                expected[state] for state in HealthState.ALL), (level, row.code)


def test_coverage_health_figures_equal_a_direct_count_at_every_level(client, healthy_kim, make_kim, frozen_clock):
    frozen_clock(NOON_WIB)
    healthy_kim()
    healthy_kim(report_days_ago=300)
    healthy_kim(desa_code=MAKASSAR[0], point=MAKASSAR[1], report_days_ago=100)
    stale = healthy_kim(desa_code=MAKASSAR[0], point=MAKASSAR[1],
                        data_confirmed_at=clock.utcnow().replace(year=clock.utcnow().year - 2))
    make_kim(status="submitted")  # no state
    assert coverage_rows("provinsi")[0].health_aktif is None  # before any daily run
    services.compute_daily()
    assert_equal_to_a_direct_count()
    nation = {row.code: row for row in coverage_rows("provinsi")}
    assert (nation["73"].health_aktif, nation["73"].health_perlu_pendampingan) == (0, 2)
    assert (nation["76"].health_aktif, nation["76"].health_vakum) == (1, 1)

    admin = next(m.user for m in stale.memberships if m.role == "admin")
    services.confirm_data(admin, stale)  # the KIM is aktif at once; its region's figures at the next run
    assert health_of_kim(stale) == "aktif"
    assert {row.code: row for row in coverage_rows("provinsi")}["73"].health_aktif == 0
    services.compute_daily()
    assert_equal_to_a_direct_count()
    assert {row.code: row for row in coverage_rows("provinsi")}["73"].health_aktif == 1

    body = client.get("/api/v1/coverage?level=kabupaten&parent=76").get_json()
    mamuju = next(item for item in body["items"] if item["code"] == "76.02")
    assert (mamuju["health_aktif"], mamuju["health_perlu_pendampingan"], mamuju["health_vakum"],
            mamuju["health_as_of"], mamuju["kim_verified"]) == (1, 0, 1, clock.today().isoformat(), 2)
    csv = client.get("/cakupan/ekspor.csv?wilayah=76").get_data(as_text=True)
    assert "health_aktif,health_perlu_pendampingan,health_vakum,health_as_of" in csv.splitlines()[0]
    html = client.get("/cakupan?wilayah=76").get_data(as_text=True)
    assert "KIM aktif (laporan 90 hari terakhir)" in html and "Aktif (status kesehatan)" in html


def test_a_kim_moved_since_the_daily_run_then_confirmed_leaves_no_negative_figure(healthy_kim, frozen_clock):
    from kim_platform.extensions import db
    from kim_platform.health.models import KimHealthRegion

    frozen_clock(NOON_WIB)
    stale = healthy_kim(data_confirmed_at=clock.utcnow().replace(year=clock.utcnow().year - 2))
    services.compute_daily()  # perlu_pendampingan, counted in 76.02.01.1002
    stale.desa_code = MAKASSAR[0]  # moved to Makassar the same day
    db.session.flush()
    admin = next(m.user for m in stale.memberships if m.role == "admin")
    services.confirm_data(admin, stale)
    rows = db.session.scalars(db.select(KimHealthRegion).execution_options(populate_existing=True)).all()
    assert all(min(r.aktif, r.perlu_pendampingan, r.vakum) >= 0 for r in rows), [
        (r.code, r.aktif, r.perlu_pendampingan, r.vakum) for r in rows]
    services.compute_daily()  # the next run counts it where it is now
    db.session.expire_all()  # the rows read above are in this test's session
    assert_equal_to_a_direct_count()
    nation = {row.code: row for row in coverage_rows("provinsi")}
    assert (nation["73"].health_aktif, nation["73"].health_perlu_pendampingan) == (1, 0)
    assert (nation["76"].health_aktif, nation["76"].health_perlu_pendampingan) == (0, 0)


def test_a_cached_export_is_renewed_by_the_daily_run(client, healthy_kim, frozen_clock):
    frozen_clock(NOON_WIB)
    healthy_kim(report_days_ago=300)
    before = client.get("/cakupan/ekspor.csv?wilayah=76")
    services.compute_daily()  # changes no KIM and no report: only the health figures
    after = client.get("/cakupan/ekspor.csv?wilayah=76", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
