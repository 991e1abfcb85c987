"""Aspirations through the offline outbox (the Idempotency-Key contract of offline reports, one
definition in core/idempotency.py) and the one-step "klarifikasi hoaks" report (issue 18)."""
import io
import uuid
from datetime import date, datetime, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select

from kim_platform.activities.models import Activity
from kim_platform.aspirations import services
from kim_platform.aspirations.models import Aspiration, AspirationPhoto
from kim_platform.audit.models import AuditEntry
from kim_platform.core import clock
from kim_platform.extensions import db
from tests.conftest import bearer, csrf_token
from tests.conftest import login as _login

# Monday 7 December 2026, 23:30 WIB = 00:30 WITA on Tuesday 8: Mamuju (Sulawesi Barat) already
# lives on the 8th while Jakarta is still on the 7th.
LATE_MONDAY = datetime(2026, 12, 7, 16, 30, tzinfo=timezone.utc)


def _jpeg(colour=(200, 80, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="JPEG")
    return out.getvalue()


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _hoax(**overrides) -> dict:
    return {"kind": "hoaks", "topic": "kesehatan", "description": "Warga resah soal pesan berantai vaksin.",
            "residents_count": 12, "hoax_claim": "Vaksin CKG mengandung chip.\nSebarkan ke grup lain!",
            "hoax_channel": "grup-whatsapp", "hoax_link": "https://chat.whatsapp.com/contohhoaks",
            "resident_name": "Bu Ani Rahmawati", "resident_contact": "0812-3456-7890", **overrides}


@pytest.fixture
def world(make_user, make_kim, frozen_clock):
    frozen_clock(LATE_MONDAY)
    member, ketua = make_user(name="Relawan Binanga"), make_user(name="Ketua Binanga")
    kim = make_kim(name="KIM Binanga", members=[(member, "anggota"), (ketua, "ketua")])
    return {"member": member, "ketua": ketua, "kim": kim,
            "pembina": make_user(name="Pembina Mamuju", role="pembina", scope="76.02"),
            "outside": make_user(name="Pembina Makassar", role="pembina", scope="73.71"),
            "relawan": make_user(name="Orang Lain")}


def _send(client, headers, body, key=None):
    headers = dict(headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/aspirations", json=body, headers=headers)


def _put(client, item_id, n, headers, key, data=None):
    headers = dict(headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    files = {"photo": (io.BytesIO(_jpeg() if data is None else data), "bukti.jpg")}
    return client.put(f"/api/v1/aspirations/{item_id}/photos/{n}", data=files, headers=headers,
                      content_type="multipart/form-data")


# --- intake from the outbox, exactly once ---------------------------------------------------------

def test_the_same_key_and_body_is_one_item_and_another_body_is_409(client, world):
    headers, kim = bearer(world["member"]), world["kim"]
    body = {"kim_id": kim.id, **_hoax(), "written_at": "2026-12-07T22:10:00+07:00"}
    key = str(uuid.uuid4())
    first = _send(client, headers, body, key)
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    # The phone lost the answer and sends again: the same item, nothing written twice.
    again = _send(client, headers, {**body, "residents_count": "12", "description": body["description"] + "  "}, key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _count(Aspiration, Aspiration.author_id == world["member"].id) == 1
    assert first.get_json()["written_at"].startswith("2026-12-07T15:10:00")
    other = _send(client, headers, {**body, "residents_count": 13}, key)
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_conflict"
    assert _count(Aspiration, Aspiration.author_id == world["member"].id) == 1
    assert _send(client, headers, body, "kunci tidak sah").status_code == 400


def test_a_refused_item_stores_nothing_and_keeps_its_key_free(client, world):
    headers, kim = bearer(world["member"]), world["kim"]
    key = str(uuid.uuid4())
    refused = _send(client, headers, {"kim_id": kim.id, **_hoax(hoax_claim=""), "photo_count": 9}, key)
    assert refused.status_code == 422
    assert set(refused.get_json()["error"]["fields"]) >= {"hoax_claim", "photo_count"}
    fixed = _send(client, headers, {"kim_id": kim.id, **_hoax()}, key)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def test_evidence_photos_come_one_by_one_each_stored_once(client, world):
    headers, kim = bearer(world["member"]), world["kim"]
    item = _send(client, headers, {"kim_id": kim.id, **_hoax(), "photo_count": 2}, str(uuid.uuid4())).get_json()
    assert (item["photos_expected"], item["photos_received"], item["complete"]) == (2, 0, False)
    first = _put(client, item["id"], 1, headers, "foto-1")
    assert first.status_code == 200 and first.get_json()["photos_received"] == 1
    assert _put(client, item["id"], 1, headers, "foto-1").status_code == 200  # a replay stores nothing
    assert _count(AspirationPhoto, AspirationPhoto.aspiration_id == item["id"]) == 1
    conflict = _put(client, item["id"], 1, headers, "foto-lain")
    assert conflict.status_code == 409 and conflict.get_json()["error"]["code"] == "idempotency_conflict"
    assert _put(client, item["id"], 3, headers, "foto-3").status_code == 400
    assert _put(client, item["id"], 2, headers, None).status_code == 400  # the key is required
    bad = _put(client, item["id"], 2, headers, "foto-2", data=b"bukan gambar")
    assert bad.status_code == 422 and "photo" in bad.get_json()["error"]["fields"]
    # Only the author sends the evidence; who may not see the item learns nothing of it.
    assert _put(client, item["id"], 2, bearer(world["ketua"]), "foto-k").status_code == 403
    assert _put(client, item["id"], 2, bearer(world["outside"]), "foto-o").status_code == 404
    done = _put(client, item["id"], 2, headers, "foto-2").get_json()
    assert done["complete"] is True and done["aspiration"]["photos_received"] == 2
    assert len(done["aspiration"]["photos"]) == 2
    together = _send(client, headers, {"kim_id": kim.id, **_hoax(), "photo_count": 1}, None)
    assert together.status_code == 201  # without a key too: the contract does not need one


def test_photos_with_the_item_and_announced_ones_do_not_mix(client, world):
    kim = world["kim"]
    data = {"kim_id": str(kim.id), "kind": "informasi", "topic": "bansos", "description": "Kapan cair?",
            "photo_count": "1", "photos": (io.BytesIO(_jpeg()), "a.jpg")}
    answer = client.post("/api/v1/aspirations", data=data, headers=bearer(world["member"]),
                         content_type="multipart/form-data")
    assert answer.status_code == 422 and "photos" in answer.get_json()["error"]["fields"]
    assert _count(Aspiration) == 0


def test_the_form_is_kept_offline_as_a_shell_and_queues_into_the_outbox(client, world):
    _login(client, world["member"])
    page = client.get(f"/kim/{world['kim'].public_ref}/aspirasi/baru?shell=1")
    assert page.status_code == 200 and page.headers["X-Kim-Shell"] == "1"
    html = page.get_data(as_text=True)
    assert 'data-outbox-kind="aspiration"' in html and 'data-outbox-post="/api/v1/aspirations"' in html
    assert "data-user=" not in html and 'id="outbox-strings"' in html and 'id="outbox-personal-note"' in html
    assert "/kim/[^/]+/(?:lapor|aspirasi" in client.get("/sw.js").get_data(as_text=True).replace("\\/", "/")


# --- klarifikasi hoaks in one step ----------------------------------------------------------------

def _answered_hoax(world, **overrides) -> Aspiration:
    item = services.submit_aspiration(world["member"], world["kim"], _hoax(**overrides))
    services.transition(world["pembina"], item, "diverifikasi")
    services.transition(world["pembina"], item, "dijawab", {
        "verdict": "hoaks", "factcheck_link": "https://turnbackhoax.id/2026/12/vaksin-chip",
        "answer": "Vaksin tidak mengandung chip; Kemenkes sudah membantahnya."})
    db.session.flush()
    return item


def test_one_post_publishes_the_clarification_once_without_personal_data(client, world):
    item = _answered_hoax(world)
    headers = bearer(world["member"])
    answer = client.post(f"/api/v1/aspirations/{item.id}/clarification", headers=headers)
    assert answer.status_code == 201, answer.get_json()
    report = answer.get_json()
    assert report["type"] == "klarifikasi-hoaks" and report["status"] == "published"
    assert report["kim_id"] == world["kim"].id and report["desa_code"] == item.desa_code
    assert report["date"] == "2026-12-08" == clock.local_today(item.desa_code).isoformat()  # WITA, not WIB
    assert clock.today() == date(2026, 12, 7)
    assert report["links"] == ["https://turnbackhoax.id/2026/12/vaksin-chip"]
    assert "Vaksin CKG mengandung chip." in report["description"] and "Kemenkes" in report["description"]
    text = str(report)
    for private in ("Bu Ani", "0812", "chat.whatsapp.com"):
        assert private not in text
    again = client.post(f"/api/v1/aspirations/{item.id}/clarification", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "clarification_exists"
    assert _count(Activity, Activity.type == "klarifikasi-hoaks") == 1
    assert client.get(f"/api/v1/aspirations/{item.id}", headers=headers).get_json()["clarification_url"] == report["url"]
    assert _count(AuditEntry, AuditEntry.action == "aspiration.klarifikasi", AuditEntry.object_id == str(item.id)) == 1
    # The public report page says what it clarifies: the verdict and the claim, nothing else of the item.
    public = client.get(report["url"]).get_data(as_text=True)
    assert f"Klarifikasi atas laporan hoaks #{item.id}" in public and "Vaksin CKG mengandung chip." in public
    assert f'href="/aspirasi/{item.id}"' not in public
    for private in ("Bu Ani", "0812", "Warga resah", "chat.whatsapp.com"):
        assert private not in public


def test_the_clarification_is_refused_where_it_does_not_belong(client, world):
    member = bearer(world["member"])
    waiting = services.submit_aspiration(world["member"], world["kim"], _hoax())  # no verdict yet
    info = services.submit_aspiration(world["member"], world["kim"], {
        "kind": "informasi", "topic": "bansos", "description": "Kapan PKH cair?"})
    services.transition(world["pembina"], info, "diverifikasi")
    services.transition(world["pembina"], info, "dijawab", {"answer": "Minggu depan."})
    db.session.flush()
    for item in (waiting, info):
        refused = client.post(f"/api/v1/aspirations/{item.id}/clarification", headers=member)
        assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "not_clarifiable"
    answered = _answered_hoax(world)
    assert client.post(f"/api/v1/aspirations/{answered.id}/clarification",
                       headers=bearer(world["pembina"])).status_code == 403  # sees it, is not the KIM
    for outsider in ("outside", "relawan"):
        assert client.post(f"/api/v1/aspirations/{answered.id}/clarification",
                           headers=bearer(world[outsider])).status_code == 404
    assert _count(Activity) == 0


def test_the_member_adjusts_the_text_before_publishing(client, world):
    item = _answered_hoax(world)
    _login(client, world["member"])
    detail = client.get(f"/aspirasi/{item.id}").get_data(as_text=True)
    assert f'href="/aspirasi/{item.id}/klarifikasi"' in detail
    form = client.get(f"/aspirasi/{item.id}/klarifikasi")
    assert form.status_code == 200
    assert "Klarifikasi hoaks: Vaksin CKG mengandung chip. Sebarkan ke grup lain!" in form.get_data(as_text=True)
    empty = client.post(f"/aspirasi/{item.id}/klarifikasi",
                        data={"csrf_token": csrf_token(client), "title": "", "description": "Teks"})
    assert empty.status_code == 422 and 'id="title-error"' in empty.get_data(as_text=True)
    assert _count(Activity) == 0
    done = client.post(f"/aspirasi/{item.id}/klarifikasi", data={
        "csrf_token": csrf_token(client), "title": "Cek fakta: vaksin tanpa chip", "description": "Sudah kami jelaskan."})
    assert done.status_code == 302
    report = db.session.scalar(select(Activity).where(Activity.type == "klarifikasi-hoaks"))
    assert done.headers["Location"] == f"/kegiatan/{report.id}"
    assert (report.title, report.description_md) == ("Cek fakta: vaksin tanpa chip", "Sudah kami jelaskan.")
    # The item links to its report (the member sees the link on the item page); asking again goes there.
    assert f'href="/kegiatan/{report.id}"' in client.get(f"/aspirasi/{item.id}").get_data(as_text=True)
    assert client.get(f"/aspirasi/{item.id}/klarifikasi").headers["Location"] == f"/kegiatan/{report.id}"
    assert f'href="/aspirasi/{item.id}"' in client.get(f"/kegiatan/{report.id}").get_data(as_text=True)


def test_the_report_page_shows_only_what_the_member_published(client, world):
    from kim_platform.aspirations.services import AspirationError

    item = _answered_hoax(world, hoax_claim="Vaksin berisi chip, tanya Pak Dedi 0899-1111-2222")
    for field, text in (("title", "Kata Bu Ani Rahmawati: hoaks"), ("description", "Hubungi 0812-3456-7890.")):
        with pytest.raises(AspirationError) as refused:
            services.publish_clarification(world["member"], item, {"title": "Cek fakta", "description": "Aman.",
                                                                   field: text})
        assert refused.value.status == 422 and set(refused.value.fields) == {field}
    assert _count(Activity) == 0 and item.clarification_activity_id is None
    report = services.publish_clarification(world["member"], item, {
        "title": "Cek fakta: vaksin tanpa chip", "description": "Pesan berantai soal chip vaksin itu hoaks."})
    db.session.flush()
    public = client.get(f"/kegiatan/{report.id}").get_data(as_text=True)  # anonymous
    assert f"Klarifikasi atas laporan hoaks #{item.id}" in public and "Pesan berantai soal chip" in public
    for private in ("0899-1111-2222", "Pak Dedi"):
        assert private not in public


def test_the_outbox_keeps_every_field_the_aspiration_form_sends():
    """report-form.js copies the fields the form lists in data-outbox-fields into the outbox: a
    field of the form missing from that list would be dropped from every item sent offline."""
    import re
    from pathlib import Path

    html = (Path(__file__).resolve().parent.parent / "templates/aspirations/form.html").read_text()
    listed = set(re.search(r'data-outbox-fields="([^"]+)"', html).group(1).split())
    named = set(re.findall(r'name="([a-z_]+)"', html)) - {"photos", "csrf_token"}
    assert named == listed and "kim_id" in listed


def test_item_numbers_are_identifiers_not_figures(app):
    """Numbers of items are written as they are: "#1842", never a figure such as "#1.842" (whole
    numbers in interface strings are localised; an item's number is not one of them). The tests
    above met it only once their process had made a thousand items."""
    from flask import render_template

    with app.test_request_context("/"):
        panel = render_template("aspirations/_report_panel.html", item_id=1842, verdict="Hoaks", linked=True)
    assert "Klarifikasi atas laporan hoaks #1842" in panel and "1.842" not in panel
