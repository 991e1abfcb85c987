"""Dissemination campaigns (issue 17, first half): create, publish, notices and the daily digest,
disseminations logged as reports through the one report parser, the public page and its reach."""
import gc
import io
import warnings
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from kim_platform import permissions
from kim_platform.activities.models import Activity
from kim_platform.audit.models import AuditEntry
from kim_platform.campaigns import services
from kim_platform.campaigns.models import Campaign, CampaignDigest, CampaignMaterial, CampaignNotice, Dissemination
from kim_platform.campaigns.queries import reach
from kim_platform.campaigns.services import CampaignError
from kim_platform.core import clock
from kim_platform.extensions import db
from tests.conftest import bearer, counting, csrf_token, login

pytestmark = pytest.mark.usefixtures("steady_demo_flag")


OTHER_KABUPATEN_DESA = "76.01.01.1006"  # Kab. Pasangkayu, Sulawesi Barat


def _input(**overrides) -> dict:
    today = clock.today()
    return {"title": "Cek Kesehatan Gratis", "key_message": "Datang ke puskesmas untuk CKG, gratis untuk semua.",
            "description": "Jadwal **CKG** di puskesmas.", "targets": ["76.02"], "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=30)).isoformat(), "links": ["https://www.kemkes.go.id/ckg"],
            "hashtags": ["#CKG", "SehatBersama"], **overrides}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _image() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def world(make_user, make_kim):
    """A pembina of Kabupaten Mamuju, a KIM there (admin, ketua, anggota) and a KIM in 76.01."""
    pembina = make_user(name="Pembina Mamuju", role="pembina", scope="76.02")
    admin, ketua, member = make_user(name="Admin Binanga"), make_user(name="Ketua Binanga"), make_user(name="Anggota")
    kim = make_kim(name="KIM Binanga", members=[(admin, "admin"), (ketua, "ketua"), (member, "anggota")])
    other_admin = make_user(name="Admin Pasangkayu")
    other = make_kim(name="KIM Pasangkayu", desa_code=OTHER_KABUPATEN_DESA, members=[(other_admin, "ketua")])
    return {"pembina": pembina, "admin": admin, "ketua": ketua, "member": member, "kim": kim,
            "other_admin": other_admin, "other": other}


def _report(campaign_id, **fields) -> dict:
    return {"title": "Sosialisasi CKG di masjid", "date": clock.today().isoformat(), "type": "diseminasi",
            "campaign_id": campaign_id, "channel": "tempat-ibadah", "reach_offline": 45, **fields}


def test_the_mamuju_story(client, world, outbox):
    """A pembina of Kabupaten Mamuju publishes a campaign for 76.02; a KIM there gets one mail and
    the notice, logs a dissemination; the reach counts it; a KIM in 76.01 sees nothing of it."""
    w = world
    response = client.post("/api/v1/campaigns", headers=bearer(w["pembina"]), json={**_input(), "action": "publish"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "published" and body["targets"] == ["76.02"] and body["hashtags"] == ["CKG", "SehatBersama"]
    campaign_id = body["id"]
    mails = outbox.messages()
    assert sorted(m["To"] for m in mails) == sorted([w["admin"].email, w["ketua"].email])  # not the anggota
    assert "Cek Kesehatan Gratis" in mails[0]["Subject"] and f"/kampanye/{campaign_id}" in mails[0].get_content()

    # The KIM's admin sees "Paket informasi untuk KIM Anda" on Akun saya and on the KIM profile.
    login(client, w["admin"])
    account = client.get("/akun").get_data(as_text=True)
    assert "Paket informasi untuk KIM Anda" in account and "Cek Kesehatan Gratis" in account
    profile = client.get(f"/kim/{w['kim'].public_ref}").get_data(as_text=True)
    assert "Paket informasi untuk KIM Anda" in profile and f"campaign_id={campaign_id}" in profile
    form = client.get(f"/kim/{w['kim'].public_ref}/lapor?campaign_id={campaign_id}&type=diseminasi")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and f'name="campaign_id" value="{campaign_id}"' in html
    assert 'value="diseminasi" selected' in html and 'name="channel"' in html
    client.post("/keluar", data={"csrf_token": csrf_token(client)})

    # A member logs a dissemination through the page (the one report parser).
    login(client, w["member"])
    page = client.post(f"/kim/{w['kim'].public_ref}/lapor", data={
        **_report(campaign_id), "action": "publish", "csrf_token": csrf_token(client),
        "photos": (io.BytesIO(_image()), "foto.png")}, content_type="multipart/form-data")
    assert page.status_code == 302, page.get_data(as_text=True)
    link = db.session.scalar(select(Dissemination))
    assert link.campaign_id == campaign_id and link.channel == "tempat-ibadah"
    assert link.activity.type == "diseminasi" and len(link.activity.photos) == 1

    # The KIM in 76.01 sees nothing of it: no notice, no mail, no panel, refused when it tries.
    client.post("/keluar", data={"csrf_token": csrf_token(client)})
    login(client, w["other_admin"])
    assert "Paket informasi untuk KIM Anda" not in client.get("/akun").get_data(as_text=True)
    assert "Paket informasi" not in client.get(f"/kim/{w['other'].public_ref}").get_data(as_text=True)
    assert w["other_admin"].email not in [m["To"] for m in outbox.messages()]
    refused = client.post(f"/api/v1/kims/{w['other'].id}/activities", headers=bearer(w["other_admin"]),
                          json=_report(campaign_id))
    assert refused.status_code == 422 and "campaign_id" in refused.get_json()["error"]["fields"]

    # The public page and the API show the reach, exact against a direct count.
    public = client.get(f"/kampanye/{campaign_id}").get_data(as_text=True)
    assert "Datang ke puskesmas" in public and 'id="reach-people">45<' in public and 'id="reach-desa">1<' in public
    api = client.get(f"/api/v1/campaigns/{campaign_id}").get_json()
    assert api["reach"] == {"kims": 1, "desa": 1, "people": 45, "reports": 1}
    listed = client.get(f"/api/v1/campaigns/{campaign_id}/disseminations").get_json()
    assert [i["channel"] for i in listed["items"]] == ["tempat-ibadah"] and listed["next_cursor"] is None


def test_a_dissemination_through_the_api_and_the_offline_outbox(client, world):
    """POST /api/v1/kims/<id>/activities with campaign_id and channel, with an Idempotency-Key:
    a replay answers the same report and links nothing twice."""
    w = world
    campaign = services.publish_campaign(w["pembina"], services.create_campaign(w["pembina"], _input()))
    headers = {**bearer(w["member"]), "Idempotency-Key": "offline-ckg-1"}
    first = client.post(f"/api/v1/kims/{w['kim'].id}/activities", headers=headers,
                        json=_report(campaign.id, channel="grup-whatsapp", links=["https://wa.me/p/123"]))
    assert first.status_code == 201, first.get_json()
    again = client.post(f"/api/v1/kims/{w['kim'].id}/activities", headers=headers,
                        json=_report(campaign.id, channel="grup-whatsapp", links=["https://wa.me/p/123"]))
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"] and _count(Dissemination) == 1
    assert reach(campaign).people == 45


@pytest.mark.parametrize("case", ["closed", "draft", "not targeted", "wrong bidang", "ended", "no channel",
                                  "bad channel", "other type", "unknown", "not started"])
def test_a_dissemination_is_refused_with_a_field_error_and_nothing_is_written(client, world, case, frozen_clock):
    w = world
    kim = w["kim"]
    raw = _input(bidang=["kesehatan"] if case == "wrong bidang" else [])
    if case == "not started":
        raw.update(start_date=(clock.today() + timedelta(days=3)).isoformat())
    campaign = services.create_campaign(w["pembina"], raw)
    if case != "draft":
        services.publish_campaign(w["pembina"], campaign)
    if case == "closed":
        services.close_campaign(w["pembina"], campaign)
    if case == "not targeted":
        kim = w["other"]
    report = _report(campaign.id)
    if case == "no channel":
        report.pop("channel")
    if case == "bad channel":
        report["channel"] = "televisi"
    if case == "other type":
        report["type"] = "diskusi"
    if case == "unknown":
        report["campaign_id"] = 987654321
    if case == "ended":
        db.session.flush()
        frozen_clock(clock.utcnow() + timedelta(days=40))
        report["date"] = clock.today().isoformat()
    author = w["member"] if kim is w["kim"] else w["other_admin"]
    before = _count(Activity), _count(Dissemination), _count(AuditEntry)
    response = client.post(f"/api/v1/kims/{kim.id}/activities", headers=bearer(author), json=report)
    assert response.status_code == 422, response.get_json()
    fields = response.get_json()["error"]["fields"]
    expected = {"no channel": "channel", "bad channel": "channel", "other type": "type"}.get(case, "campaign_id")
    assert expected in fields, fields
    if case in ("closed", "ended"):
        assert "ditutup" in fields["campaign_id"]
    if case == "not started":
        assert "dimulai" in fields["campaign_id"] and not campaign.is_open
    assert (_count(Activity), _count(Dissemination), _count(AuditEntry)) == before


def test_a_target_outside_the_scope_is_403_naming_the_code(client, world):
    before = _count(Campaign)
    response = client.post("/api/v1/campaigns", headers=bearer(world["pembina"]),
                           json=_input(targets=["76.02", "76.01"], key_message=""))
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert "76.01" in error["message"] and "76.01" in error["fields"]["targets"]
    assert _count(Campaign) == before
    # The page says the same, on the form.
    login(client, world["pembina"])
    page = client.post("/kampanye/baru", data={**_input(targets="76.01.01"), "csrf_token": csrf_token(client)})
    assert page.status_code == 403 and "76.01.01" in page.get_data(as_text=True)
    assert _count(Campaign) == before


@pytest.mark.parametrize("field, value, message", [
    ("end_date", "the day before the start", "tanggal mulai"),
    ("key_message", "   ", "wajib"),
    ("targets", [f"76.02.0{i % 9 + 1}" for i in range(50)], "40"),
    ("targets", [], "wilayah"),
    ("links", ["javascript:alert(1)"], "http"),
    ("start_date", "kemarin", "TTTT-BB-HH"),
    ("hashtags", ["bukan tagar!"], "tagar"),
])
def test_bad_input_is_422_with_a_clear_field_error(client, world, field, value, message):
    if value == "the day before the start":  # the start is today, from the code's clock (_input)
        value = (clock.today() - timedelta(days=1)).isoformat()
    before = _count(Campaign), _count(AuditEntry)
    response = client.post("/api/v1/campaigns", headers=bearer(world["pembina"]), json=_input(**{field: value}))
    assert response.status_code == 422, response.get_json()
    fields = response.get_json()["error"]["fields"]
    assert field in fields and message.lower() in fields[field].lower(), fields
    assert (_count(Campaign), _count(AuditEntry)) == before


def test_the_page_and_the_api_refuse_alike(client, world):
    """One parser: the same bad input gives the same field errors on the page and in the API."""
    bad = _input(key_message="", end_date=(clock.today() - timedelta(days=1)).isoformat(), targets="76.02")
    api = client.post("/api/v1/campaigns", headers=bearer(world["pembina"]), json=bad).get_json()["error"]["fields"]
    login(client, world["pembina"])
    page = client.post("/kampanye/baru", data={**bad, "links": "https://www.kemkes.go.id/ckg", "hashtags": "CKG",
                                                "csrf_token": csrf_token(client)})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and set(api) == {"key_message", "end_date"}
    assert all(message in html for message in api.values())


def test_materials_images_reencoded_pdfs_checked_by_their_bytes(client, world):
    w = world
    campaign = services.create_campaign(w["pembina"], _input())
    headers = bearer(w["pembina"])
    url = f"/api/v1/campaigns/{campaign.id}/materials"
    image = client.post(url, headers=headers, data={"file": (io.BytesIO(_image()), "poster.png"), "title": "Poster"},
                        content_type="multipart/form-data")
    assert image.status_code == 201 and image.get_json()["kind"] == "image" and image.get_json()["thumb_url"]
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    ok = client.post(url, headers=headers, data={"file": (io.BytesIO(pdf), "jadwal.pdf")},
                     content_type="multipart/form-data")
    assert ok.status_code == 201 and ok.get_json()["kind"] == "pdf"
    assert client.get(ok.get_json()["url"], headers=headers).data == pdf
    for fake in (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                 b"<!doctype html><html><script>alert(1)</script></html>"):
        refused = client.post(url, headers=headers, data={"file": (io.BytesIO(fake), "jadwal.pdf")},
                              content_type="multipart/form-data")
        assert refused.status_code == 422 and "file" in refused.get_json()["error"]["fields"]
    big = b"%PDF-1.4\n" + b"0" * (services.PDF_MAX_BYTES + 1) + b"\n%%EOF\n"
    status, body = _spooled_post(client, url, headers, big)
    assert status == 413 and "file" in body["error"]["fields"]
    assert _count(CampaignMaterial) == 2


def _spooled_post(client, url, headers, data):
    with warnings.catch_warnings():  # the test client spools the body to a file it never closes
        warnings.simplefilter("ignore", ResourceWarning)
        answer = client.post(url, headers=headers, data={"file": (io.BytesIO(data), "besar.pdf")},
                             content_type="multipart/form-data")
        status, body = answer.status_code, answer.get_json()
        del answer
        gc.collect()
    return status, body


def test_a_100_mb_pdf_is_413(client, world):
    campaign = services.create_campaign(world["pembina"], _input())
    big = b"%PDF-1.4\n" + b"0" * (100 * 1024 * 1024) + b"\n%%EOF\n"
    status, body = _spooled_post(client, f"/api/v1/campaigns/{campaign.id}/materials", bearer(world["pembina"]), big)
    assert status == 413 and "error" in body
    assert _count(CampaignMaterial) == 0


def test_the_digest_is_one_mail_per_person_per_day(client, runner, world, outbox, frozen_clock):
    """Two campaigns published the same day: the admins get one mail (at the first); the second
    waits for the next day's digest, which tells it once however often the job runs."""
    w = world
    frozen_clock(clock.utcnow())
    first = services.publish_campaign(w["pembina"], services.create_campaign(w["pembina"], _input()))
    assert len(outbox.messages()) == 2  # outside a request the mail goes at once (admin + ketua)
    services.publish_campaign(w["pembina"], services.create_campaign(w["pembina"], _input(title="Sekolah Rakyat")))
    assert len(outbox.messages()) == 2 and _count(CampaignNotice) == 4
    db.session.commit()
    assert runner.invoke(args=["campaigns", "send-digests"]).output.strip() == "campaign digests: 0 sent"
    frozen_clock(clock.utcnow() + timedelta(days=1))
    result = runner.invoke(args=["campaigns", "send-digests"])
    assert result.exit_code == 0 and "2 sent" in result.output
    again = runner.invoke(args=["campaigns", "send-digests"])
    assert "0 sent" in again.output
    mails = outbox.messages()
    assert len(mails) == 4 and sorted(m["To"] for m in mails[2:]) == sorted([w["admin"].email, w["ketua"].email])
    assert "Sekolah Rakyat" in mails[2]["Subject"] and first.title not in mails[2].get_content()
    assert _count(CampaignDigest) == 4


def test_a_campaign_closes_after_its_end_date_on_every_read_and_by_the_daily_job(client, runner, world,
                                                                                  frozen_clock):
    w = world
    frozen_clock(clock.utcnow())
    campaign = services.publish_campaign(w["pembina"], services.create_campaign(w["pembina"], _input()))
    db.session.commit()
    frozen_clock(clock.utcnow() + timedelta(days=31))
    assert client.get(f"/api/v1/campaigns/{campaign.id}").get_json()["status"] == "closed"
    assert campaign.id not in [c["id"] for c in client.get("/api/v1/campaigns?active=true").get_json()["items"]]
    assert campaign.id in [c["id"] for c in client.get("/api/v1/campaigns?active=false").get_json()["items"]]
    assert "2 sent" not in runner.invoke(args=["campaigns", "close-ended"]).output
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "closed"
    assert "closed: 0" in runner.invoke(args=["campaigns", "close-ended"]).output
    assert client.patch(f"/api/v1/campaigns/{campaign.id}", headers=bearer(w["pembina"]),
                        json={"title": "Baru"}).status_code == 409


def test_list_filters_and_cursor_pages(client, world, make_user):
    w = world
    direktur = make_user(role="direktorat")
    national = services.publish_campaign(direktur, services.create_campaign(direktur, _input(
        targets=["76", "73"], bidang=["kesehatan"], title="Nasional")))
    mamuju = services.publish_campaign(w["pembina"], services.create_campaign(w["pembina"], _input()))
    draft = services.create_campaign(w["pembina"], _input(title="Draf"))

    def ids(query, headers=None):
        return [c["id"] for c in client.get(f"/api/v1/campaigns{query}", headers=headers or {}).get_json()["items"]]

    assert ids("") == [mamuju.id, national.id]  # the draft is not public
    assert draft.id in ids("", bearer(w["pembina"]))
    assert ids("?region=76.01") == [national.id]  # the national one contains 76.01
    assert ids("?region=76.02.01") == [mamuju.id, national.id]
    assert ids("?region=73.71") == [national.id]
    assert ids("?bidang=literasi") == [mamuju.id]
    first = client.get("/api/v1/campaigns?per_page=1").get_json()
    assert [c["id"] for c in first["items"]] == [mamuju.id] and "total" not in first
    second = client.get(f"/api/v1/campaigns?per_page=1&cursor={first['next_cursor']}").get_json()
    assert [c["id"] for c in second["items"]] == [national.id] and second["next_cursor"] is None
    page = client.get("/kampanye?wilayah=76.01").get_data(as_text=True)
    assert "Nasional" in page and "Cek Kesehatan Gratis" not in page
    assert client.get("/api/v1/campaigns?region=abc").status_code == 400


def test_reach_is_exact_against_a_direct_count(client, world, make_kim, make_user):
    """Hidden reports and reports of other campaigns do not count; desa and KIMs counted once."""
    w = world
    campaign = services.publish_campaign(w["pembina"], services.create_campaign(w["pembina"], _input()))
    other = services.publish_campaign(w["pembina"], services.create_campaign(w["pembina"], _input(title="Lain")))
    second_member = make_user()
    second = make_kim(desa_code="76.02.01.1012", members=[(second_member, "anggota")])
    from kim_platform.activities.services import create_activity, hide_activity

    create_activity(w["member"], w["kim"], _report(campaign.id, reach_offline=10))
    create_activity(w["admin"], w["kim"], _report(campaign.id, reach_offline=20))
    create_activity(second_member, second, _report(campaign.id, reach_offline=7))
    hidden = create_activity(second_member, second, _report(campaign.id, reach_offline=1000, desa_code="76.02.01.1003"))
    hide_activity(w["pembina"], hidden, "Foto memuat data pribadi.")
    create_activity(w["member"], w["kim"], _report(other.id, reach_offline=500))
    found = reach(campaign)
    direct = db.session.execute(select(
        func.count(func.distinct(Activity.kim_id)), func.count(func.distinct(Activity.desa_code)),
        func.sum(Activity.reach_offline)).join(Dissemination, Dissemination.activity_id == Activity.id).where(
        Dissemination.campaign_id == campaign.id, Activity.status == "published")).one()
    assert (found.kims, found.desa, found.people) == tuple(direct) == (2, 2, 37)


def test_every_change_is_audited(world):
    w = world
    campaign = services.create_campaign(w["pembina"], _input())
    services.update_campaign(w["pembina"], campaign, {"title": "CKG Sekolah"})
    services.publish_campaign(w["pembina"], campaign)
    services.add_material(w["pembina"], campaign, _image(), "poster.png")
    services.close_campaign(w["pembina"], campaign)
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "campaign",
                                                                      AuditEntry.object_id == str(campaign.id))
                                      .order_by(AuditEntry.id)))
    assert actions == ["campaign.create", "campaign.update", "campaign.publish", "campaign.material_add",
                       "campaign.close"]


def test_the_pembina_above_manages_and_a_neighbour_does_not(world, make_user):
    campaign = services.create_campaign(world["pembina"], _input())
    province = make_user(role="pembina", scope="76")
    neighbour = make_user(role="pembina", scope="76.01")
    services.update_campaign(province, campaign, {"title": "Diubah provinsi"})
    with pytest.raises(CampaignError) as refused:
        services.update_campaign(neighbour, campaign, {"title": "X"})
    assert refused.value.status == 404  # a draft of another region is not revealed
    services.publish_campaign(province, campaign)
    with pytest.raises(CampaignError) as refused:
        services.close_campaign(neighbour, campaign)
    assert refused.value.status == 403
    assert permissions.campaign_visible(None, campaign)


def test_listed_exactly_when_visible(world, make_user):
    """The visibility rule's two forms agree for every status and role."""
    from kim_platform.campaigns.queries import campaign_list_query

    w = world
    viewers = [None, w["member"], w["pembina"], make_user(role="pembina", scope="76"),
               make_user(role="pembina", scope="76.01"), make_user(role="direktorat")]
    made = []
    for status in ("draft", "published", "closed"):
        campaign = services.create_campaign(w["pembina"], _input(title=f"Kampanye {status}"))
        if status != "draft":
            services.publish_campaign(w["pembina"], campaign)
        if status == "closed":
            services.close_campaign(w["pembina"], campaign)
        made.append(campaign)
    for viewer in viewers:
        listed = set(db.session.scalars(campaign_list_query(viewer).with_only_columns(Campaign.id)))
        assert listed == {c.id for c in made if permissions.campaign_visible(viewer, c)}


def test_campaign_lists_and_pages_do_not_grow_with_their_rows(client, world, make_user):
    """Statement counts stay flat: campaigns with targets and materials, disseminations of a campaign,
    the account page's panel (tests/test_statement_counts.py's method, campaigns' own world)."""
    from kim_platform.activities.services import create_activity
    from tests.test_statement_counts import counting

    w = world
    direktur = make_user(role="direktorat")
    made: list = []

    def grow(n):
        while len(made) < n:
            campaign = services.create_campaign(direktur, _input(title=f"Kampanye {len(made):02d}",
                                                                 targets=["76.02", "76.01", "73"]))
            services.add_material(direktur, campaign, _image(), "poster.png")
            services.publish_campaign(direktur, campaign)
            create_activity(w["member"], w["kim"], _report(made[0].id if made else campaign.id))
            made.append(campaign)
        db.session.flush()

    def count(url, headers=None):
        with counting() as seen:
            response = client.get(url, headers=headers or {})
        assert response.status_code == 200, url
        return len(seen), response.get_data()

    urls = ["/api/v1/campaigns?per_page=100", "/kampanye", "/akun"]
    login(client, w["member"])
    grow(2)
    urls += [f"/kampanye/{made[0].id}", f"/api/v1/campaigns/{made[0].id}/disseminations?per_page=100"]
    for url in urls:
        count(url)
    few = {url: count(url) for url in urls}
    grow(12)
    for url in urls:
        many = count(url)
        assert many[1] != few[url][1], f"{url}: the answer does not show the added rows"
        assert many[0] == few[url][0], f"{url}: {few[url][0]} statements, then {many[0]}"


DISSEMINATIONS = {
    "valid": ({}, None),
    "no channel": ({"channel": ""}, {"channel"}),
    "bad channel and no title": ({"channel": "televisi", "title": ""}, {"channel", "title"}),
    "closed campaign": ({"closed": True}, {"campaign_id"}),
}


@pytest.mark.parametrize("case", list(DISSEMINATIONS))
def test_a_dissemination_is_parsed_alike_by_the_page_and_the_api(app, world, case):
    """The report parser reads campaign_id and channel the same from form fields, JSON and multipart."""
    from tests.test_report_input_parity import TRANSPORTS, Sender

    w = world
    changes, expected = DISSEMINATIONS[case]
    changes = dict(changes)
    results = {}
    for transport in TRANSPORTS:
        campaign = services.publish_campaign(w["pembina"], services.create_campaign(w["pembina"], _input()))
        if changes.pop("closed", False) or case == "closed campaign":
            services.close_campaign(w["pembina"], campaign)
        db.session.flush()
        data = {k: str(v) for k, v in {**_report(campaign.id), **changes}.items()}
        outcome, value = Sender(app, w["member"], transport).create(w["kim"], data)
        if outcome == "ok":
            link = db.session.get(Dissemination, value)
            results[transport] = (link.campaign_id == campaign.id, link.channel, link.activity.reach_offline)
        else:
            results[transport] = ("error", value)
    assert results["page"] == results["json"] == results["multipart"], results
    assert results["page"] == ((True, "tempat-ibadah", 45) if expected is None else ("error", expected))


def test_targets_moved_beyond_the_owner_region_take_the_campaign_from_the_pembina_below(world, make_user):
    """A province pembina retargets a kabupaten's draft to a neighbouring kabupaten: the kabupaten
    pembina may no longer rewrite or publish what now reaches KIMs outside their region."""
    campaign = services.create_campaign(world["pembina"], _input())
    province = make_user(role="pembina", scope="76")
    services.update_campaign(province, campaign, {"targets": ["76.01"]})
    assert campaign.owner_scope == "76"
    with pytest.raises(CampaignError):
        services.update_campaign(world["pembina"], campaign, {"key_message": "Pesan lain"})
    with pytest.raises(CampaignError):
        services.publish_campaign(world["pembina"], campaign)
    services.publish_campaign(province, campaign)
    # Within the owner region nothing moves: the kabupaten pembina keeps their own campaign.
    own = services.create_campaign(world["pembina"], _input(targets=["76.02"]))
    services.update_campaign(world["pembina"], own, {"targets": ["76.02.01"]})
    assert own.owner_scope == world["pembina"].pembina_scope == "76.02"
    services.update_campaign(world["pembina"], own, {"title": "Masih milik kabupaten"})


def test_publishing_costs_the_same_statements_for_few_and_many_recipients(world, make_user, make_kim, outbox):
    """Notices and the day's digest claim are set-based: a provincial campaign must not run two
    statements per KIM admin inside the request that publishes it."""
    def statements_to_publish(extra_kims: int) -> int:
        for n in range(extra_kims):
            make_kim(name=f"KIM Tambahan {extra_kims}-{n}", members=[(make_user(name=f"Ketua {extra_kims}-{n}"), "ketua")])
        campaign = services.create_campaign(world["pembina"], _input(title=f"Kampanye {extra_kims}"))
        db.session.flush()
        with counting() as seen:
            services.publish_campaign(world["pembina"], campaign)
            db.session.flush()
        return len(seen)

    few = statements_to_publish(1)
    many = statements_to_publish(6)
    assert many == few, (few, many)
    assert len(outbox.messages()) >= 2 + 6


def test_the_directorate_can_target_every_province_at_once(make_user):
    """A national campaign names all 38 provinces; the limit (40) still refuses a list nobody checks."""
    from kim_platform.regions.models import Region

    direktorat = make_user(role="direktorat")
    kecamatan = db.session.scalars(select(Region.code).where(func.length(Region.code) == 8)
                                   .order_by(Region.code).limit(41)).all()
    assert len(kecamatan) == 41
    campaign = services.create_campaign(direktorat, _input(targets=kecamatan[:40]))
    assert len(campaign.target_codes) == 40
    with pytest.raises(CampaignError) as refused:
        services.create_campaign(direktorat, _input(targets=kecamatan))
    assert "40" in str(refused.value.fields["targets"])
