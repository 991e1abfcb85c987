"""Activity reports: posting with photos, bad input, sanitising, moderation, feeds, sharing."""
import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from kim_platform.activities.models import Activity, Photo
from kim_platform.audit.models import AuditEntry
from kim_platform.core import clock
from kim_platform.core.storage import storage
from kim_platform.extensions import db
from tests.conftest import bearer, csrf_token, login

TODAY = clock.today().isoformat()
REPORT = {"title": "Sosialisasi cek fakta", "date": TODAY, "type": "klarifikasi-hoaks",
          "description": "Warga belajar **memeriksa** kabar.", "reach_offline": 45, "reach_online": 1200,
          "links": ["https://www.instagram.com/p/abc"], "tags": ["Cek Fakta", "#Pemilu"]}


def jpeg(width=2400, height=1800, gps=True) -> bytes:
    image = Image.new("RGB", (width, height), (30, 120, 200))
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "S", 2: (2.0, 44.0, 57.0), 3: "E", 4: (118.0, 58.0, 2.0)}
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=80)
    return out.getvalue()


def stored_files(tmp_path) -> list:
    root = tmp_path / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def activity_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity))


def post_report(client, user, kim, data=None, photos=()):
    form = {**REPORT, **(data or {})}
    payload = {k: v for k, v in form.items() if k not in ("links", "tags")}
    payload["links"] = form["links"]
    payload["tags"] = form["tags"]
    payload["photos"] = [(io.BytesIO(content), name) for content, name in photos]
    return client.post(f"/api/v1/kims/{kim.id}/activities", data=payload, headers=bearer(user),
                       content_type="multipart/form-data")


def test_member_posts_json_and_it_is_published(client, kim_with_member):
    kim, member, _ = kim_with_member
    response = client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "published" and body["kim_id"] == kim.id and body["desa_code"] == kim.desa_code
    assert body["date"] == TODAY and body["type"] == "klarifikasi-hoaks" and body["photos"] == []
    assert body["tags"] == ["Cek Fakta", "Pemilu"] and body["reach_offline"] == 45
    assert "<strong>memeriksa</strong>" in body["description_html"]
    assert body["lat"] == pytest.approx(-2.749192)  # the desa's point when the report has none


def test_two_phone_photos_are_reencoded_and_lose_their_exif(client, kim_with_member, tmp_path):
    kim, member, _ = kim_with_member
    response = post_report(client, member, kim, photos=[(jpeg(), "IMG_1.jpg"), (jpeg(1800, 2400), "IMG_2.jpg")])
    assert response.status_code == 201, response.get_json()
    photos = response.get_json()["photos"]
    assert len(photos) == 2 and all(p["url"].startswith("/foto/") and p["thumb_url"] for p in photos)
    for photo in db.session.scalars(select(Photo)):
        for key, limit in ((photo.key, 1600), (photo.thumb_key, 400)):
            image = Image.open(io.BytesIO(storage().read(key)))
            assert image.format == "WEBP" and max(image.size) == limit
            assert not image.getexif() and "exif" not in image.info and b"PhoneMaker" not in storage().read(key)
    served = client.get(photos[0]["thumb_url"])
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff" and "immutable" in served.headers["Cache-Control"]
    served.close()
    assert len(stored_files(tmp_path)) == 4


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")
    return out.getvalue()


def _truncated() -> bytes:
    return jpeg()[:4000]


@pytest.mark.parametrize(
    "data, photos, field",
    [
        ({"date": (clock.latest_today() + timedelta(days=1)).isoformat()}, [], "date"),
        ({"title": ""}, [], "title"),
        ({"date": (clock.today() - timedelta(days=400)).isoformat()}, [], "late_reason"),
        ({"type": "pesta"}, [], "type"),
        ({"links": ["javascript:alert(1)"]}, [], "links"),
        ({"reach_offline": -3}, [], "reach_offline"),
        ({"lat": "-5.1354", "lon": "119.4238"}, [], "lat"),  # Makassar, outside Kab. Mamuju
        ({}, [(b"<html><script>alert(1)</script></html>", "x.jpg")], "photos"),
        ({}, [(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "x.svg")], "photos"),
        ({}, [(b"GIF89a<?php echo 1; ?>", "x.jpg")], "photos"),
        ({}, [(_truncated(), "cut.jpg")], "photos"),
        ({}, [(_bomb(), "bomb.png")], "photos"),
        ({}, [(jpeg(400, 300), f"{n}.jpg") for n in range(7)], "photos"),
    ],
)
def test_bad_reports_are_refused_whole(client, kim_with_member, tmp_path, data, photos, field):
    kim, member, _ = kim_with_member
    before = activity_count()
    response = post_report(client, member, kim, data, photos)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert activity_count() == before
    assert stored_files(tmp_path) == []  # a failed upload leaves no file behind


def test_a_megabyte_description_is_refused(client, kim_with_member):
    kim, member, _ = kim_with_member
    as_json = client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "description": "x" * 1_000_000},
                          headers=bearer(member))
    assert as_json.status_code == 422 and "description" in as_json.get_json()["error"]["fields"]
    boundary = "kimboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\n{"x" * 1_000_000}\r\n'
            f"--{boundary}--\r\n").encode()
    as_form = client.post(f"/api/v1/kims/{kim.id}/activities", data=body, headers=bearer(member),
                          content_type=f"multipart/form-data; boundary={boundary}")
    assert as_form.status_code == 413 and as_form.get_json()["error"]["code"] == "payload_too_large"
    assert activity_count() == 0


def test_a_good_photo_after_a_bad_one_is_not_kept_either(client, kim_with_member, tmp_path):
    kim, member, _ = kim_with_member
    response = post_report(client, member, kim, photos=[(jpeg(800, 600), "ok.jpg"), (b"not an image", "bad.jpg")])
    assert response.status_code == 422 and stored_files(tmp_path) == []


def test_an_old_report_with_a_reason_is_accepted(client, kim_with_member):
    kim, member, _ = kim_with_member
    old = (clock.today() - timedelta(days=400)).isoformat()
    response = client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "date": old,
                           "late_reason": "Dokumentasi baru ditemukan."}, headers=bearer(member))
    assert response.status_code == 201


def test_markdown_is_sanitised(client, kim_with_member):
    kim, member, _ = kim_with_member
    nasty = ("<script>alert(1)</script> [klik](javascript:alert(2)) <img src=x onerror=alert(3)> "
             "[sumber](https://komdigi.go.id) # Judul")
    body = client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "description": nasty},
                       headers=bearer(member)).get_json()
    html = body["description_html"]
    assert "<script" not in html and 'href="javascript' not in html and "<img" not in html
    assert "&lt;script&gt;" in html  # shown as text, never run
    assert '<a href="https://komdigi.go.id" rel="nofollow noopener noreferrer ugc">sumber</a>' in html
    page = client.get(f"/kegiatan/{body['id']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


def test_only_members_report_and_only_author_or_admins_edit(client, make_user, kim_with_member):
    kim, member, admin = kim_with_member
    stranger = make_user()
    assert client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(stranger)).status_code == 403
    activity_id = client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member)).get_json()["id"]
    url = f"/api/v1/activities/{activity_id}"
    assert client.patch(url, json={"title": "Diubah"}, headers=bearer(stranger)).status_code == 403
    assert client.patch(url, json={"title": "Diubah admin", "status": "hidden"}, headers=bearer(admin)).get_json()[
        "status"] == "published"
    other_member = make_user()
    from kim_platform.kims.models import Membership

    db.session.add(Membership(user_id=other_member.id, kim_id=kim.id, role="anggota"))
    db.session.flush()
    assert client.patch(url, json={"title": "x"}, headers=bearer(other_member)).status_code == 403


def test_pembina_hides_with_reason_and_it_disappears_from_public_views(app, client, make_user, kim_with_member):
    kim, member, _ = kim_with_member
    created = post_report(client, member, kim, photos=[(jpeg(800, 600), "a.jpg")]).get_json()
    url = f"/api/v1/activities/{created['id']}"
    outsider = make_user(role="pembina", scope="73.71")
    assert client.post(f"{url}/hide", json={"reason": "Melanggar aturan."}, headers=bearer(outsider)).status_code == 403
    pembina = make_user(role="pembina", scope="76.02")
    assert client.post(f"{url}/hide", json={"reason": ""}, headers=bearer(pembina)).status_code == 422
    hidden = client.post(f"{url}/hide", json={"reason": "Foto memuat data pribadi warga."}, headers=bearer(pembina))
    assert hidden.status_code == 200 and hidden.get_json()["status"] == "hidden"

    public = app.test_client()
    assert public.get(url).status_code == 404
    assert public.get(f"/kegiatan/{created['id']}").status_code == 404
    assert public.get(created["photos"][0]["thumb_url"]).status_code == 404
    assert created["id"] not in [i["id"] for i in public.get("/api/v1/activities").get_json()["items"]]
    assert "Sosialisasi cek fakta" not in public.get(f"/kim/{kim.number}").get_data(as_text=True)
    # The KIM sees why.
    assert client.get(url, headers=bearer(member)).get_json()["hidden_reason"] == "Foto memuat data pribadi warga."
    assert client.post(f"{url}/unhide", headers=bearer(pembina)).get_json()["status"] == "published"
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "activity")
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["activity.create", "activity.hide", "activity.unhide"]


def test_deleting_a_report_deletes_its_files(client, kim_with_member, tmp_path):
    kim, member, _ = kim_with_member
    created = post_report(client, member, kim, photos=[(jpeg(800, 600), "a.jpg")]).get_json()
    assert len(stored_files(tmp_path)) == 2
    assert client.delete(f"/api/v1/activities/{created['id']}", headers=bearer(member)).status_code == 204
    assert stored_files(tmp_path) == [] and activity_count() == 0


def test_feeds_follow_the_region_codes(client, make_user, make_kim):
    member = make_user()
    mamuju = make_kim(members=[(member, "anggota")])
    polman = make_kim(desa_code="76.04.01.1001", point=(-3.50506, 119.02194), members=[(member, "anggota")])
    for kim, title in ((mamuju, "Kegiatan Mamuju"), (polman, "Kegiatan Polman")):
        client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "title": title}, headers=bearer(member))
    titles = lambda url: [i["title"] for i in client.get(url).get_json()["items"]]  # noqa: E731
    assert titles("/api/v1/activities?region=76.02") == ["Kegiatan Mamuju"]
    assert sorted(titles("/api/v1/activities?region=76")) == ["Kegiatan Mamuju", "Kegiatan Polman"]
    assert titles("/api/v1/activities?region=73") == []
    assert titles(f"/api/v1/activities?kim={polman.id}") == ["Kegiatan Polman"]
    assert titles("/api/v1/activities?type=diskusi") == []
    assert len(titles(f"/api/v1/activities?from={TODAY}&to={TODAY}")) == 2
    for code in ("76", "76.02", "76.02.01", "76.02.01.1002"):  # region pages up to the province
        assert "Kegiatan Mamuju" in client.get(f"/wilayah/{code}").get_data(as_text=True)
    assert "Kegiatan Mamuju" not in client.get("/wilayah/76.04").get_data(as_text=True)
    assert "Kegiatan Mamuju" in client.get("/kegiatan?wilayah=76.02").get_data(as_text=True)
    geo = client.get("/api/v1/activities?format=geojson").get_json()
    assert geo["type"] == "FeatureCollection" and geo["features"][0]["geometry"]["type"] == "Point"


def test_atom_feeds_per_region_and_kim(client, kim_with_member):
    kim, member, _ = kim_with_member
    client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    base = client.application.config["BASE_URL"]
    for url in ("/wilayah/76.02/kegiatan.atom", f"/kim/{kim.number}/kegiatan.atom"):
        # A forged Host must not reach the cached feed: every link comes from the base URL.
        response = client.get(url, headers={"Host": "attacker.example", "X-Forwarded-Host": "attacker.example"})
        assert response.mimetype == "application/atom+xml"
        assert b"attacker.example" not in response.data
        feed = ET.fromstring(response.data)
        entries = feed.findall("a:entry", ns)
        assert [e.find("a:title", ns).text for e in entries] == ["Sosialisasi cek fakta"]
        assert entries[0].find("a:link", ns).get("href").startswith(f"{base}/kegiatan/")
        assert entries[0].find("a:id", ns).text.startswith(f"{base}/kegiatan/")
        assert feed.find("a:id", ns).text == base + url
        assert {link.get("href") for link in feed.findall("a:link", ns)} <= {
            base + url, f"{base}/wilayah/76.02", f"{base}/kim/{kim.number}"}
    empty = ET.fromstring(client.get("/wilayah/73/kegiatan.atom").data)
    assert empty.findall("a:entry", ns) == []


def test_report_page_has_open_graph_tags_and_share_buttons(client, kim_with_member):
    kim, member, _ = kim_with_member
    created = post_report(client, member, kim, photos=[(jpeg(1600, 1200), "a.jpg")]).get_json()
    html = client.get(f"/kegiatan/{created['id']}", headers={"Host": "attacker.example"}).get_data(as_text=True)
    base = client.application.config["BASE_URL"]
    assert '<meta property="og:title" content="Sosialisasi cek fakta' in html
    assert f'<meta property="og:image" content="{base}{created["photos"][0]["url"]}">' in html
    assert f'<meta property="og:url" content="{base}/kegiatan/{created["id"]}">' in html
    assert "attacker.example" not in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    for share in ("https://wa.me/?text=", "facebook.com/sharer", "x.com/intent/post", "t.me/share", "copy-link"):
        assert share in html
    assert 'loading="lazy"' in html


def test_report_form_in_the_browser_flow(client, kim_with_member):
    kim, member, _ = kim_with_member
    login(client, member)
    page = client.get(f"/kim/{kim.number}/lapor").get_data(as_text=True)
    assert 'accept="image/*" capture="environment"' in page and "/static/js/report-form." in page
    response = client.post(f"/kim/{kim.number}/lapor", data={
        "title": "Diskusi warga", "date": TODAY, "type": "diskusi", "reach_offline": "1.200",
        "csrf_token": csrf_token(client), "action": "publish",
        "photos": [(io.BytesIO(jpeg(1200, 900)), "kamera.jpg")]}, content_type="multipart/form-data")
    assert response.status_code == 302
    activity = db.session.scalar(select(Activity).where(Activity.title == "Diskusi warga"))
    assert activity.reach_offline == 1200 and len(activity.photos) == 1
    bad = client.post(f"/kim/{kim.number}/lapor", data={"title": "", "date": TODAY, "type": "diskusi",
                                                        "description": "tetap di sini",
                                                        "csrf_token": csrf_token(client)})
    assert bad.status_code == 422 and "tetap di sini" in bad.get_data(as_text=True)


def test_moderation_page_lists_the_region_only(app, client, make_user, kim_with_member):
    kim, member, _ = kim_with_member
    client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member))
    inside, outside = app.test_client(), app.test_client()
    login(inside, make_user(role="pembina", scope="76"))
    login(outside, make_user(role="pembina", scope="73"))
    assert "Sosialisasi cek fakta" in inside.get("/moderasi").get_data(as_text=True)
    assert "Sosialisasi cek fakta" not in outside.get("/moderasi").get_data(as_text=True)


def test_reports_of_a_kim_not_yet_public_stay_private(app, client, make_user, make_kim):
    member = make_user()
    kim = make_kim(status="submitted", members=[(member, "ketua")])
    created = client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member)).get_json()
    public = app.test_client()
    assert public.get(f"/kegiatan/{created['id']}").status_code == 404
    assert public.get("/api/v1/activities").get_json()["total"] == 0
    assert client.get(f"/api/v1/activities/{created['id']}", headers=bearer(member)).status_code == 200


def test_the_kims_last_activity_date_follows_its_published_reports(client, kim_with_member, make_user):
    kim, member, _ = kim_with_member
    older = (clock.today() - timedelta(days=30)).isoformat()
    first = client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "date": older}, headers=bearer(member))
    second = client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member)).get_json()
    db.session.refresh(kim)
    assert kim.last_activity_on == clock.today()
    pembina = make_user(role="pembina", scope="76.02")
    client.post(f"/api/v1/activities/{second['id']}/hide", json={"reason": "Tidak sesuai."}, headers=bearer(pembina))
    db.session.refresh(kim)
    assert kim.last_activity_on.isoformat() == older
    client.delete(f"/api/v1/activities/{first.get_json()['id']}", headers=bearer(member))
    db.session.refresh(kim)
    assert kim.last_activity_on is None


def test_photos_of_a_kim_not_yet_public_are_never_publicly_cached(client, make_user, make_kim):
    member = make_user()
    kim = make_kim(status="submitted", members=[(member, "ketua")])
    created = post_report(client, member, kim, photos=[(jpeg(800, 600), "a.jpg")]).get_json()
    served = client.get(created["photos"][0]["thumb_url"], headers=bearer(member))
    served.close()
    assert served.status_code == 200 and served.headers["Cache-Control"] == "private, no-store"
