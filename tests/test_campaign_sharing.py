"""Campaign share links (issue 17, second half): one short /p/<code> link per campaign and KIM,
its counted visits (no resident's data kept past the day), the A4 poster with its QR code, the
reach queries of the links' visits, and the lock that keeps materials within their limit."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from kim_platform.campaigns import queries, services, sharing
from kim_platform.campaigns.models import (
    SHARE_CODE_ALPHABET,
    CampaignMaterial,
    CampaignShareLink,
    CampaignShareVisit,
)
from kim_platform.campaigns.services import CampaignError
from kim_platform.core import clock
from kim_platform.core.auth import limiter
from kim_platform.extensions import db
from tests.conftest import bearer, counting, csrf_token, login

pytestmark = pytest.mark.usefixtures("steady_demo_flag")


OTHER_KABUPATEN_DESA = "76.01.01.1006"  # Kab. Pasangkayu, Sulawesi Barat
OTHER_KECAMATAN_DESA = "76.02.02.1001"
BROWSER = "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36"
CODE_RE = re.compile(rf"^[{SHARE_CODE_ALPHABET}]{{8}}$")


def _input(**overrides) -> dict:
    today = clock.today()
    return {"title": "Cek Kesehatan Gratis", "key_message": "Datang ke puskesmas untuk CKG, gratis untuk semua.",
            "targets": ["76.02"], "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=30)).isoformat(), **overrides}


@pytest.fixture
def world(make_user, make_kim):
    """A pembina of Mamuju with a published campaign for 76.02, a KIM there (admin, anggota), a
    member of no KIM, and a KIM in 76.01 that the campaign does not target."""
    pembina = make_user(name="Pembina Mamuju", role="pembina", scope="76.02")
    admin, member, outsider = make_user(name="Admin Binanga"), make_user(name="Anggota"), make_user(name="Warga")
    kim = make_kim(name="KIM Binanga", members=[(admin, "admin"), (member, "anggota")])
    other_admin = make_user(name="Admin Pasangkayu")
    other = make_kim(name="KIM Pasangkayu", desa_code=OTHER_KABUPATEN_DESA, members=[(other_admin, "ketua")])
    campaign = services.publish_campaign(pembina, services.create_campaign(pembina, _input()))
    db.session.flush()
    return {"pembina": pembina, "admin": admin, "member": member, "outsider": outsider, "kim": kim,
            "other_admin": other_admin, "other": other, "campaign": campaign}


def _link(w, kim=None, user=None) -> CampaignShareLink:
    return services.create_share_link(user or w["member"], w["campaign"], kim or w["kim"])[0]


def _counters(link_id: int) -> tuple[int, int]:
    db.session.expire_all()
    link = db.session.get(CampaignShareLink, link_id)
    return link.visits, link.visitors


def _visit(client, code, agent=BROWSER, address="10.1.2.3", method="GET"):
    return client.open(f"/p/{code}", method=method, headers={"User-Agent": agent},
                       environ_base={"REMOTE_ADDR": address})


def test_a_member_gets_the_kims_one_link_with_whatsapp_text(app, client, world):
    """POST makes it (201), every later call and every member of the KIM get the same code (200);
    the link is absolute from the configured base URL, the text is the key message and the link."""
    w = world
    url = f"/api/v1/campaigns/{w['campaign'].id}/share-links?kim={w['kim'].id}"
    first = client.post(url, headers=bearer(w["member"]))
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert CODE_RE.match(body["code"])
    assert body["url"] == f"{app.config['BASE_URL']}/p/{body['code']}"
    assert body["whatsapp_text"] == f"{w['campaign'].key_message}\n\n{body['url']}"
    assert body["kim_id"] == w["kim"].id and body["visits"] == 0 and body["visitors"] == 0
    assert body["poster_url"] == f"/kampanye/{w['campaign'].id}/poster?kim={w['kim'].id}"
    again = client.post(url, headers=bearer(w["member"]))
    by_admin = client.post(url, headers=bearer(w["admin"]))
    assert again.status_code == by_admin.status_code == 200
    assert again.get_json()["code"] == by_admin.get_json()["code"] == body["code"]
    assert db.session.scalar(select(func.count()).select_from(CampaignShareLink)) == 1

    # The campaign page shows it to the KIM's members, with the WhatsApp text and the poster.
    login(client, w["admin"])
    page = client.get(f"/kampanye/{w['campaign'].id}").get_data(as_text=True)
    assert body["url"] in page and "Teks untuk WhatsApp" in page and "https://wa.me/?text=" in page
    assert f"/kampanye/{w['campaign'].id}/poster?kim={w['kim'].id}" in page


def test_the_first_view_of_the_page_makes_the_link_and_keeps_it(client, world):
    """A member who only opens the campaign page gets the link made and committed then."""
    w = world
    login(client, w["member"])
    first = client.get(f"/kampanye/{w['campaign'].id}").get_data(as_text=True)
    link = queries.share_link(w["campaign"].id, w["kim"].id)
    assert link is not None and sharing.share_url(link) in first
    assert sharing.share_url(link) in client.get(f"/kampanye/{w['campaign'].id}").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CampaignShareLink)) == 1
    # Nobody else sees a share section: neither the public nor a KIM that is not targeted.
    client.post("/keluar", data={"csrf_token": csrf_token(client)})
    assert "Tautan bagikan" not in client.get(f"/kampanye/{w['campaign'].id}").get_data(as_text=True)
    login(client, w["other_admin"])
    assert "Tautan bagikan" not in client.get(f"/kampanye/{w['campaign'].id}").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CampaignShareLink)) == 1


def test_a_visit_redirects_and_counts_once_per_visitor_per_day(client, world):
    w = world
    link = _link(w)
    first = _visit(client, link.code)
    assert first.status_code == 302 and first.headers["Location"] == f"/kampanye/{w['campaign'].id}"
    assert first.headers["Cache-Control"] == "no-store"
    assert _counters(link.id) == (1, 1)
    _visit(client, link.code)  # the same person again today: a visit, not a new visitor
    assert _counters(link.id) == (2, 1)
    _visit(client, link.code, address="10.9.9.9")  # someone else
    _visit(client, link.code, agent=BROWSER.replace("SM-A145F", "Redmi Note 12"))  # another phone, same address
    assert _counters(link.id) == (4, 3)
    assert _visit(client, link.code.upper()).status_code == 302  # typed from a poster in capitals
    assert _counters(link.id) == (5, 3)


@pytest.mark.parametrize("agent", ["WhatsApp/2.23.20.0 A", "facebookexternalhit/1.1 (+http://www.facebook.com/"
                                   "externalhit_uatext.php)", "Twitterbot/1.0", "TelegramBot (like TwitterBot)"])
def test_link_previews_and_head_requests_redirect_but_are_not_counted(client, world, agent):
    w = world
    link = _link(w)
    assert _visit(client, link.code, agent=agent).status_code == 302
    assert _visit(client, link.code, method="HEAD").status_code == 302
    assert _counters(link.id) == (0, 0)
    assert db.session.scalar(select(func.count()).select_from(CampaignShareVisit)) == 0


def test_no_personal_data_is_kept_and_past_days_hashes_are_deleted(client, runner, world, frozen_clock):
    """Only a 16-byte keyed hash per visitor per day is stored, never the address or the browser;
    the next day the same person counts again, and the hashes of past days are gone (at the
    link's next visit and by `flask campaigns sweep-visits`)."""
    w = world
    day_one = datetime.combine(clock.today(), datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=3)
    frozen_clock(day_one)
    link = _link(w)
    _visit(client, link.code)
    stored = db.session.execute(select(CampaignShareVisit)).scalars().all()
    assert [(v.link_id, v.day) for v in stored] == [(link.id, clock.today())]
    assert len(stored[0].visitor) == 16 and b"10.1.2.3" not in stored[0].visitor
    assert set(CampaignShareVisit.__table__.columns.keys()) == {"link_id", "day", "visitor"}

    frozen_clock(day_one + timedelta(days=1))
    _visit(client, link.code)  # tomorrow the same person is a visitor again
    assert _counters(link.id) == (2, 2)
    assert [v.day for v in db.session.scalars(select(CampaignShareVisit))] == [clock.today()]

    # A hash of yesterday left on a link nobody visited today goes with the daily sweep.
    db.session.execute(insert(CampaignShareVisit).values(link_id=link.id, day=clock.today() - timedelta(days=1),
                                                         visitor=b"x" * 16))
    db.session.commit()
    result = runner.invoke(args=["campaigns", "sweep-visits"])
    assert result.exit_code == 0 and "deleted: 1" in result.output
    assert [v.day for v in db.session.scalars(select(CampaignShareVisit))] == [clock.today()]
    assert "deleted: 0" in runner.invoke(args=["campaigns", "sweep-visits"]).output
    assert _counters(link.id) == (2, 2)  # the counters stay


def _without_nonces(html: str) -> str:
    """The page without what differs per request: CSP nonces and the language switch's way back."""
    return re.sub(r'next=[^"]*"', "", re.sub(r'nonce="[^"]*"', "", html))


def test_unknown_codes_and_drafts_are_the_ordinary_404(client, world):
    """/p/<unknown>, /p/<a draft's link> and a malformed code answer the same page as any other 404."""
    w = world
    draft = services.create_campaign(w["pembina"], _input(title="Draf"))
    draft_link = CampaignShareLink(campaign_id=draft.id, kim_id=w["kim"].id, code="drftdrft")
    db.session.add(draft_link)
    db.session.flush()
    ordinary = client.get("/halaman-yang-tidak-ada")
    assert ordinary.status_code == 404
    for path in ("/p/zzzzzzzz", f"/p/{draft_link.code}", "/p/0OIl1", "/p/" + "a" * 200):
        response = client.get(path, headers={"User-Agent": BROWSER})
        assert response.status_code == 404, path
        assert _without_nonces(response.get_data(as_text=True)) == _without_nonces(ordinary.get_data(as_text=True))
    assert _counters(draft_link.id) == (0, 0)


def test_a_closed_campaign_still_leads_and_counts_but_makes_no_new_links(client, world, make_kim):
    w = world
    link = _link(w)
    services.close_campaign(w["pembina"], w["campaign"])
    db.session.flush()
    assert _visit(client, link.code).status_code == 302 and _counters(link.id) == (1, 1)
    # The KIM that has its link still gets it; another KIM gets none now.
    assert client.post(f"/api/v1/campaigns/{w['campaign'].id}/share-links?kim={w['kim'].id}",
                       headers=bearer(w["member"])).status_code == 200
    ketua = w["outsider"]
    kim2 = make_kim(name="KIM Kedua", members=[(ketua, "ketua")])  # targeted too, without a link yet
    refused = client.post(f"/api/v1/campaigns/{w['campaign'].id}/share-links?kim={kim2.id}", headers=bearer(ketua))
    assert refused.status_code == 409
    assert "ditutup" in refused.get_json()["error"]["message"]
    assert queries.share_link(w["campaign"].id, kim2.id) is None
    # Its poster falls back to the campaign's public page.
    login(client, ketua)
    poster = client.get(f"/kampanye/{w['campaign'].id}/poster?kim={kim2.id}")
    assert poster.status_code == 200 and f"/kampanye/{w['campaign'].id}" in poster.get_data(as_text=True)


@pytest.mark.parametrize("case", ["not targeted", "not a member", "unknown kim", "unknown campaign", "no kim",
                                  "bad kim", "anonymous", "draft"])
def test_share_link_refusals(client, world, case):
    w = world
    campaign_id, kim_id, user = w["campaign"].id, w["kim"].id, w["member"]
    expected = {"not targeted": 403, "not a member": 403, "unknown kim": 404, "unknown campaign": 404, "no kim": 400,
                "bad kim": 400, "anonymous": 401, "draft": 404}[case]
    if case == "not targeted":
        kim_id, user = w["other"].id, w["other_admin"]
    elif case == "not a member":
        user = w["outsider"]
    elif case == "unknown kim":
        kim_id = 999_999_999
    elif case == "unknown campaign":
        campaign_id = 999_999_999
    elif case == "draft":
        campaign_id = services.create_campaign(w["pembina"], _input()).id
    query = {"no kim": "", "bad kim": "?kim=satu"}.get(case, f"?kim={kim_id}")
    headers = {} if case == "anonymous" else bearer(user)
    response = client.post(f"/api/v1/campaigns/{campaign_id}/share-links{query}", headers=headers)
    assert response.status_code == expected, response.get_json()
    error = response.get_json()["error"]
    assert error["message"]
    if case == "not targeted":
        assert "KIM Pasangkayu" in error["message"] and "wilayah atau bidang lain" in error["message"]
    if case == "not a member":
        assert "Hanya anggota KIM Binanga" in error["message"]
    if case in ("no kim", "bad kim"):
        assert "kim" in error["fields"]
    assert db.session.scalar(select(func.count()).select_from(CampaignShareLink)) == 0


def test_managers_list_the_links_with_their_visits_by_keyset_pages(client, world, make_kim, make_user):
    w = world
    links = [_link(w)]
    for n in range(2):
        ketua = make_user(name=f"Ketua {n}")
        kim = make_kim(name=f"KIM Lain {n}", members=[(ketua, "ketua")])
        links.append(_link(w, kim=kim, user=ketua))
    _visit(client, links[0].code)
    _visit(client, links[0].code, address="10.7.7.7")
    url = f"/api/v1/campaigns/{w['campaign'].id}/share-links"
    headers = bearer(w["pembina"])
    first = client.get(f"{url}?per_page=2", headers=headers).get_json()
    assert [i["id"] for i in first["items"]] == [links[2].id, links[1].id] and first["next_cursor"] == links[1].id
    rest = client.get(f"{url}?per_page=2&cursor={first['next_cursor']}", headers=headers).get_json()
    assert [i["id"] for i in rest["items"]] == [links[0].id] and rest["next_cursor"] is None
    assert (rest["items"][0]["visits"], rest["items"][0]["visitors"]) == (2, 2)
    only = client.get(f"{url}?kim={w['kim'].id}", headers=headers).get_json()
    assert [i["kim_name"] for i in only["items"]] == ["KIM Binanga"]
    assert client.get(url, headers=bearer(w["member"])).status_code == 403
    assert client.get(f"{url}?per_page=0", headers=headers).status_code == 400


def test_the_kims_poster_has_the_message_the_kim_and_the_qr_of_its_link(client, world):
    w = world
    login(client, w["member"])
    response = client.get(f"/kampanye/{w['campaign'].id}/poster?kim={w['kim'].id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    link = queries.share_link(w["campaign"].id, w["kim"].id)  # made by the poster's first print
    url = sharing.share_url(link)
    assert str(sharing.qr_svg(url)) in html and "<svg" in html
    assert f'id="poster-url">{url.split("://")[1]}<' in html
    assert w["campaign"].key_message in html and w["campaign"].title in html
    assert "KIM Binanga" in html and "Binanga" in html.split("Dibagikan oleh", 1)[1]
    assert "main-nav" not in html and "css/poster." in html
    assert "http" not in re.sub(r'(href|src)="[^"]*"', "", html).replace(url, "").replace(
        "http://www.w3.org", "")  # no outside request: the QR is inline, nothing else is fetched
    css = client.get("/static/css/poster.css").get_data(as_text=True)
    assert "size: A4" in css and "@media print" in css and ".poster-tools { display: none; }" in css


def test_the_public_poster_has_the_campaigns_public_address(app, client, world):
    w = world
    html = client.get(f"/kampanye/{w['campaign'].id}/poster").get_data(as_text=True)
    public = f"{app.config['BASE_URL']}/kampanye/{w['campaign'].id}"
    assert str(sharing.qr_svg(public)) in html and "Dibagikan oleh" not in html
    assert db.session.scalar(select(func.count()).select_from(CampaignShareLink)) == 0


@pytest.mark.parametrize("case", ["not targeted", "not a member", "unknown kim", "anonymous"])
def test_a_kims_poster_is_refused_to_others(client, world, case):
    w = world
    kim_id, user = w["kim"].id, w["member"]
    if case == "not targeted":
        kim_id, user = w["other"].id, w["other_admin"]
    elif case == "not a member":
        user = w["outsider"]
    elif case == "unknown kim":
        kim_id = 999_999_999
    if case != "anonymous":
        login(client, user)
    response = client.get(f"/kampanye/{w['campaign'].id}/poster?kim={kim_id}")
    if case == "anonymous":
        assert response.status_code == 302 and response.headers["Location"].startswith("/masuk")
    else:
        assert response.status_code == {"unknown kim": 404}.get(case, 403)
    if case == "not targeted":
        assert "KIM Pasangkayu" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CampaignShareLink)) == 0


def test_a_code_already_taken_is_drawn_again(world, monkeypatch):
    w = world
    existing = CampaignShareLink(campaign_id=w["campaign"].id, kim_id=w["other"].id, code="abcdefgh")
    db.session.add(existing)
    db.session.flush()
    draws = iter(["abcdefgh", "hgfedcba"])
    monkeypatch.setattr(services, "_new_share_code", lambda: next(draws))
    link, created = services.create_share_link(w["member"], w["campaign"], w["kim"])
    assert created and link.code == "hgfedcba"
    assert services.create_share_link(w["admin"], w["campaign"], w["kim"]) == (link, False)


def test_visits_are_rate_limited_per_address(client, world):
    w = world
    link = _link(w)
    limiter.reset()
    answers = [_visit(client, link.code).status_code for _ in range(61)]
    assert answers[:60] == [302] * 60 and answers[60] == 429
    assert _visit(client, link.code, address="10.200.0.1").status_code == 302  # another address is not held up
    assert _counters(link.id)[0] == 61


def test_share_visit_queries_are_exact_by_region_in_one_statement(client, world, make_kim, make_user):
    """share_visits_total and share_visits_by_region (for the reach dashboard) against a direct sum."""
    w = world
    kims = {"binanga": w["kim"]}
    for name, desa in (("b", "76.02.01.1002"), ("c", OTHER_KECAMATAN_DESA)):
        ketua = make_user()
        kims[name] = (make_kim(name=f"KIM {name}", desa_code=desa, members=[(ketua, "ketua")]), ketua)
    links = {"binanga": _link(w), "b": _link(w, *kims["b"]), "c": _link(w, *kims["c"])}
    for name, visits in (("binanga", 3), ("b", 2), ("c", 4)):
        for n in range(visits):
            _visit(client, links[name].code, address=f"10.0.{len(name)}.{n % 2}")  # 2 visitors each
    other_campaign = services.publish_campaign(w["pembina"], services.create_campaign(w["pembina"], _input()))
    stray = services.create_share_link(w["member"], other_campaign, w["kim"])[0]
    _visit(client, stray.code)  # another campaign's visit counts nowhere here
    campaign_id = w["campaign"].id
    direct = db.session.scalar(select(func.sum(CampaignShareLink.visits))
                               .where(CampaignShareLink.campaign_id == campaign_id))
    assert direct == 9
    with counting() as seen:
        assert queries.share_visits_total(campaign_id) == 9
        assert queries.share_visits_by_region(campaign_id, 2) == {"76": 9}
        assert queries.share_visits_by_region(campaign_id, 5, "76") == {"76.02": 9}
        assert queries.share_visits_by_region(campaign_id, 8, "76.02") == {"76.02.01": 5, "76.02.02": 4}
        assert queries.share_visits_by_region(campaign_id, 13, "76.02.01") == {"76.02.01.1002": 5}
        assert queries.share_visits_by_region(campaign_id, "kecamatan") == {"76.02.01": 5, "76.02.02": 4}
        assert queries.share_visits_by_region(campaign_id, 5, "73") == {}
        assert queries.share_visits_by_region(campaign_id, 8, "76.02", unique=True) == {"76.02.01": 4,
                                                                                          "76.02.02": 2}
    assert len(seen) == 8
    assert queries.share_visits_total(999_999_999) == 0
    for level, parent in ((3, None), (True, None), (5, "76.02"), (8, "76.02.01.1002"), (5, "x")):
        with pytest.raises(ValueError):
            queries.share_visits_by_region(campaign_id, level, parent)


def test_adding_a_material_locks_the_campaign_and_counts_what_is_stored(world):
    """Two uploads at once cannot both pass the 12-material limit: add_material takes the
    campaign's row lock (SELECT … FOR UPDATE) and counts the materials stored after it, not the
    collection loaded before (which a concurrent upload has made stale)."""
    w = world
    pdf = b"%PDF-1.4\ntrailer<<>>\n%%EOF\n"
    campaign = w["campaign"]
    for n in range(services.MAX_MATERIALS - 1):
        services.add_material(w["pembina"], campaign, pdf, f"jadwal-{n}.pdf")
    db.session.flush()
    assert len(campaign.materials) == services.MAX_MATERIALS - 1
    # A concurrent upload, committed behind this session's back: the loaded collection is stale.
    db.session.execute(insert(CampaignMaterial).values(campaign_id=campaign.id, kind="pdf", title="lain",
                                                       key="concurrent-upload.pdf", size=len(pdf), position=11))
    with counting() as seen, pytest.raises(CampaignError) as refused:
        services.add_material(w["pembina"], campaign, pdf, "satu-lagi.pdf")
    assert "file" in refused.value.fields
    assert any(re.search(r"FROM campaign\s+WHERE.*FOR UPDATE", s, re.S) for s in seen), seen
    assert db.session.scalar(select(func.count()).select_from(CampaignMaterial)
                             .where(CampaignMaterial.campaign_id == campaign.id)) == services.MAX_MATERIALS


def test_two_concurrent_uploads_cannot_both_pass_the_material_limit(tmp_path):
    """Two connections at once, each with the campaign's 11 materials loaded, each adding a 12th:
    one passes, the other waits on the campaign's row lock and is refused. (A second app with its
    own connections, as the browser tests run; its committed rows are removed afterwards.)"""
    import threading

    from sqlalchemy import delete

    from kim_platform import create_app, permissions
    from kim_platform.audit.models import AuditEntry
    from kim_platform.campaigns.models import Campaign

    pdf = b"%PDF-1.4\ntrailer<<>>\n%%EOF\n"
    other_app = create_app({"TESTING": True, "UPLOAD_DIR": str(tmp_path / "uploads"),
                            "MAIL_OUTBOX": str(tmp_path / "mail")})
    with other_app.app_context():
        campaign = services.create_campaign(permissions.SYSTEM, _input(title="Kampanye serentak"))
        for n in range(services.MAX_MATERIALS - 1):
            services.add_material(permissions.SYSTEM, campaign, pdf, f"jadwal-{n}.pdf")
        db.session.commit()
        campaign_id = campaign.id
    loaded = threading.Barrier(2, timeout=30)
    outcomes: list = []

    def upload(n: int) -> None:
        with other_app.app_context():
            try:
                mine = db.session.get(Campaign, campaign_id)
                assert len(mine.materials) == services.MAX_MATERIALS - 1
                loaded.wait()  # both hold the same stale picture before either writes
                services.add_material(permissions.SYSTEM, mine, pdf, f"serentak-{n}.pdf")
                db.session.commit()
                outcomes.append("added")
            except CampaignError as error:
                db.session.rollback()
                outcomes.append(error.status)
            finally:
                db.session.remove()

    try:
        threads = [threading.Thread(target=upload, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with other_app.app_context():
            stored = db.session.scalar(select(func.count()).select_from(CampaignMaterial)
                                       .where(CampaignMaterial.campaign_id == campaign_id))
        assert sorted(outcomes, key=str) == sorted(["added", 422], key=str) and stored == services.MAX_MATERIALS
    finally:
        with other_app.app_context():
            db.session.execute(delete(AuditEntry).where(AuditEntry.object_type == "campaign",
                                                        AuditEntry.object_id == str(campaign_id)))
            db.session.execute(delete(Campaign).where(Campaign.id == campaign_id))
            db.session.commit()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def test_share_link_visits_show_in_the_reach_dashboard_api_exports_and_national_view(client, world, make_user):
    """The reach figures carry the links' visits per region, equal to a direct sum of the counters."""
    import csv
    import io

    w = world
    link = _link(w)
    for n in range(3):
        _visit(client, link.code, address=f"10.9.0.{n % 2}")  # 3 visits, 2 visitors
    campaign_id = w["campaign"].id
    kecamatan = w["kim"].desa_code[:8]
    visits, visitors = _counters(link.id)
    assert (visits, visitors) == (3, 2)

    api = client.get(f"/api/v1/campaigns/{campaign_id}/reach?level=kecamatan&parent=76.02", headers=bearer(w["pembina"]))
    body = api.get_json()
    assert api.status_code == 200, body
    assert body["totals"]["share_visits"] == 3 and body["totals"]["share_visitors"] == 2
    rows = {i["code"]: i for i in body["items"]}
    assert rows[kecamatan]["share_visits"] == 3 and rows[kecamatan]["share_visitors"] == 2
    assert sum(i["share_visits"] for i in body["items"]) == 3  # nowhere else

    login(client, w["pembina"])
    page = client.get(f"/kampanye/{campaign_id}/jangkauan").get_data(as_text=True)
    assert 'id="total-share-visits">3 ' in page and "Kunjungan tautan bagikan" in page
    exported = client.get(f"/kampanye/{campaign_id}/jangkauan/ekspor.csv?level=kecamatan&parent=76.02")
    table = {r["code"]: r for r in csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig")))}
    assert table[kecamatan]["share_visits"] == "3" and table[kecamatan]["share_visitors"] == "2"

    direktorat = make_user(role="direktorat")
    national = client.get("/api/v1/campaigns/reach", headers=bearer(direktorat)).get_json()
    mine = next(i for i in national["items"] if i["id"] == campaign_id)
    assert mine["reach"]["share_visits"] == 3
