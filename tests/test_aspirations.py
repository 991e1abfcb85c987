"""Aspirations and hoax reports (issue 18, the core loop): intake by KIM members, routing to the
handler, the state machine with its required fields and 409s, working-day deadlines, escalation,
visibility (404 outside the region, scoped counts), personal data and its purge."""
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select

from kim_platform import permissions
from kim_platform.aspirations import deadlines, services
from kim_platform.aspirations.models import Aspiration, AspirationEvent, AspirationPhoto
from kim_platform.aspirations.services import AspirationError
from kim_platform.audit.models import AuditEntry
from kim_platform.core.clock import WIB
from kim_platform.extensions import db
from tests.conftest import bearer, csrf_token
from tests.conftest import login as _login

pytestmark = pytest.mark.usefixtures("steady_demo_flag")


PASANGKAYU_DESA = "76.01.01.1006"  # Kab. Pasangkayu, Sulawesi Barat
MAKASSAR_DESA = "73.71.01.1001"  # Kota Makassar, Sulawesi Selatan
# Monday 7 December 2026, 10:00 WIB: a plain working week.
MONDAY = datetime(2026, 12, 7, 3, tzinfo=timezone.utc)


def login(client, user):
    """Log in as `user`, logging out whoever was logged in (a logged-in login is redirected)."""
    client.post("/keluar", data={"csrf_token": csrf_token(client)})
    return _login(client, user)


def _image() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def world(make_user, make_kim, frozen_clock):
    frozen_clock(MONDAY)
    member, other_member = make_user(name="Relawan Binanga"), make_user(name="Ketua Binanga")
    kim = make_kim(name="KIM Binanga", members=[(member, "anggota"), (other_member, "ketua")])
    return {
        "member": member, "ketua": other_member, "kim": kim,
        "pembina": make_user(name="Pembina Mamuju", role="pembina", scope="76.02"),
        "prov": make_user(name="Pembina Sulbar", role="pembina", scope="76"),
        "outside": make_user(name="Pembina Makassar", role="pembina", scope="73.71"),
        "outside_prov": make_user(name="Pembina Sulsel", role="pembina", scope="73"),
        "pasangkayu": make_user(name="Pembina Pasangkayu", role="pembina", scope="76.01"),
        "direktorat": make_user(name="Direktorat", role="direktorat"),
        "relawan": make_user(name="Orang Lain"),
    }


def _hoax(**overrides) -> dict:
    return {"kind": "hoaks", "topic": "kesehatan", "description": "Warga resah soal pesan berantai vaksin.",
            "residents_count": 12, "hoax_claim": "Vaksin CKG mengandung chip.", "hoax_channel": "grup-whatsapp",
            "hoax_link": "https://chat.whatsapp.com/contoh", "resident_name": "Bu Ani",
            "resident_contact": "0812-3456-7890", **overrides}


def _info(**overrides) -> dict:
    return {"kind": "informasi", "topic": "bansos", "description": "Kapan bantuan PKH tahap 4 cair?",
            "residents_count": 5, **overrides}


def test_the_mamuju_story(client, world, outbox):
    """A KIM in a Mamuju desa records a hoax report and an information request; the Mamuju pembina
    answers the hoax with a verdict and a fact-check link and lets the other go overdue; it appears
    escalated for the Sulawesi Barat pembina; the KIM marks the answer delivered and it closes."""
    w = world
    member = bearer(w["member"])
    hoax = client.post("/api/v1/aspirations", headers=member, json={"kim_id": w["kim"].id, **_hoax()})
    assert hoax.status_code == 201, hoax.get_json()
    info = client.post("/api/v1/aspirations", headers=member, json={"kim_id": w["kim"].id, **_info()})
    assert info.status_code == 201
    hoax, info = hoax.get_json(), info.get_json()
    assert hoax["handler_scope"] == "76.02" and hoax["state"] == "baru" and hoax["desa_code"] == w["kim"].desa_code
    # Triage within 3 working days: Monday → by the end of Thursday (midnight WIB, Friday).
    assert hoax["due_at"] == "2026-12-10T17:00:00+00:00"
    assert hoax["resident_name"] == "Bu Ani"  # the reporting KIM sees it
    assert w["pembina"].email in [m["To"] for m in outbox.messages()]  # the handler is told

    pembina = bearer(w["pembina"])
    queue = client.get("/api/v1/aspirations", headers=pembina).get_json()
    assert {i["id"] for i in queue["items"]} == {hoax["id"], info["id"]}
    assert queue["items"][0]["resident_name"] == "Bu Ani"  # the handling pembina sees it too
    for step in ({"action": "diverifikasi"},
                 {"action": "dijawab", "verdict": "hoaks", "factcheck_link": "https://turnbackhoax.id/contoh",
                  "answer": "Tidak benar: vaksin tidak berisi chip."}):
        answer = client.post(f"/api/v1/aspirations/{hoax['id']}/transitions", headers=pembina, json=step)
        assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["state"] == "dijawab" and answer.get_json()["verdict"] == "hoaks"

    # The information request is left: a week later it is overdue and escalates to the province.
    assert services.escalate_overdue(MONDAY + timedelta(days=7)) == {1: 1, 2: 0}
    prov = bearer(w["prov"])
    overdue = client.get("/api/v1/aspirations?overdue=true", headers=prov).get_json()["items"]
    assert [i["id"] for i in overdue] == []  # the clock of the request is still Monday: not overdue yet
    item = client.get(f"/api/v1/aspirations/{info['id']}", headers=prov).get_json()
    assert item["escalation_level"] == 1 and "resident_name" not in item
    assert item["history"][-1]["action"] == "eskalasi"
    assert services.escalate_overdue(MONDAY + timedelta(days=7)) == {1: 0, 2: 0}  # idempotent
    assert services.escalate_overdue(MONDAY + timedelta(days=14)) == {1: 0, 2: 1}
    login(client, w["prov"])
    page = client.get(f"/aspirasi/{info['id']}").get_data(as_text=True)
    assert "dieskalasi ke direktorat" in page

    # The KIM marks the hoax clarification delivered: closed.
    client.post("/keluar", data={"csrf_token": csrf_token(client)})
    done = client.post(f"/api/v1/aspirations/{hoax['id']}/transitions", headers=member, json={
        "action": "disampaikan", "how": "Diumumkan di masjid dan grup WhatsApp RT", "delivered_on": "2026-12-07"})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["state"] == "selesai" and body["closed_at"]
    assert [e["to_state"] for e in body["history"]] == ["baru", "diverifikasi", "dijawab", "selesai"]


def test_the_overdue_queue_puts_overdue_first_and_pages_by_keyset(client, world, frozen_clock):
    w = world
    items = [services.submit_aspiration(w["member"], w["kim"], _info(description=f"Soal {n}")) for n in range(3)]
    frozen_clock(MONDAY + timedelta(days=1))
    newer = services.submit_aspiration(w["member"], w["kim"], _info(description="Soal baru"))
    frozen_clock(MONDAY + timedelta(days=4))  # Friday: the Monday items are overdue, the Tuesday one not
    headers = bearer(w["pembina"])
    first = client.get("/api/v1/aspirations?per_page=2", headers=headers).get_json()
    assert [i["id"] for i in first["items"]] == [items[0].id, items[1].id]
    assert all(i["overdue"] for i in first["items"])
    second = client.get(f"/api/v1/aspirations?per_page=2&cursor={first['next_cursor']}", headers=headers).get_json()
    assert [i["id"] for i in second["items"]] == [items[2].id, newer.id] and second["next_cursor"] is None
    assert [i["overdue"] for i in second["items"]] == [True, False]
    assert client.get("/api/v1/aspirations?cursor=rubbish", headers=headers).status_code == 200
    assert client.get("/api/v1/aspirations?state=nope", headers=headers).status_code == 400


# --- routing --------------------------------------------------------------------------------

def test_routing_kabupaten_then_province_then_directorate(world, make_kim):
    w = world
    assert services.submit_aspiration(w["member"], w["kim"], _info()).handler_scope == "76.02"
    db.session.delete(next(g for g in w["pembina"].grants))
    db.session.flush()
    assert services.submit_aspiration(w["member"], w["kim"], _info()).handler_scope == "76"
    w["prov"].is_active = False  # an inactive account is no pembina grant
    db.session.flush()
    assert services.submit_aspiration(w["member"], w["kim"], _info()).handler_scope is None


def test_intake_in_another_desa_of_the_province_goes_to_its_kabupaten(world):
    item = services.submit_aspiration(world["member"], world["kim"], _info(desa_code=PASANGKAYU_DESA))
    assert item.handler_scope == "76.01" and item.desa_code == PASANGKAYU_DESA


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, bad", [
    ({"desa_code": "76.02.01.9999"}, "desa_code"),  # unknown desa
    ({"desa_code": MAKASSAR_DESA}, "desa_code"),  # outside the KIM's province
    ({"desa_code": "76.02"}, "desa_code"),
    ({"kind": "gosip"}, "kind"),
    ({"topic": "cuaca"}, "topic"),
    ({"residents_count": 0}, "residents_count"),
    ({"description": ""}, "description"),
    ({"description": "x" * 5001}, "description"),
    ({"links": ["javascript:alert(1)"]}, "links"),
    ({"hoax_claim": "Klaim"}, "hoax_claim"),  # only for a hoax
])
def test_bad_intake_is_a_422_naming_the_field_and_writes_nothing(client, world, fields, bad):
    before = _count(Aspiration), _count(AuditEntry)
    response = client.post("/api/v1/aspirations", headers=bearer(world["member"]),
                           json={"kim_id": world["kim"].id, **_info(), **fields})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert bad in error["fields"] and error["code"] == "validation_error"
    assert (_count(Aspiration), _count(AuditEntry)) == before


def test_ten_megabytes_of_text_is_refused_cleanly(client, world):
    w = world
    huge = "a" * (10 * 1024 * 1024)
    api = client.post("/api/v1/aspirations", headers=bearer(w["member"]),
                      json={"kim_id": w["kim"].id, **_info(description=huge)})
    assert api.status_code == 413 and api.get_json()["error"]["code"] == "payload_too_large"
    small_enough = client.post("/api/v1/aspirations", headers=bearer(w["member"]),
                               json={"kim_id": w["kim"].id, **_info(description="a" * 100_000)})
    assert small_enough.status_code == 422 and "description" in small_enough.get_json()["error"]["fields"]
    login(client, w["member"])
    page = client.post(f"/kim/{w['kim'].public_ref}/aspirasi/baru",
                       data={"csrf_token": csrf_token(client), **_info(description=huge)})
    assert page.status_code == 422 and len(page.get_data()) < 100_000  # the form again, not 10 MB back
    assert "Maksimal 5000 karakter" in page.get_data(as_text=True)
    assert _count(Aspiration) == 0


def test_evidence_that_is_not_an_image_is_refused_and_images_are_reencoded(client, world):
    w = world
    login(client, w["member"])
    form = f"/kim/{w['kim'].public_ref}/aspirasi/baru"
    bad = client.post(form, data={"csrf_token": csrf_token(client), **_info(),
                                  "photos": (io.BytesIO(b"<html><script>alert(1)</script>"), "bukti.png")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "Foto 1" in bad.get_data(as_text=True)
    assert _count(Aspiration) == 0 and _count(AspirationPhoto) == 0
    good = client.post(form, data={"csrf_token": csrf_token(client), **_info(),
                                   "photos": (io.BytesIO(_image()), "bukti.png")}, content_type="multipart/form-data")
    assert good.status_code == 302
    photo = db.session.scalar(select(AspirationPhoto))
    assert photo.key.endswith(".webp")
    served = client.get(f"/aspirasi/foto/{photo.key}")
    assert served.status_code == 200 and served.headers["Cache-Control"] == "private, no-store"
    login(client, w["outside"])
    assert client.get(f"/aspirasi/foto/{photo.key}").status_code == 404


def test_the_form_says_personal_data_is_private_citing_uu_pdp(client, world):
    login(client, world["member"])
    html = client.get(f"/kim/{world['kim'].public_ref}/aspirasi/baru").get_data(as_text=True)
    assert "UU PDP No. 27/2022" in html and "tidak pernah publik" in html


def test_only_members_of_the_kim_record(world):
    for role in ("relawan", "pembina", "direktorat"):
        with pytest.raises(AspirationError) as refused:
            services.submit_aspiration(world[role], world["kim"], _info())
        assert refused.value.status == 403


# --- the state machine ----------------------------------------------------------------------

def _item(w, **fields):
    return services.submit_aspiration(w["member"], w["kim"], _info(**fields))


def test_an_illegal_transition_is_a_409_with_a_json_error(client, world):
    item = _item(world)
    response = client.post(f"/api/v1/aspirations/{item.id}/transitions", headers=bearer(world["pembina"]),
                           json={"action": "dijawab", "answer": "Sudah cair."})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "illegal_transition"
    assert item.state == "baru"
    unknown = client.post(f"/api/v1/aspirations/{item.id}/transitions", headers=bearer(world["pembina"]),
                          json={"action": "hapus"})
    assert unknown.status_code == 422 and "action" in unknown.get_json()["error"]["fields"]


@pytest.mark.parametrize("action, fields, missing", [
    ("bukan_wewenang", {"target": "76"}, "reason"),
    ("bukan_wewenang", {"reason": "Bukan urusan kami."}, "target"),
    ("bukan_wewenang", {"reason": "Bukan urusan kami.", "target": "99.99"}, "target"),  # not Indonesia's
    ("bukan_wewenang", {"reason": "Bukan urusan kami.", "target": "Mars"}, "target"),
    ("ditolak", {}, "reason"),
    ("duplikat", {"original_id": 999_999}, "original_id"),
])
def test_required_fields_of_a_transition(world, action, fields, missing):
    item = _item(world)
    audits = _count(AuditEntry)
    with pytest.raises(AspirationError) as refused:
        services.transition(world["pembina"], item, action, fields)
    assert refused.value.status == 422 and missing in refused.value.fields
    db.session.refresh(item)
    assert item.state == "baru" and item.handler_scope == "76.02" and _count(AuditEntry) == audits


def test_forward_then_answer_with_deadlines(world, frozen_clock):
    w = world
    item = _item(w)
    services.transition(w["pembina"], item, "diverifikasi")
    assert item.due_at == datetime(2026, 12, 15, 0, tzinfo=WIB)  # 5 working days: end of Monday 14th
    with pytest.raises(AspirationError) as refused:
        services.transition(w["pembina"], item, "diteruskan", {"agency": "Dinas Sosial"})
    assert "reference" in refused.value.fields
    services.transition(w["pembina"], item, "diteruskan", {"agency": "Dinas Sosial", "reference": "LAPOR-123"})
    # 14 working days from Monday 7 Dec: 24 (cuti bersama) and 25 (Christmas) are not counted.
    assert item.due_at == datetime(2026, 12, 30, 0, tzinfo=WIB)
    services.transition(w["pembina"], item, "perpanjang", {"reason": "Menunggu data dinas."})
    # 14 more working days after the 29th, across the year end: 1 January and Isra Mi'raj (5 January
    # 2027) are not counted.
    assert item.extended and item.due_at == datetime(2027, 1, 21, 0, tzinfo=WIB)
    with pytest.raises(AspirationError) as again:
        services.transition(w["pembina"], item, "perpanjang", {"reason": "Lagi."})
    assert again.value.status == 409
    services.transition(w["pembina"], item, "dijawab", {"answer": "Cair 20 Januari.", "links": ["https://kemensos.go.id"]})
    assert item.state == "dijawab" and item.due_at is None and item.answer_links == ["https://kemensos.go.id"]


def test_a_hoax_answer_needs_a_verdict_and_a_fact_check_link(world):
    item = services.submit_aspiration(world["member"], world["kim"], _hoax())
    services.transition(world["pembina"], item, "diverifikasi")
    assert item.due_at == datetime(2026, 12, 11, 0, tzinfo=WIB)  # hoax: 3 working days
    with pytest.raises(AspirationError) as refused:
        services.transition(world["pembina"], item, "dijawab", {"answer": "Tidak benar."})
    assert {"verdict", "factcheck_link"} <= set(refused.value.fields)


def test_not_our_authority_transfers_and_recomputes_the_handler(client, world):
    w = world
    item = _item(w)
    services.transition(w["pembina"], item, "diverifikasi")
    services.transition(w["pembina"], item, "bukan_wewenang", {"reason": "Urusan Pasangkayu.", "target": "76.01"})
    assert item.state == "baru" and item.handler_scope == "76.01"
    # The Mamuju pembina no longer sees it (404), the Pasangkayu one does.
    assert client.get(f"/api/v1/aspirations/{item.id}", headers=bearer(w["pembina"])).status_code == 404
    assert client.get(f"/api/v1/aspirations/{item.id}", headers=bearer(w["pasangkayu"])).status_code == 200
    services.transition(w["pasangkayu"], item, "bukan_wewenang", {"reason": "Wewenang provinsi.", "target": "naik"})
    assert item.handler_scope == "76"
    services.transition(w["prov"], item, "bukan_wewenang", {"reason": "Nasional.", "target": "naik"})
    assert item.handler_scope is None
    with pytest.raises(AspirationError) as top:
        services.transition(w["direktorat"], item, "bukan_wewenang", {"reason": "Naik.", "target": "naik"})
    assert top.value.status == 422
    # A transfer into a kabupaten without pembina lands with its province's.
    services.transition(w["direktorat"], item, "bukan_wewenang", {"reason": "Makassar.", "target": MAKASSAR_DESA})
    assert item.handler_scope == "73.71"
    history = db.session.scalars(select(AspirationEvent.action).where(AspirationEvent.aspiration_id == item.id)
                                 .order_by(AspirationEvent.id)).all()
    assert history == ["create", "diverifikasi", "bukan_wewenang", "bukan_wewenang", "bukan_wewenang",
                       "bukan_wewenang"]


def test_a_duplicate_links_to_the_original_which_gains_its_residents(world):
    w = world
    original, copy = _item(w, residents_count=5), _item(w, residents_count=3)
    services.transition(w["pembina"], copy, "duplikat", {"original_id": original.id, "reason": "Sama."})
    assert copy.state == "duplikat" and copy.original_id == original.id and original.residents_count == 8
    with pytest.raises(AspirationError):
        services.transition(w["pembina"], original, "duplikat", {"original_id": original.id})


def test_every_transition_is_audited_with_actor_from_to_and_reason(world):
    item = _item(world)
    services.transition(world["pembina"], item, "ditolak", {"reason": "Tidak jelas."})
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "aspiration.ditolak")).one()
    assert entry.actor_id == world["pembina"].id and entry.before == {"state": "baru"}
    assert entry.after["state"] == "ditolak" and entry.after["reason"] == "Tidak jelas."


TRANSITION_CASES = {
    "diverifikasi": ("baru", {}),
    "ditolak": ("baru", {"reason": "Tidak jelas."}),
    "bukan_wewenang": ("baru", {"reason": "Bukan kami.", "target": "naik"}),
    "diteruskan": ("diverifikasi", {"agency": "Dinas", "reference": "R-1"}),
    "dijawab": ("diverifikasi", {"answer": "Jawaban."}),
    "perpanjang": ("baru", {"reason": "Perlu waktu."}),
    "disampaikan": ("dijawab", {"how": "Rapat RT", "delivered_on": "2026-12-07"}),
}
HANDLERS = {"pembina", "prov", "direktorat"}
KIM_SIDE = {"member", "ketua"}
HIDDEN = {"outside", "outside_prov", "pasangkayu", "relawan", "anonymous"}


@pytest.mark.parametrize("role", sorted(HANDLERS | KIM_SIDE | HIDDEN | {"system"}))
@pytest.mark.parametrize("action", sorted(TRANSITION_CASES))
def test_every_role_against_every_transition(world, role, action):
    w = world
    actor = None if role == "anonymous" else permissions.SYSTEM if role == "system" else w[role]
    state, fields = TRANSITION_CASES[action]
    item = _item(w)
    if state in ("diverifikasi", "dijawab"):
        services.transition(w["pembina"], item, "diverifikasi")
    if state == "dijawab":
        services.transition(w["pembina"], item, "dijawab", {"answer": "Jawaban."})
    allowed = KIM_SIDE if action == "disampaikan" else HANDLERS | {"system"}
    if role in allowed:
        services.transition(actor, item, action, fields)
        return
    with pytest.raises(AspirationError) as refused:
        services.transition(actor, item, action, fields)
    assert refused.value.status == (404 if role in HIDDEN else 403)


# --- visibility and personal data -----------------------------------------------------------

def test_a_pembina_outside_the_region_sees_nothing_not_even_in_counts(client, world):
    w = world
    item = _item(w, resident_name="Pak Budi")
    for role in ("outside", "outside_prov", "pasangkayu", "relawan"):
        headers = bearer(w[role])
        assert client.get(f"/api/v1/aspirations/{item.id}", headers=headers).status_code == 404
        assert client.get("/api/v1/aspirations", headers=headers).get_json()["items"] == []
        login(client, w[role])
        assert client.get(f"/aspirasi/{item.id}").status_code == 404
        assert "0 item" in client.get("/aspirasi").get_data(as_text=True)
        client.post("/keluar", data={"csrf_token": csrf_token(client)})
    assert client.get(f"/api/v1/aspirations/{item.id}").status_code == 401


def test_personal_data_only_for_the_kim_and_the_handling_pembina(client, world):
    w = world
    item = _item(w, resident_name="Pak Budi", resident_contact="0811")
    for role, sees in (("member", True), ("ketua", True), ("pembina", True), ("prov", False), ("direktorat", False)):
        body = client.get(f"/api/v1/aspirations/{item.id}", headers=bearer(w[role])).get_json()
        assert ("resident_name" in body) == sees, role
        login(client, w[role])
        assert ("Pak Budi" in client.get(f"/aspirasi/{item.id}").get_data(as_text=True)) == sees, role
    # The public KIM profile shows nothing of it.
    client.post("/keluar", data={"csrf_token": csrf_token(client)})
    assert "Pak Budi" not in client.get(f"/kim/{w['kim'].public_ref}").get_data(as_text=True)


def test_purge_personal_deletes_name_and_contact_after_closing(world, runner, app):
    w = world
    item = _item(w, resident_name="Pak Budi", resident_contact="0811")
    services.transition(w["pembina"], item, "ditolak", {"reason": "Tidak jelas."})
    assert services.purge_personal(MONDAY + timedelta(days=89)) == 0
    assert services.purge_personal(MONDAY + timedelta(days=91)) == 1
    db.session.refresh(item)
    assert item.resident_name is None and item.resident_contact is None and item.personal_purged_at
    assert services.purge_personal(MONDAY + timedelta(days=92)) == 0  # idempotent
    result = runner.invoke(args=["aspirations", "purge-personal", "--days", "0"])
    assert result.exit_code == 0 and "0 items" in result.output


def test_the_second_level_comes_three_working_days_after_the_first(world):
    item = _item(world)  # Monday: triage due by the end of Thursday 10 December (WIB)
    assert item.due_at == datetime(2026, 12, 11, 0, tzinfo=WIB)
    assert services.escalate_overdue(datetime(2026, 12, 10, 16, 59, tzinfo=timezone.utc)) == {1: 0, 2: 0}
    assert services.escalate_overdue(datetime(2026, 12, 10, 17, 1, tzinfo=timezone.utc)) == {1: 1, 2: 0}
    # Friday 11, Monday 14, Tuesday 15: still overdue at the end of Tuesday, the directorate.
    assert services.escalate_overdue(datetime(2026, 12, 15, 16, 59, tzinfo=timezone.utc)) == {1: 0, 2: 0}
    assert services.escalate_overdue(datetime(2026, 12, 15, 17, 1, tzinfo=timezone.utc)) == {1: 0, 2: 1}
    db.session.refresh(item)
    assert item.escalation_level == 2
    # Triaged at last: the new deadline starts clean.
    services.transition(world["pembina"], item, "diverifikasi")
    assert item.escalation_level == 0


def test_the_escalate_command(world, runner, frozen_clock):
    _item(world)
    frozen_clock(MONDAY + timedelta(days=10))
    result = runner.invoke(args=["aspirations", "escalate"])
    assert result.exit_code == 0 and "1 to the province" in result.output
    result = runner.invoke(args=["aspirations", "escalate"])
    assert "0 to the province" in result.output


def test_the_kim_profile_and_account_panels(client, world):
    w = world
    item = _item(w)
    login(client, w["member"])
    profile = client.get(f"/kim/{w['kim'].public_ref}").get_data(as_text=True)
    assert "Aspirasi KIM ini" in profile and f"/aspirasi/{item.id}" in profile
    assert f"/kim/{w['kim'].public_ref}/aspirasi/baru" in profile
    account = client.get("/akun").get_data(as_text=True)
    assert "Aspirasi KIM saya" in account and f"/aspirasi/{item.id}" in account
    login(client, w["outside"])
    assert f"/aspirasi/{item.id}" not in client.get(f"/kim/{w['kim'].public_ref}").get_data(as_text=True)


def test_the_page_flow_from_form_to_transition(client, world):
    w = world
    login(client, w["member"])
    response = client.post(f"/kim/{w['kim'].public_ref}/aspirasi/baru", data={"csrf_token": csrf_token(client),
                                                                             **_info()})
    assert response.status_code == 302
    item = db.session.scalar(select(Aspiration))
    login(client, w["pembina"])
    page = client.get(f"/aspirasi/{item.id}").get_data(as_text=True)
    assert 'value="diverifikasi"' in page and 'value="disampaikan"' not in page
    done = client.post(f"/aspirasi/{item.id}/tindak", data={"csrf_token": csrf_token(client), "action": "dijawab",
                                                            "answer": "x"})
    assert done.status_code == 302
    db.session.refresh(item)
    assert item.state == "baru"  # refused (409) and flashed, nothing written
    client.post(f"/aspirasi/{item.id}/tindak", data={"csrf_token": csrf_token(client), "action": "diverifikasi"})
    db.session.refresh(item)
    assert item.state == "diverifikasi"


def test_public_figures_count_and_never_show_people(client, world, frozen_clock):
    """The public region page: counts by kind and state, the median time to the first answer and
    the share answered in time; no item, no text, no name or contact."""
    w = world
    hoax = services.submit_aspiration(w["member"], w["kim"], _hoax(resident_name="Bu Ani Rahasia"))
    services.submit_aspiration(w["member"], w["kim"], _info())
    services.submit_aspiration(w["member"], w["kim"], _info(desa_code=PASANGKAYU_DESA))
    frozen_clock(MONDAY + timedelta(hours=6))
    services.transition(w["pembina"], hoax, "diverifikasi")
    services.transition(w["pembina"], hoax, "dijawab", {"verdict": "hoaks", "answer": "Tidak benar.",
                                                        "factcheck_link": "https://turnbackhoax.id/x"})
    body = client.get("/api/v1/aspirations/stats?region=76.02").get_json()
    assert body["total"] == 2 and body["by_kind"] == {"hoaks": 1, "informasi": 1}
    assert body["by_state"] == {"baru": 1, "dijawab": 1}
    assert body["answered"] == 1 and body["median_hours_to_answer"] == 6.0 and body["answered_in_time_share"] == 1.0
    assert body["top_topics"][0] in ({"topic": "bansos", "count": 1}, {"topic": "kesehatan", "count": 1})
    assert client.get("/api/v1/aspirations/stats").get_json()["total"] == 3
    assert client.get("/api/v1/aspirations/stats?region=76.02.01").status_code == 400
    page = client.get("/aspirasi/statistik?wilayah=76.02").get_data(as_text=True)
    assert "Median waktu sampai jawaban pertama" in page and ("6.0 jam" in page or "6,0 jam" in page)
    for secret in ("Bu Ani Rahasia", "0812-3456-7890", "Vaksin CKG mengandung chip", "PKH"):
        assert secret not in page and secret not in str(body)


# --- deadlines ------------------------------------------------------------------------------

@pytest.mark.parametrize("start, days, expected", [
    (date(2026, 12, 4), 1, date(2026, 12, 7)),  # Friday + 1: Monday
    (date(2026, 12, 5), 3, date(2026, 12, 9)),  # Saturday + 3: Wednesday
    (date(2026, 12, 23), 3, date(2026, 12, 30)),  # 24 cuti bersama, 25 Christmas, weekend
    (date(2026, 12, 30), 2, date(2027, 1, 4)),  # across the year end: 31, then 1 Jan is a holiday
    (date(2026, 3, 17), 1, date(2026, 3, 25)),  # Nyepi, cuti bersama, Idul Fitri and its cuti bersama
    (date(2026, 8, 14), 1, date(2026, 8, 18)),  # Friday, then 17 August
])
def test_working_days_across_weekends_holidays_and_the_year_end(start, days, expected):
    assert deadlines.add_working_days(start, days) == expected


def test_deadlines_are_counted_in_wib_days():
    # 31 Dec 2026 20:00 UTC is already 1 Jan 2027 in Jakarta (a holiday): 1 working day is Monday 4th.
    assert deadlines.due_after(datetime(2026, 12, 31, 20, tzinfo=timezone.utc), 1) == \
        datetime(2027, 1, 5, 0, tzinfo=WIB)
    assert deadlines.due_after(datetime(2026, 12, 31, 16, tzinfo=timezone.utc), 1) == \
        datetime(2027, 1, 5, 0, tzinfo=WIB)
    assert deadlines.due_after(datetime(2026, 12, 31, 16, 59, tzinfo=timezone.utc), 1) == \
        datetime(2027, 1, 5, 0, tzinfo=WIB)
    assert deadlines.due_after(datetime(2026, 12, 30, 16, 59, tzinfo=timezone.utc), 1) == \
        datetime(2027, 1, 1, 0, tzinfo=WIB)
    # 30 Dec 17:30 UTC is 31 Dec in Jakarta: counted from the 31st (UTC days would give 1 Jan 00:00).
    assert deadlines.due_after(datetime(2026, 12, 30, 17, 30, tzinfo=timezone.utc), 1) == \
        datetime(2027, 1, 5, 0, tzinfo=WIB)


def test_configured_cuti_bersama_replace_the_packages_list(app):
    previous = app.config.get("CUTI_BERSAMA")
    try:
        app.config["CUTI_BERSAMA"] = frozenset({date(2026, 12, 28)})
        assert deadlines.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 24)  # no longer cuti
        assert deadlines.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    finally:
        app.config["CUTI_BERSAMA"] = previous


def test_a_kim_not_yet_verified_sends_nothing_to_a_pembina(client, world, make_kim):
    """Members of a draft KIM are told to wait for verification (403); nothing is written."""
    w = world
    draft = make_kim(name="KIM Draf", status="draft", members=[(w["member"], "ketua")])
    before = _count(Aspiration)
    refused = client.post("/api/v1/aspirations", headers=bearer(w["member"]), json={"kim_id": draft.id, **_info()})
    assert refused.status_code == 403, refused.get_json()
    assert "diverifikasi" in refused.get_json()["error"]["message"]
    assert _count(Aspiration) == before
    hidden = client.post("/api/v1/aspirations", headers=bearer(w["relawan"]), json={"kim_id": draft.id, **_info()})
    unknown = client.post("/api/v1/aspirations", headers=bearer(w["relawan"]), json={"kim_id": 999_999, **_info()})
    # An outsider learns nothing of the draft: the same answer as for a KIM that does not exist.
    assert (hidden.status_code, hidden.get_json()) == (unknown.status_code, unknown.get_json())
    assert hidden.status_code in (404, 422)


def test_the_audit_log_follows_the_handler_not_the_desa(client, world):
    """Once an item went to Makassar, the Mamuju pembina (404 on the item) sees none of its later
    steps in the audit log; the Makassar pembina does."""
    w = world
    item = _item(w)
    services.transition(w["pembina"], item, "bukan_wewenang", {"reason": "Urusan Makassar.", "target": "73.71"})
    services.transition(w["outside"], item, "diverifikasi")
    db.session.flush()

    def steps(user):
        body = client.get("/api/v1/audit?per_page=100", headers=bearer(user)).get_json()
        return [e["action"] for e in body["items"] if e["object_type"] == "aspiration" and e["object_id"] == str(item.id)]

    assert client.get(f"/api/v1/aspirations/{item.id}", headers=bearer(w["pembina"])).status_code == 404
    assert "aspiration.diverifikasi" not in steps(w["pembina"])
    assert "aspiration.diverifikasi" in steps(w["outside"])


def test_an_item_cannot_be_sent_back_to_a_handler_it_had(world):
    """Back and forth would restart the deadline, the one extension and the escalation at will."""
    w = world
    item = _item(w)
    services.transition(w["pembina"], item, "perpanjang", {"reason": "Menunggu data dinas."})
    services.transition(w["pembina"], item, "bukan_wewenang", {"reason": "Wewenang provinsi.", "target": "naik"})
    assert item.handler_scope == "76"
    with pytest.raises(AspirationError) as refused:
        services.transition(w["prov"], item, "bukan_wewenang", {"reason": "Kembali.", "target": "76.02"})
    assert refused.value.status == 422 and "target" in refused.value.fields
    assert item.handler_scope == "76"


def test_retired_codes_are_refused_for_new_items_transfers_and_campaign_targets(world):
    from kim_platform.campaigns import services as campaigns
    from kim_platform.campaigns.services import CampaignError
    from kim_platform.regions.models import Region

    w = world
    desa = db.session.get(Region, PASANGKAYU_DESA)
    desa.retired_on, desa.replaced_by = date(2026, 1, 2), "76.01.01.2003"
    db.session.get(Region, "73.71").retired_on = date(2026, 1, 2)
    db.session.flush()
    before = _count(Aspiration)
    with pytest.raises(AspirationError) as intake:
        services.submit_aspiration(w["member"], w["kim"], _info(desa_code=PASANGKAYU_DESA))
    assert "76.01.01.2003" in str(intake.value.fields["desa_code"])
    assert _count(Aspiration) == before
    item = _item(w)
    with pytest.raises(AspirationError) as transfer:
        services.transition(w["pembina"], item, "bukan_wewenang", {"reason": "Makassar.", "target": "73.71"})
    assert "73.71" in str(transfer.value.fields["target"])
    with pytest.raises(CampaignError) as target:
        campaigns.create_campaign(w["direktorat"], {
            "title": "CKG", "key_message": "Datang.", "targets": ["73.71"],
            "start_date": date(2026, 12, 7).isoformat(), "end_date": date(2026, 12, 31).isoformat()})
    assert "73.71" in str(target.value.fields["targets"])


def test_an_answer_is_passed_on_no_earlier_than_it_came(client, world):
    w = world
    item = _item(w)
    services.transition(w["pembina"], item, "diverifikasi")
    services.transition(w["pembina"], item, "dijawab", {"answer": "Cair pekan depan."})
    with pytest.raises(AspirationError) as early:
        services.transition(w["member"], item, "disampaikan", {"how": "Rapat RT", "delivered_on": "2026-12-06"})
    assert "delivered_on" in early.value.fields and item.state == "dijawab"
    services.transition(w["member"], item, "disampaikan", {"how": "Rapat RT", "delivered_on": "2026-12-07"})
    assert item.state == "selesai"


def test_the_queue_reads_a_page_without_a_query_per_item(client, world, make_kim, make_user):
    from tests.conftest import counting

    w = world
    for n in range(6):
        member = make_user()
        kim = make_kim(members=[(member, "anggota")])
        services.submit_aspiration(member, kim, _info())
    db.session.flush()
    with counting() as small:
        assert len(client.get("/api/v1/aspirations?per_page=2", headers=bearer(w["pembina"])).get_json()["items"]) == 2
    with counting() as large:
        assert len(client.get("/api/v1/aspirations?per_page=6", headers=bearer(w["pembina"])).get_json()["items"]) == 6
    assert len(large) == len(small)
