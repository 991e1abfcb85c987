"""Oversight of aspirations for pembina and the directorate (issue 18): time to answer per region
(table, map, API), repeated topics, and the CSV/XLSX exports without personal data."""
import csv
import io
import re
import statistics
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kim_platform.aspirations import exports, performance, services
from kim_platform.aspirations.models import Aspiration
from kim_platform.extensions import db
from tests.conftest import bearer, counting, csrf_token
from tests.conftest import login as _login

pytestmark = pytest.mark.usefixtures("steady_demo_flag")


# Monday 7 December 2026, 10:00 WIB.
MONDAY = datetime(2026, 12, 7, 3, tzinfo=timezone.utc)
LATER = MONDAY + timedelta(days=13)  # Sunday 20 December: the moment the figures are read
MAMUJU_DESA = "76.02.01.1002"  # kecamatan Mamuju (76.02.01), Kabupaten Mamuju
PASANGKAYU_DESA = "76.01.01.1006"  # Kabupaten Pasangkayu
RESIDENT, CONTACT = "Bu Ani Rahasiawati", "0812-0000-7777"
FORMULA_AGENCY = '=HYPERLINK("http://evil.example","klik")'


def login(client, user):
    client.post("/keluar", data={"csrf_token": csrf_token(client)})
    return _login(client, user)


def _item(author, kim, **fields):
    raw = {"kind": "informasi", "topic": "bansos", "description": "Kapan bantuan PKH cair? (rahasia-deskripsi)",
           "residents_count": 2, "resident_name": RESIDENT, "resident_contact": CONTACT, **fields}
    return services.submit_aspiration(author, kim, raw)


@pytest.fixture
def oversight(make_user, make_kim, frozen_clock):
    """Items of a Mamuju KIM: four answered after 2, 10, 30 and 288 hours (the last one late), one
    forwarded to an agency whose name is a formula, one left to go overdue, one passed up to the
    province; and two of Pasangkayu (one answered after an hour)."""
    frozen_clock(MONDAY)
    member = make_user(name="Relawan Rahasia", email="relawan.rahasia@example.id")
    kim = make_kim(members=[(member, "anggota")])
    users = {
        "member": member, "kim": kim,
        "pembina": make_user(name="Pembina Mamuju", role="pembina", scope="76.02"),
        "prov": make_user(name="Pembina Sulbar", role="pembina", scope="76"),
        "pasangkayu": make_user(name="Pembina Pasangkayu", role="pembina", scope="76.01"),
        "direktorat": make_user(name="Direktorat", role="direktorat"),
        "relawan": make_user(name="Orang Lain"),
    }
    pembina = users["pembina"]
    answered = [_item(member, kim, kind=kind) for kind in ("informasi", "pengaduan", "aspirasi", "informasi")]
    forwarded = _item(member, kim, topic="infrastruktur")
    waiting = _item(member, kim, topic="kesehatan", residents_count=7)
    passed_up = _item(member, kim, topic="bansos")
    far = [_item(member, kim, desa_code=PASANGKAYU_DESA, topic="pendidikan") for _ in range(2)]
    assert {i.handler_scope for i in answered} == {"76.02"} and far[0].handler_scope == "76.01"
    services.transition(pembina, passed_up, "bukan_wewenang", {"reason": "Kewenangan provinsi.", "target": "naik"})
    assert passed_up.handler_scope == "76"
    for item in [*answered, forwarded]:
        services.transition(pembina, item, "diverifikasi")
    services.transition(users["pasangkayu"], far[0], "diverifikasi")
    services.transition(pembina, forwarded, "diteruskan", {"agency": FORMULA_AGENCY, "reference": "LAPOR-1"})
    for item, hours in zip(answered, (2, 10, 30, 288)):
        frozen_clock(MONDAY + timedelta(hours=hours))
        services.transition(pembina, item, "dijawab", {"answer": "Jawaban."})
    frozen_clock(MONDAY + timedelta(hours=1))
    services.transition(users["pasangkayu"], far[0], "dijawab", {"answer": "Jawaban."})
    frozen_clock(LATER)
    services.escalate_overdue(LATER)
    db.session.flush()
    return {**users, "answered": answered, "forwarded": forwarded, "waiting": waiting, "passed_up": passed_up,
            "far": far}


def _row(result, code):
    return next(row for row in result.rows if row.code == code)


def test_the_figures_equal_a_direct_count_median_too(oversight):
    """The province's pembina sees every kabupaten of Sulawesi Barat, each figure as counted by hand."""
    w = oversight
    with counting() as statements:
        result = performance.performance(w["prov"], "76", 90)
        performance.repeated_topics(w["prov"], "76", 90)
    # One grouped statement each, the total included (the others load the viewer's grants).
    assert len([s for s in statements if "FROM aspiration" in s]) == 2
    assert result.level == "kabupaten" and {r.code for r in result.rows} >= {"76.01", "76.02"}
    mamuju = _row(result, "76.02")
    items = db.session.scalars(select(Aspiration).where(Aspiration.desa_code.like("76.02.%"))).all()
    hours = [(i.answered_at - i.created_at).total_seconds() / 3600 for i in items if i.answered_at]
    assert mamuju.received == len(items) == 7  # the item passed up to the province counts for the province's pembina
    assert mamuju.answered == len(hours) == 4
    assert mamuju.median_hours == statistics.median(hours) == 20.0  # percentile_cont: between 10 and 30
    assert mamuju.answered_in_time == sum(1 for i in items if i.answered_in_time) == 3
    assert mamuju.in_time_share == 0.75
    now = LATER
    overdue = [i for i in items if i.is_overdue(now)]
    assert mamuju.overdue == len(overdue) == 2  # the waiting one and the one passed up (triage due 10 Dec)
    assert mamuju.escalated == sum(1 for i in items if i.escalation_level > 0) == 2
    pasangkayu = _row(result, "76.01")
    assert (pasangkayu.received, pasangkayu.answered, pasangkayu.median_hours) == (2, 1, 1.0)
    assert all(r.received == 0 for r in result.rows if r.code not in ("76.01", "76.02"))
    assert result.total.received == 9 and result.total.answered == 5
    assert result.total.median_hours == statistics.median([*hours, 1.0]) == 10.0

    national = performance.performance(w["direktorat"], None, 365)
    assert [r.code for r in national.rows] == ["73", "76"]
    assert (_row(national, "76").received, _row(national, "73").received) == (9, 0)
    # A window that closed before the items came: nothing received, the overdue still counted
    # (by then the forwarded one too).
    old = performance.performance(w["prov"], "76", 90, now=LATER + timedelta(days=120))
    assert (_row(old, "76.02").received, _row(old, "76.02").overdue, _row(old, "76.02").escalated) == (0, 3, 2)


def test_a_pembina_counts_only_what_they_handle(client, oversight):
    """A pembina of 76.02 sees nothing of 76.01 (403), and in their own kabupaten not the item
    passed up to the province; KIM members and volunteers get 403, anonymous callers 401."""
    w = oversight
    mine = performance.performance(w["pembina"], "76.02", 90)
    assert mine.level == "kecamatan" and _row(mine, "76.02.01").received == 6 and mine.total.received == 6
    # Even asked for the province by code, the SQL rule keeps Pasangkayu's items out.
    assert _row(performance.performance(w["pembina"], "76", 90), "76.01").received == 0
    assert performance.performance(w["pasangkayu"], "76", 90).total.received == 2

    headers = bearer(w["pembina"])
    own = client.get("/api/v1/aspirations/performance", headers=headers).get_json()
    assert own["region"] == "76.02" and own["total"]["received"] == 6
    refused = client.get("/api/v1/aspirations/performance?region=76.01", headers=headers)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"]
    assert client.get("/api/v1/aspirations/performance?region=76", headers=headers).status_code == 403
    assert client.get("/api/v1/aspirations/repeated?region=76.01", headers=headers).status_code == 403
    for role in ("member", "relawan"):
        assert client.get("/api/v1/aspirations/performance", headers=bearer(w[role])).status_code == 403
    assert client.get("/api/v1/aspirations/performance").status_code == 401
    login(client, w["pembina"])
    assert client.get("/aspirasi/kinerja?wilayah=76.01").status_code == 403
    drilled = client.get("/aspirasi/kinerja?wilayah=76.02.01").get_data(as_text=True)
    assert 'id="row-76.02.01.1002"' in drilled  # down to the desa
    assert "kinerja?wilayah=76.02&amp;" in drilled and "kinerja?wilayah=76&amp;" not in drilled  # no way up
    assert client.get("/aspirasi/ekspor.csv?wilayah=76.01").get_data(as_text=True).count("\n") == 1  # header only
    login(client, w["member"])
    assert client.get("/aspirasi/kinerja").status_code == 403
    assert client.get("/aspirasi/ekspor.csv").status_code == 403


def test_bad_parameters_are_400_in_the_api_and_ignored_on_pages(client, oversight):
    headers = bearer(oversight["direktorat"])
    for query in ("days=30", "days=abc", "region=76.02.01.1002", "region=7", "region=76.02%25"):
        response = client.get(f"/api/v1/aspirations/performance?{query}", headers=headers)
        assert response.status_code == 400, query
        assert set(response.get_json()["error"]) >= {"code", "message", "fields"}
    for query in ("min_items=1", "level=provinsi", "days=7"):
        assert client.get(f"/api/v1/aspirations/repeated?{query}", headers=headers).status_code == 400, query
    assert client.get("/api/v1/aspirations/performance?region=99", headers=headers).status_code == 404
    login(client, oversight["direktorat"])
    page = client.get("/aspirasi/kinerja?hari=abc&urut=nope&arah=x")
    assert page.status_code == 200 and 'id="row-76"' in page.get_data(as_text=True)
    assert client.get("/aspirasi/kinerja?wilayah=76.02.01.1002").status_code == 404
    assert client.get("/aspirasi/kinerja?wilayah=abc").status_code == 404
    assert client.get("/aspirasi/berulang?min=-5&tingkat=x&hari=99999999999999999999").status_code == 200
    assert client.get("/aspirasi/ekspor.pdf").status_code == 404


def test_the_page_table_drills_down_sorts_and_maps(client, oversight):
    login(client, oversight["prov"])
    html = client.get("/aspirasi/kinerja?urut=received&arah=turun").get_data(as_text=True)
    assert html.index('id="row-76.02"') < html.index('id="row-76.01"')  # most items first
    assert 'href="/aspirasi/kinerja?wilayah=76.02&amp;hari=90"' in html  # the drill-down
    assert 'id="total-median"' in html and "20.0" in html
    assert "L.circleMarker" in html and "Kabupaten Mamuju: 7" in html  # the map's point and its tooltip
    assert "/aspirasi/kinerja/ekspor.xlsx?wilayah=76&amp;hari=90" in html
    assert 'href="/aspirasi?wilayah=76.02&amp;terlambat=1"' in html  # the overdue link into the queue
    # A region without a median comes last, whichever the direction.
    for direction in ("naik", "turun"):
        html = client.get(f"/aspirasi/kinerja?urut=median_hours&arah={direction}").get_data(as_text=True)
        first, second = ("76.01", "76.02") if direction == "naik" else ("76.02", "76.01")
        assert html.index(f'id="row-{first}"') < html.index(f'id="row-{second}"') < html.index('id="row-76.03"')


def test_repeated_topics_per_kecamatan(client, oversight):
    w = oversight
    rows = performance.repeated_topics(w["prov"], "76", 90)
    assert [(r.code, r.topic) for r in rows] == [("76.02.01", "bansos")]
    row = rows[0]
    items = db.session.scalars(select(Aspiration).where(Aspiration.topic == "bansos",
                                                        Aspiration.desa_code.like("76.02.01.%"))).all()
    assert row.items == len(items) == 5
    assert row.residents == sum(i.residents_count for i in items) == 10
    assert row.still_open == 5 and row.first_at == min(i.created_at for i in items) == MONDAY
    assert row.name == "Mamuju" and row.kabupaten == "76.02" and row.kabupaten_name == "Kabupaten Mamuju"
    # The pembina of 76.02 does not see the item passed up: four of theirs.
    assert [r.items for r in performance.repeated_topics(w["pembina"], "76.02", 90)] == [4]
    assert performance.repeated_topics(w["prov"], "76", 90, min_items=6) == []
    assert [r.code for r in performance.repeated_topics(w["prov"], "76", 90, level="desa")] == [MAMUJU_DESA]

    headers = bearer(w["prov"])
    api = client.get("/api/v1/aspirations/repeated?region=76&min_items=5", headers=headers).get_json()
    assert [(i["code"], i["items"], i["residents"]) for i in api["items"]] == [("76.02.01", 5, 10)]
    listed = client.get("/api/v1/aspirations?region=76.02.01&topic=bansos", headers=headers).get_json()["items"]
    assert sorted(i["id"] for i in listed) == sorted(i.id for i in items)  # the queue's topic filter
    login(client, w["prov"])
    html = client.get("/aspirasi/berulang?wilayah=76").get_data(as_text=True)
    link = "/aspirasi?wilayah=76.02.01&amp;topik=bansos"
    assert link in html
    queue = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert sorted(int(n) for n in re.findall(r'href="/aspirasi/(\d+)"', queue)) == sorted(
        i.id for i in items)


def test_the_queue_links_to_the_oversight_pages_for_pembina_only(client, oversight):
    login(client, oversight["pembina"])
    html = client.get("/aspirasi?topik=bansos&status=dijawab").get_data(as_text=True)
    assert 'href="/aspirasi/kinerja"' in html and 'href="/aspirasi/berulang"' in html
    assert "/aspirasi/ekspor.csv?status=dijawab&amp;topik=bansos" in html
    login(client, oversight["member"])
    html = client.get("/aspirasi").get_data(as_text=True)
    assert "/aspirasi/kinerja" not in html and "/aspirasi/ekspor" not in html


def _secrets(w) -> list[str]:
    member = w["member"]
    return [RESIDENT, CONTACT, member.name, member.email, "rahasia-deskripsi"]


def test_exports_hold_no_personal_data_and_no_formula(client, oversight):
    w = oversight
    login(client, w["prov"])
    response = client.get("/aspirasi/ekspor.csv")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert tuple(rows[0]) == exports.ITEM_COLUMNS
    assert len(rows) == 9 and [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    forwarded = next(r for r in rows if int(r["id"]) == w["forwarded"].id)
    assert forwarded["agency"] == "'" + FORMULA_AGENCY  # shown as text, never run
    assert forwarded["desa_name"] == "Binanga" and forwarded["kabupaten_name"] == "Kabupaten Mamuju"
    assert forwarded["created_at"] == "2026-12-07T10:00+07:00"

    xlsx = client.get("/aspirasi/ekspor.xlsx?topik=infrastruktur")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1] == list(exports.ITEM_COLUMNS) and len(values) == 3
    agency = sheet.cell(row=3, column=exports.ITEM_COLUMNS.index("agency") + 1)
    assert agency.value == FORMULA_AGENCY and agency.data_type != "f"
    with zipfile.ZipFile(io.BytesIO(xlsx.get_data())) as archive:
        xml = b"".join(archive.read(name) for name in archive.namelist())
    assert b"<f>" not in xml and b"<f " not in xml

    files = [body, xml, client.get("/aspirasi/kinerja/ekspor.csv").get_data()]
    with zipfile.ZipFile(io.BytesIO(client.get("/aspirasi/kinerja/ekspor.xlsx").get_data())) as archive:
        files.append(b"".join(archive.read(name) for name in archive.namelist()))
    for data in files:
        for secret in _secrets(w):
            assert secret.encode() not in data, secret


def test_the_items_export_reads_in_keyset_batches(oversight):
    w = oversight
    rows = list(exports.item_rows(w["direktorat"], batch=2))
    assert [r[0] for r in rows] == sorted(i.id for i in db.session.scalars(select(Aspiration)))
    assert [r[0] for r in exports.item_rows(w["pembina"], batch=2, region="76.01")] == []
    assert len(list(exports.item_rows(w["pembina"], batch=4, topic="bansos"))) == 4


def test_the_performance_export_matches_the_table(client, oversight):
    login(client, oversight["prov"])
    body = client.get("/aspirasi/kinerja/ekspor.csv?hari=365").get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    mamuju = next(r for r in rows if r["code"] == "76.02")
    assert (mamuju["received"], mamuju["answered"], mamuju["median_hours"], mamuju["in_time_share"]) == (
        "7", "4", "20.0", "0.75")
    assert rows[-1]["name"] == "Total" and rows[-1]["received"] == "9"
