"""Coverage figures are exact: constructed data checked number by number, and the window moves."""
from datetime import timedelta

from sqlalchemy import text

from kim_platform.activities.models import Activity
from kim_platform.activities.services import refresh_last_activity
from kim_platform.core import clock
from kim_platform.coverage.queries import coverage_rows, summary
from kim_platform.extensions import db
from tests.conftest import DESA


def report(kim, days_ago, status="published", today=None):
    """A report dated `days_ago` before `today` (the code's own today by default)."""
    day = (today or clock.today()) - timedelta(days=days_ago)
    db.session.add(Activity(kim_id=kim.id, kim=kim, title="Kegiatan", activity_date=day,
                            type="diskusi", desa_code=kim.desa_code, status=status))
    db.session.flush()
    refresh_last_activity(kim)


def test_constructed_coverage_of_kabupaten_mamuju(make_kim):
    today = clock.today()
    two_a = make_kim(name="Dua A")                                  # desa 1002: two verified KIMs
    two_b = make_kim(name="Dua B")
    other = make_kim(name="Lain", desa_code="76.02.01.1003", point=(-2.714437, 118.95994))
    make_kim(name="Ditolak", status="rejected", desa_code="76.02.01.1012", point=(-2.749178, 118.913182))
    report(two_a, 10)
    report(two_b, 91)                                               # outside the 90-day window
    report(other, 5, status="hidden")                               # hidden: counts for nothing
    rows = {r.code: r for r in coverage_rows("kecamatan", "76.02", today=today)}
    mamuju = rows["76.02.01"]
    assert (mamuju.desa_covered, mamuju.desa_active, mamuju.kim_verified, mamuju.kim_active) == (2, 1, 3, 1)
    assert (mamuju.activities_window, mamuju.activities_previous) == (1, 1)
    assert mamuju.desa_total == db.session.scalar(text(
        "SELECT count(*) FROM region WHERE level = 'desa' AND code LIKE '76.02.01.%'"))
    assert all(r.desa_covered == 0 for code, r in rows.items() if code != "76.02.01")
    desa = {r.code: r for r in coverage_rows("desa", "76.02.01", today=today)}
    assert (desa[DESA].desa_covered, desa[DESA].kim_verified, desa[DESA].desa_active) == (1, 2, 1)
    assert desa["76.02.01.1012"].desa_covered == 0  # a rejected KIM does not cover
    total, provinces = summary(today=today)
    assert (total.desa_covered, total.desa_active, total.kim_verified) == (2, 1, 3)
    assert total.desa_total == 3707


def test_the_window_moves_with_time(make_kim):
    today = clock.today()
    kim = make_kim()
    report(kim, 0)
    assert coverage_rows("kabupaten", "76", today=today)[1].desa_active == 1
    later = today + timedelta(days=91)
    mamuju = {r.code: r for r in coverage_rows("kabupaten", "76", today=later)}["76.02"]
    assert (mamuju.desa_covered, mamuju.desa_active, mamuju.activities_window, mamuju.activities_previous) == (1, 0, 0, 1)


def test_api_and_page(client, make_kim):
    make_kim()
    body = client.get("/api/v1/coverage?level=kabupaten&parent=76").get_json()
    assert body["level"] == "kabupaten" and body["window_days"] == 90
    mamuju = next(i for i in body["items"] if i["code"] == "76.02")
    assert mamuju["desa_covered"] == 1 and mamuju["coverage_pct"] == 1.0 and mamuju["desa_total"] == 101
    for bad in ("level=negara", "parent=7x", "level=desa", "level=provinsi&parent=76", "window_days=0"):
        assert client.get(f"/api/v1/coverage?{bad}").status_code == 400, bad
    assert client.get("/api/v1/coverage?level=kabupaten&parent=99").status_code == 404
    html = client.get("/cakupan?wilayah=76").get_data(as_text=True)
    assert "Kabupaten Mamuju" in html and "1 dari 648" in html
    assert client.get("/cakupan?wilayah=76.02.01.1002").status_code == 404
    sorted_page = client.get("/cakupan?urut=coverage_pct&arah=turun").get_data(as_text=True).split('class="data coverage"')[1]
    assert sorted_page.index("Sulawesi Barat") < sorted_page.index("Sulawesi Selatan")


def test_exports_open_and_match_the_table(client, make_kim):
    import csv
    import io
    import json

    from openpyxl import load_workbook

    make_kim()
    csv_response = client.get("/cakupan/ekspor.csv?wilayah=76")
    assert csv_response.data.startswith("\ufeff".encode())
    assert 'filename="cakupan-76-' in csv_response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_response.data.decode("utf-8-sig"))))
    mamuju = next(r for r in rows if r["code"] == "76.02")
    assert (mamuju["desa_covered"], mamuju["desa_total"], mamuju["as_of"]) == ("1", "101", clock.today().isoformat())
    workbook = load_workbook(io.BytesIO(client.get("/cakupan/ekspor.xlsx?wilayah=76").data))
    sheet = workbook.active
    header = [c.value for c in sheet[3]]
    values = {row[0]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=4, values_only=True)}
    assert values["76.02"]["desa_covered"] == 1 and values["76.02"]["desa_total"] == 101
    geo = json.loads(client.get("/cakupan/ekspor.geojson?wilayah=76").data)
    feature = next(f for f in geo["features"] if f["id"] == "76.02")
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon") and feature["properties"]["desa_covered"] == 1
    assert client.get("/cakupan/ekspor.pdf").status_code == 404


def test_blank_spots_are_listed(client, make_kim):
    make_kim()
    html = client.get("/cakupan?wilayah=76").get_data(as_text=True)
    gaps = html.split('class="gaps"')[1].split("</section>")[0]
    assert "Kabupaten Polewali Mandar" in gaps and "Kabupaten Mamuju<" not in gaps


def test_gaps_and_next_steps(client, make_user, make_kim):
    make_kim()
    body = client.get("/api/v1/coverage/gaps?level=kabupaten&parent=76").get_json()
    assert body["total"] == 5 and "76.02" not in [i["code"] for i in body["items"]]
    kecamatan = client.get("/api/v1/coverage/gaps?level=kecamatan&parent=76.02").get_json()
    assert "76.02.01" not in [i["code"] for i in kecamatan["items"]] and kecamatan["total"] == 10
    assert client.get("/api/v1/coverage/gaps?level=desa").status_code == 400
    html = client.get("/cakupan?wilayah=76.02.01").get_data(as_text=True)
    assert "km dari" in html and "Mamunyu" in html  # a neighbour of the covered desa


def test_a_pembina_lands_on_their_region(client, make_user):
    from tests.conftest import login

    login(client, make_user(role="pembina", scope="76.02"))
    response = client.get("/cakupan")
    assert response.status_code == 302 and response.headers["Location"] == "/cakupan?wilayah=76.02"
    assert client.get("/cakupan?wilayah=73").status_code == 200  # the figures are public


def test_timeseries_api_and_chart(client, make_kim):
    kim = make_kim()
    report(kim, 0)
    body = client.get("/api/v1/coverage/timeseries?region=76.02&months=3").get_json()
    assert body["name"] == "Kabupaten Mamuju" and len(body["items"]) == 3
    this_month = body["items"][-1]
    assert this_month["month"] == clock.today().strftime("%Y-%m")
    assert (this_month["kim_verified"], this_month["kim_active"], this_month["desa_active"]) == (1, 1, 1)
    assert all(point["kim_active"] == 0 for point in body["items"][:-1])
    nation = client.get("/api/v1/coverage/timeseries").get_json()
    assert nation["name"] == "Indonesia" and len(nation["items"]) == 24 and nation["items"][-1]["kim_verified"] == 1
    for bad in ("months=0", "months=61", "region=7x"):
        assert client.get(f"/api/v1/coverage/timeseries?{bad}").status_code == 400, bad
    assert client.get("/api/v1/coverage/timeseries?region=99").status_code == 404
    html = client.get("/cakupan?wilayah=76.02").get_data(as_text=True)
    assert '<polyline class="line verified"' in html and "Angka per bulan" in html


def test_wide_lists_need_a_parent(client):
    response = client.get("/api/v1/coverage?level=kecamatan")
    assert response.status_code == 400 and "parent" in response.get_json()["error"]["fields"]
    assert client.get("/api/v1/coverage?level=kecamatan&parent=76").status_code == 200


def test_desa_table_names_their_kims(client, make_kim):
    make_kim(name="KIM Bersinar")
    html = client.get("/cakupan?wilayah=76.02.01").get_data(as_text=True)
    table = html.split('class="data coverage"')[1]
    assert "KIM Bersinar" in table
