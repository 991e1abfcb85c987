"""Campaign reach by region (issue 17, second half): the trigger-kept totals against a direct count
after random operations, the dashboard, its exports, the reach API and the national view."""
import csv
import io
import json
import random
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from kim_platform.activities.models import Activity
from kim_platform.campaigns import reach, services
from kim_platform.campaigns.models import Dissemination
from kim_platform.campaigns.queries import campaign_targets_kim, reach as direct_reach
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Kim
from kim_platform.regions.codes import LEVEL_WIDTH
from tests.conftest import bearer, login

pytestmark = pytest.mark.usefixtures("steady_demo_flag")


DESA_IN = "76.02.01.1002"  # Kel. Binanga, Kec. Mamuju


def _campaign_input(**overrides) -> dict:
    today = clock.today()
    return {"title": "Cek Kesehatan Gratis", "key_message": "Datang ke puskesmas untuk CKG.", "targets": ["76.02"],
            "start_date": (today - timedelta(days=10)).isoformat(),
            "end_date": (today + timedelta(days=20)).isoformat(),
            **overrides}


def _desa(prefix: str, n: int) -> list[str]:
    return list(db.session.scalars(text(
        "SELECT code FROM region WHERE level = 'desa' AND code LIKE :p ORDER BY code LIMIT :n"),
        {"p": prefix + ".%", "n": n}))


def _log(kim, campaign, desa_code, people, day, status="published") -> Activity:
    """A dissemination report written straight to the tables (the triggers see every writer)."""
    activity = Activity(kim_id=kim.id, title="Sosialisasi CKG", activity_date=day, type="diseminasi",
                        desa_code=desa_code, reach_offline=people, status=status)
    db.session.add(activity)
    db.session.flush()
    db.session.add(Dissemination(activity_id=activity.id, campaign_id=campaign.id, channel="pertemuan-warga"))
    db.session.flush()
    return activity


def _direct_rows(campaign, level: str, parent: str | None) -> list[tuple]:
    """Every figure of the table counted from the raw tables (KIMs targeted by the Python rule)."""
    db.session.expire_all()
    targets = campaign.target_codes
    counted = db.session.execute(text("""
        SELECT a.kim_id, k.desa_code AS kim_desa, a.desa_code, a.reach_offline
        FROM campaign_dissemination d JOIN activity a ON a.id = d.activity_id JOIN kim k ON k.id = a.kim_id
        WHERE d.campaign_id = :c AND a.status = 'published' AND a.pending_action IS NULL
          AND k.status IN ('verified', 'inactive')"""), {"c": campaign.id}).all()
    kims = [k.desa_code for k in db.session.scalars(select(Kim))
            if k.status == "verified" and campaign_targets_kim(campaign, k)]
    desa = list(db.session.scalars(text(
        "SELECT code FROM region WHERE level = 'desa' AND retired_on IS NULL AND code LIKE '76.02.%'")))

    def within(code, prefix):
        return code == prefix or code.startswith(prefix + ".")

    desa_in_target = [d for d in desa if any(within(d, t) for t in targets)]
    regions = db.session.execute(text(
        "SELECT code FROM region WHERE level = :level AND retired_on IS NULL AND code LIKE :p ORDER BY code"),
        {"level": level, "p": f"{parent}.%" if parent else "%"}).scalars()
    result = []
    for code in regions:
        if not any(within(code, t) or within(t, code) for t in targets):
            continue
        here = [c for c in counted if within(c.desa_code, code)]
        result.append((code, len([k for k in kims if within(k, code)]),
                       len({c.kim_id for c in counted if within(c.kim_desa, code)}),
                       len([d for d in desa_in_target if within(d, code)]),
                       len({c.desa_code for c in here}), sum(c.reach_offline for c in here), len(here)))
    return result


def _rows(campaign, level, parent):
    try:
        view = reach.resolve_view(campaign, level, parent)
    except reach.ReachError as error:  # a parent the targets no longer reach: 404, and no row
        assert error.status == 404
        return []
    return [(r.code, r.kims_targeted, r.kims_reached, r.desa_targeted, r.desa_reached, r.people, r.disseminations)
            for r in reach.rows(campaign, view)]


def _check_exact(campaign, views):
    for level, parent in views:
        assert _rows(campaign, level, parent) == _direct_rows(campaign, level, parent), (level, parent)
    total = reach.totals(campaign)
    direct = direct_reach(campaign)
    assert (total.kims_reached, total.desa_reached, total.people, total.disseminations) == (
        direct.kims, direct.desa, direct.people, direct.reports)
    kabupaten = _direct_rows(campaign, "kabupaten", None)
    assert (total.kims_targeted, total.desa_targeted) == (sum(r[1] for r in kabupaten), sum(r[3] for r in kabupaten))
    counted = db.session.execute(text("""
        SELECT a.activity_date, count(*), sum(a.reach_offline) FROM campaign_dissemination d
        JOIN activity a ON a.id = d.activity_id JOIN kim k ON k.id = a.kim_id
        WHERE d.campaign_id = :c AND a.status = 'published' AND a.pending_action IS NULL
          AND k.status IN ('verified', 'inactive') GROUP BY 1"""), {"c": campaign.id}).all()
    assert {(d.day, d.disseminations, d.people) for d in reach.daily(campaign) if d.disseminations} == {
        (day, n, int(people)) for day, n, people in counted}
    gaps = reach.gaps(campaign, shown=10_000)
    reached = {c[:width] for c in db.session.scalars(text("""
        SELECT a.desa_code FROM campaign_dissemination d JOIN activity a ON a.id = d.activity_id
        JOIN kim k ON k.id = a.kim_id WHERE d.campaign_id = :c AND a.status = 'published'
        AND a.pending_action IS NULL AND k.status IN ('verified', 'inactive')"""), {"c": campaign.id})
        for width in (5, 8)}
    target_kecamatan = {code for code, *_ in _direct_rows(campaign, "kecamatan", "76.02")}
    assert {g.code for g in gaps.kecamatan} == target_kecamatan - reached
    assert gaps.kecamatan_total == len(target_kecamatan - reached)
    assert ({g.code for g in gaps.kabupaten}, gaps.kabupaten_total) == ({"76.02"} - reached, len({"76.02"} - reached))


@pytest.mark.parametrize("bidang", [[], ["kesehatan"]])
def test_figures_equal_a_direct_count_after_random_operations(make_user, make_kim, bidang):
    """Links, unlinks, reports hidden, deleted, edited, moved, drafted and republished; KIMs
    registered, verified, suspended, made inactive, moved and given other bidang; the campaign's
    targets and bidang edited: after each step every level (reached and targeted) equals a direct
    count, and a rebuild from the raw tables gives the same totals."""
    pembina = make_user(role="pembina", scope="76.02")
    campaign = services.publish_campaign(pembina, services.create_campaign(pembina, _campaign_input(
        targets=["76.02.01", _desa("76.02.03", 1)[0], "76.02.04"], bidang=bidang)))
    pool = _desa("76.02.01", 6) + _desa("76.02.03", 2) + _desa("76.02.04", 4) + _desa("76.02.02", 2)
    target_sets = [["76.02.01", pool[6], "76.02.04"], ["76.02.01", "76.02.02"], ["76.02"], [pool[0], "76.02.04"]]
    kims = [make_kim(desa_code=pool[i % len(pool)], bidang=("kesehatan",) if i % 3 else ("literasi",))
            for i in range(9)]
    rng = random.Random(17)
    today = clock.today()
    activities = []
    views = [("provinsi", None), ("kabupaten", None), ("kecamatan", "76.02"), ("desa", "76.02.01"),
             ("desa", "76.02.04")]
    for step in range(120):
        op = rng.choice(["add", "add", "add", "hide", "publish", "delete", "unlink", "people", "move", "date",
                         "draft", "kim_status", "kim_move", "kim_bidang", "kim_new", "targets", "bidang"])
        # One query a step (not one per report): the reports still there, in the list's order.
        existing = set(db.session.scalars(select(Activity.id).where(Activity.id.in_(activities))))
        live = [a for a in activities if a in existing]
        if op == "kim_status":
            kim = rng.choice(kims)
            kim.status = rng.choice(["verified", "verified", "inactive", "submitted"])
        elif op == "kim_move":
            rng.choice(kims).desa_code = rng.choice(pool)
        elif op == "kim_bidang":
            rng.choice(kims).bidang = rng.choice([["kesehatan"], ["literasi"], ["literasi", "kesehatan"]])
        elif op == "kim_new":
            kims.append(make_kim(desa_code=rng.choice(pool), status=rng.choice(["verified", "submitted"]),
                                 bidang=rng.choice([("kesehatan",), ("literasi",)])))
        elif op == "targets":
            services.update_campaign(pembina, campaign, {"targets": rng.choice(target_sets)})
        elif op == "bidang":
            services.update_campaign(pembina, campaign, {"bidang": rng.choice([[], ["kesehatan"], ["literasi"]])})
        elif op == "add" or not live:
            activities.append(_log(rng.choice(kims), campaign, rng.choice(pool), rng.randint(0, 90),
                                   today - timedelta(days=rng.randint(0, 9)),
                                   status=rng.choice(["published", "published", "draft"])).id)
        else:
            activity = db.session.get(Activity, rng.choice(live))
            if op == "hide":
                activity.status = "hidden"
            elif op == "publish":
                activity.status, activity.pending_action = "published", None
            elif op == "delete":
                db.session.delete(activity)
            elif op == "unlink":
                link = db.session.get(Dissemination, activity.id)
                if link is not None:
                    db.session.delete(link)
            elif op == "people":
                activity.reach_offline = rng.randint(0, 200)
            elif op == "move":
                activity.desa_code = rng.choice(pool)
            elif op == "date":
                activity.activity_date = today - timedelta(days=rng.randint(0, 9))
            elif op == "draft":
                activity.status, activity.pending_action = "draft", "publish"
        db.session.flush()
        if step % 12 == 11:
            _check_exact(campaign, views)
    _check_exact(campaign, views)
    assert reach.totals(campaign).disseminations > 0

    def snapshot():
        return {table: sorted(map(tuple, db.session.execute(text(f"SELECT * FROM {table} {where}")).all()))
                for table, where in (("campaign_reach_item", ""), ("campaign_reach_day", "WHERE reports <> 0"),
                                     ("campaign_reach_kim", ""), ("campaign_target_total", ""))} | {
            "region": sorted(map(tuple, db.session.execute(text(
                "SELECT campaign_id, code, depth, reports, people, kims, desa FROM campaign_reach_region "
                "WHERE reports <> 0 OR kims <> 0 OR desa <> 0")).all()))}

    kept = snapshot()
    db.session.execute(text("SELECT campaign_reach_rebuild()"))
    db.session.execute(text("SELECT campaign_target_rebuild()"))
    assert snapshot() == kept


@pytest.fixture
def mamuju(make_user, make_kim):
    """A pembina of Kabupaten Mamuju, a published campaign for 76.02, a KIM in Binanga with a member."""
    pembina = make_user(name="Pembina Mamuju", role="pembina", scope="76.02")
    member = make_user(name="Relawan Binanga")
    kim = make_kim(name="KIM Binanga", desa_code=DESA_IN, members=[(member, "anggota")])
    campaign = services.publish_campaign(pembina, services.create_campaign(pembina, _campaign_input()))
    return {"pembina": pembina, "member": member, "kim": kim, "campaign": campaign}


def test_the_dashboard_shows_the_desa_reached_the_people_and_the_kecamatan_still_unreached(client, mamuju):
    m = mamuju
    campaign = m["campaign"]
    logged = client.post(f"/api/v1/kims/{m['kim'].id}/activities", headers=bearer(m["member"]), json={
        "title": "Sosialisasi CKG di masjid", "date": clock.today().isoformat(), "type": "diseminasi",
        "campaign_id": campaign.id, "channel": "tempat-ibadah", "reach_offline": 45})
    assert logged.status_code == 201, logged.get_json()

    login(client, m["pembina"])
    assert f"/kampanye/{campaign.id}/jangkauan" in client.get(f"/kampanye/{campaign.id}").get_data(as_text=True)
    page = client.get(f"/kampanye/{campaign.id}/jangkauan")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="total-people">45<' in html and 'id="total-desa">1 / ' in html and 'id="total-kims">1 / 1<' in html
    assert 'id="row-76.02.01"' in html  # the kecamatan of Binanga, with a drill-down link
    assert f"/kampanye/{campaign.id}/jangkauan?parent=76.02.01" in html
    gaps = html.split('id="gaps-kecamatan"')[1].split("</p>")[0]
    assert "76.02.02" in gaps and "76.02.01" not in gaps  # kecamatan still unreached, not Binanga's
    assert "Belum terjangkau" in html  # Indonesian
    assert "<svg" in html and "<polyline" in html and "L.circleMarker" in html

    desa = client.get(f"/kampanye/{campaign.id}/jangkauan?parent=76.02.01&urut=people&arah=turun")
    desa_html = desa.get_data(as_text=True)
    assert desa.status_code == 200 and f'id="row-{DESA_IN}"' in desa_html
    first_row = desa_html.split("<tbody>")[1].split("</tr>")[0]
    assert DESA_IN in first_row  # sorted by people, the reached desa first

    # Exports of the same table open in a spreadsheet and a GIS, with no personal data.
    csv_file = client.get(f"/kampanye/{campaign.id}/jangkauan/ekspor.csv?parent=76.02.01")
    assert csv_file.data.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(csv_file.data.decode("utf-8-sig"))))
    binanga = next(r for r in table if r["code"] == DESA_IN)
    assert binanga["people"] == "45" and binanga["disseminations"] == "1" and binanga["desa_reached"] == "1"
    assert m["member"].email not in csv_file.data.decode("utf-8-sig")
    xlsx = client.get(f"/kampanye/{campaign.id}/jangkauan/ekspor.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [c.value for c in sheet[3]][:3] == ["code", "name", "level"] and sheet["A4"].value.startswith("76.02.")
    geo = json.loads(client.get(f"/kampanye/{campaign.id}/jangkauan/ekspor.geojson?parent=76.02.01").data)
    feature = next(f for f in geo["features"] if f["id"] == DESA_IN)
    assert feature["properties"]["people"] == 45 and feature["geometry"]["type"] == "Point"
    lon, lat = feature["geometry"]["coordinates"]
    assert 118 < lon < 120 and -4 < lat < -1

    # The API answers the same figures.
    api = client.get(f"/api/v1/campaigns/{campaign.id}/reach?level=desa&parent=76.02.01", headers=bearer(m["pembina"]))
    body = api.get_json()
    assert api.status_code == 200 and body["totals"]["people"] == 45 and body["level"] == "desa"
    assert next(i for i in body["items"] if i["code"] == DESA_IN)["people"] == 45
    assert sum(d["people"] for d in body["daily"]) == 45
    assert body["gaps"]["kecamatan_total"] == 0  # below Kec. Mamuju there is no kecamatan left


@pytest.mark.parametrize("query, status, field", [
    ("level=kota", 400, "level"), ("parent=7602", 400, "parent"), ("parent=76.02&level=provinsi", 400, "level"),
    ("parent=76.01", 404, None), ("parent=73.71.01", 404, None), ("parent=76.02.99", 404, None),
    ("level=desa&parent=76", 400, "parent"),
])
def test_the_reach_api_refuses_bad_levels_and_parents(client, mamuju, query, status, field):
    response = client.get(f"/api/v1/campaigns/{mamuju['campaign'].id}/reach?{query}", headers=bearer(mamuju["pembina"]))
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["message"] and (field is None or field in error["fields"])
    login(client, mamuju["pembina"])
    assert client.get(f"/kampanye/{mamuju['campaign'].id}/jangkauan?{query}").status_code == status


def test_a_long_list_needs_a_parent(client, make_user):
    direktur = make_user(role="direktorat")
    campaign = services.create_campaign(direktur, _campaign_input(targets=["76", "73"]))
    ok = client.get(f"/api/v1/campaigns/{campaign.id}/reach?level=kabupaten", headers=bearer(direktur))
    assert ok.status_code == 200 and {i["code"][:2] for i in ok.get_json()["items"]} == {"76", "73"}
    refused = client.get(f"/api/v1/campaigns/{campaign.id}/reach?level=kecamatan", headers=bearer(direktur))
    assert refused.status_code == 400 and "parent" in refused.get_json()["error"]["fields"]


def test_members_and_other_pembina_do_not_see_the_reach_by_region(client, mamuju, make_user):
    campaign = mamuju["campaign"]
    outside = make_user(role="pembina", scope="76.01")
    for user, status in ((mamuju["member"], 403), (outside, 403)):
        assert client.get(f"/api/v1/campaigns/{campaign.id}/reach", headers=bearer(user)).status_code == status
    assert client.get(f"/api/v1/campaigns/{campaign.id}/reach").status_code == 401
    province = make_user(role="pembina", scope="76")
    assert client.get(f"/api/v1/campaigns/{campaign.id}/reach", headers=bearer(province)).status_code == 200


def test_the_national_view_puts_every_campaign_side_by_side_without_a_query_per_row(client, mamuju, make_user,
                                                                                    make_kim):
    from tests.conftest import counting

    direktur = make_user(role="direktorat")
    national = services.publish_campaign(direktur, services.create_campaign(direktur, _campaign_input(
        targets=["76", "73"], bidang=["kesehatan"], title="Nasional")))
    health = make_kim(desa_code=DESA_IN, bidang=("kesehatan",))
    _log(health, national, DESA_IN, 30, clock.today())
    _log(mamuju["kim"], mamuju["campaign"], DESA_IN, 12, clock.today())
    for n in range(5):
        services.create_campaign(direktur, _campaign_input(title=f"Draf {n}"))
    body = client.get("/api/v1/campaigns/reach?per_page=3", headers=bearer(direktur)).get_json()
    assert len(body["items"]) == 3 and body["next_cursor"]
    rest = client.get(f"/api/v1/campaigns/reach?per_page=10&cursor={body['next_cursor']}",
                      headers=bearer(direktur)).get_json()
    by_id = {i["id"]: i["reach"] for i in body["items"] + rest["items"]}
    assert by_id[national.id]["people"] == 30 and by_id[national.id]["kims_targeted"] == 1  # bidang kesehatan
    assert by_id[mamuju["campaign"].id]["people"] == 12 and by_id[mamuju["campaign"].id]["kims_reached"] == 1
    assert by_id[mamuju["campaign"].id]["kims_targeted"] == 2 and by_id[national.id]["desa_targeted"] > 3000

    login(client, direktur)
    page = client.get("/kampanye/nasional").get_data(as_text=True)
    assert f'id="campaign-{national.id}"' in page and "Nasional" in page
    with counting() as statements:
        reach.national_page(direktur, per_page=6)
    with counting() as more:
        reach.national_page(direktur, per_page=8)
    assert len(statements) == len(more)
    assert client.get("/api/v1/campaigns/reach", headers=bearer(mamuju["pembina"])).status_code == 403


def test_the_dashboard_fits_a_phone(client, mamuju):
    """No fixed widths wider than a 360 px screen: the table scrolls inside its own box."""
    login(client, mamuju["pembina"])
    html = client.get(f"/kampanye/{mamuju['campaign'].id}/jangkauan").get_data(as_text=True)
    assert '<div class="table-wrap">' in html and 'viewBox="0 0 720' in html
    assert 'width="720"' not in html


def test_a_bidang_recount_and_a_kim_change_of_another_province_do_not_deadlock(tmp_path):
    """Review finding: a bidang change recounted the campaign after deleting all its rows, before
    the province locks. A KIM change in 76 holding its province lock (shared) then waited on those
    rows while the recount waited on the lock: a deadlock (40P01, a 500 for one of them). Now each
    province is recounted under its own lock, in province order. Two connections of a second app,
    committed rows removed afterwards."""
    import threading
    import time

    from sqlalchemy import delete

    from kim_platform import create_app, permissions
    from kim_platform.audit.models import AuditEntry
    from kim_platform.campaigns.models import Campaign

    other_app = create_app({"TESTING": True, "UPLOAD_DIR": str(tmp_path / "uploads"),
                            "MAIL_OUTBOX": str(tmp_path / "mail")})
    lock = "SELECT pg_advisory_xact_lock_shared(hashtext('campaign_target_total'), hashtext('76'))"
    with other_app.app_context():
        campaign = services.create_campaign(permissions.SYSTEM, _campaign_input(targets=["73.71", "76.02"]))
        db.session.commit()
        campaign_id = campaign.id
    errors: list = []
    try:
        with other_app.app_context():
            kim_change = db.engine.connect()
            kim_change.begin()
            kim_change.execute(text(lock))  # a KIM change of 76 in flight holds its province shared

            def recount() -> None:
                with other_app.app_context():
                    try:
                        with db.engine.begin() as connection:
                            connection.execute(text("UPDATE campaign SET target_bidang = '{literasi}' WHERE id = :c"),
                                               {"c": campaign_id})
                    except Exception as error:  # noqa: BLE001 - the deadlock is what is tested
                        errors.append(error)

            thread = threading.Thread(target=recount)
            thread.start()
            waited = False
            for _ in range(200):  # until the recount waits on the province lock of 76
                waited = bool(kim_change.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")))
                if waited:
                    break
                time.sleep(0.05)
            assert waited
            try:  # ...and that KIM change now writes its province's rows, as the trigger does
                kim_change.execute(text("UPDATE campaign_target_total SET kims = kims "
                                        "WHERE campaign_id = :c AND code >= '76' AND code < '76/'"),
                                   {"c": campaign_id})
                kim_change.commit()
            except Exception as error:  # noqa: BLE001
                errors.append(error)
                kim_change.rollback()
            finally:
                kim_change.close()
            thread.join(timeout=60)
            assert not thread.is_alive() and errors == []
            kept = db.session.execute(text("SELECT code, kims, desa, reached FROM campaign_target_total "
                                           "WHERE campaign_id = :c ORDER BY code"), {"c": campaign_id}).all()
            assert {code[:2] for code, *_ in kept} == {"73", "76"}
    finally:
        with other_app.app_context():
            db.session.execute(delete(AuditEntry).where(AuditEntry.object_type == "campaign",
                                                        AuditEntry.object_id == str(campaign_id)))
            db.session.execute(delete(Campaign).where(Campaign.id == campaign_id))
            db.session.commit()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
