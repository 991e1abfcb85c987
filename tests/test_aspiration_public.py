"""Aspirations in public (issue 18, "Transparency without exposing people"): the public version an
answered item's handler publishes (their texts only), the public list and item (keyset pages, 404
unless published), the region page's figures, and the escalation digest mailed once per person and
day."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kim_platform.aspirations import queries, services
from kim_platform.aspirations.models import Aspiration, AspirationEscalationNotice
from kim_platform.aspirations.services import AspirationError
from kim_platform.audit.models import AuditEntry
from kim_platform.core import clock
from kim_platform.core.jobs import run_daily
from kim_platform.extensions import db
from tests.conftest import bearer, csrf_token
from tests.test_aspirations import MONDAY, PASANGKAYU_DESA, _hoax, _info, login, world  # noqa: F401 (fixture)

SECRETS = ("Bu Ani Rahasia", "0812-3456-7890", "Warga resah soal pesan berantai vaksin", "Vaksin CKG mengandung chip",
           "KIM Binanga", "chat.whatsapp.com")
PUBLIC = {"public_title": "Vaksin tidak berisi chip", "public_text": "Klarifikasi: vaksin aman.\nLihat tautan.",
          "public_claim": "Pesan berantai: vaksin berisi chip pelacak."}


def _answered_hoax(w, **overrides):
    item = services.submit_aspiration(w["member"], w["kim"], _hoax(resident_name="Bu Ani Rahasia", **overrides))
    services.transition(w["pembina"], item, "diverifikasi")
    services.transition(w["pembina"], item, "dijawab", {
        "verdict": "hoaks", "factcheck_link": "https://turnbackhoax.id/vaksin-chip", "answer": "Tidak benar."})
    return item


def _answered_info(w, **overrides):
    item = services.submit_aspiration(w["member"], w["kim"], _info(**overrides))
    services.transition(w["pembina"], item, "diverifikasi")
    services.transition(w["pembina"], item, "dijawab", {"answer": "Cair pekan depan."})
    return item


# --- publishing -----------------------------------------------------------------------------

def test_the_public_version_shows_only_what_the_handler_approved(client, world):
    w = world
    item = _answered_hoax(w)
    login(client, w["pembina"])
    form = client.get(f"/aspirasi/{item.id}").get_data(as_text=True)
    assert 'name="public_text" rows="5" required>Tidak benar.</textarea>' in form  # prefilled from the answer
    assert queries.public_item(item.id) is None  # nothing is public before the handler submits
    done = client.post(f"/aspirasi/{item.id}/publikasi", data={"csrf_token": csrf_token(client), **PUBLIC})
    assert done.status_code == 302
    client.post("/keluar", data={"csrf_token": csrf_token(client)})

    page = client.get(f"/aspirasi/publik/{item.id}").get_data(as_text=True)
    listing = client.get("/aspirasi/publik?wilayah=76.02").get_data(as_text=True)
    one = client.get(f"/api/v1/aspirations/public/{item.id}").get_json()
    many = client.get("/api/v1/aspirations/public?region=76").get_json()
    assert one["title"] == PUBLIC["public_title"] and one["claim"] == PUBLIC["public_claim"]
    assert one["verdict"] == "hoaks" and one["factcheck_link"] == "https://turnbackhoax.id/vaksin-chip"
    assert one["kabupaten_code"] == "76.02" and one["desa_code"] == w["kim"].desa_code and one["desa_name"]
    assert [i["id"] for i in many["items"]] == [item.id]
    assert "Vaksin tidak berisi chip" in page and "Pesan berantai" in page and "Klarifikasi hoaks" in page
    assert "Vaksin tidak berisi chip" in listing and "Klarifikasi hoaks" in listing
    for secret in SECRETS:
        for answer in (page, listing, str(one), str(many)):
            assert secret not in answer, secret
    assert "/aspirasi/foto/" not in page and "Tidak benar." not in page  # the answer only as approved


def test_publishing_needs_an_answer_and_the_handlers_own_texts(world):
    w = world
    new = services.submit_aspiration(w["member"], w["kim"], _info())
    with pytest.raises(AspirationError) as early:
        services.publish_aspiration(w["pembina"], new, PUBLIC)
    assert early.value.status == 409
    item, info = _answered_hoax(w), _answered_info(w)
    audits = db.session.scalar(select(func.count()).select_from(AuditEntry))
    for fields, bad in (({}, "public_text"), ({**PUBLIC, "public_title": "x" * 121}, "public_title"),
                        ({**PUBLIC, "public_claim": ""}, "public_claim"),
                        ({**PUBLIC, "public_text": "Kata Bu Ani Rahasia: aman."}, "public_text"),
                        ({**PUBLIC, "public_text": "a\x00b"}, "public_text")):
        with pytest.raises(AspirationError) as refused:
            services.publish_aspiration(w["pembina"], item, fields)
        assert refused.value.status == 422 and bad in refused.value.fields, fields
    with pytest.raises(AspirationError) as claim:
        services.publish_aspiration(w["pembina"], info, PUBLIC)  # a claim is for hoax reports only
    assert "public_claim" in claim.value.fields
    db.session.refresh(item)
    assert item.published_at is None
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audits


def test_unpublishing_hides_it_again_and_both_are_audited(client, world):
    w = world
    item = _answered_info(w, description="Soal PKH Pak Darto")
    headers = bearer(w["prov"])  # the pembina above the handler may publish too
    put = client.put(f"/api/v1/aspirations/{item.id}/publication", headers=headers,
                     json={"public_title": "Jadwal PKH tahap 4", "public_text": "Cair pekan depan."})
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["published_at"] and put.get_json()["public_title"] == "Jadwal PKH tahap 4"
    assert client.get(f"/aspirasi/publik/{item.id}").status_code == 200
    member = client.put(f"/api/v1/aspirations/{item.id}/publication", headers=bearer(w["member"]),
                        json={"public_title": "Judul", "public_text": "Teks."})
    assert member.status_code == 403  # the KIM sees the item but does not publish it
    assert client.delete(f"/api/v1/aspirations/{item.id}/publication", headers=headers).status_code == 200
    assert client.get(f"/aspirasi/publik/{item.id}").status_code == 404
    assert client.get(f"/api/v1/aspirations/public/{item.id}").status_code == 404
    assert client.get("/api/v1/aspirations/public").get_json()["items"] == []
    again = client.delete(f"/api/v1/aspirations/{item.id}/publication", headers=headers)
    assert again.status_code == 409
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "aspiration", AuditEntry.object_id == str(item.id)).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["aspiration.publikasi", "aspiration.tarik_publikasi"]
    # Never published, never public: an unknown or unpublished number is the same 404.
    other = _answered_info(w)
    assert client.get(f"/aspirasi/publik/{other.id}").status_code == 404
    assert client.get("/aspirasi/publik/999999999").status_code == 404


def test_the_public_list_pages_by_keyset_newest_first_and_filters(client, world, frozen_clock):
    w = world
    items = []
    for n in range(3):
        frozen_clock(MONDAY + timedelta(hours=n))
        item = _answered_info(w) if n != 1 else _answered_hoax(w)
        services.publish_aspiration(w["pembina"], item, {**PUBLIC, "public_title": f"Jawaban {n}",
                                                         **({} if n == 1 else {"public_claim": ""})})
        items.append(item)
    elsewhere = services.submit_aspiration(w["member"], w["kim"], _info(desa_code=PASANGKAYU_DESA))
    services.transition(w["pasangkayu"], elsewhere, "diverifikasi")  # handled in Pasangkayu
    services.transition(w["pasangkayu"], elsewhere, "dijawab", {"answer": "Sudah."})
    services.publish_aspiration(w["pasangkayu"], elsewhere, {"public_title": "Pasangkayu", "public_text": "Teks."})
    db.session.flush()
    first = client.get("/api/v1/aspirations/public?per_page=2&region=76.02").get_json()
    assert [i["id"] for i in first["items"]] == [items[2].id, items[1].id] and "total" not in first
    second = client.get(f"/api/v1/aspirations/public?per_page=2&region=76.02&cursor={first['next_cursor']}").get_json()
    assert [i["id"] for i in second["items"]] == [items[0].id] and second["next_cursor"] is None
    hoaxes = client.get("/api/v1/aspirations/public?kind=hoaks").get_json()["items"]
    assert [i["id"] for i in hoaxes] == [items[1].id]
    assert len(client.get("/api/v1/aspirations/public?region=76").get_json()["items"]) == 4
    assert client.get("/api/v1/aspirations/public?region=xx").status_code == 400
    assert client.get("/api/v1/aspirations/public?cursor=rubbish").status_code == 200
    page = client.get("/aspirasi/publik?wilayah=76.02").get_data(as_text=True)
    assert "Jawaban 2" in page and "Jawaban 0" in page and "Pasangkayu</a>" not in page
    stats = client.get("/aspirasi/statistik?wilayah=76.02").get_data(as_text=True)
    assert "/aspirasi/publik?wilayah=76.02" in stats


def test_a_cursor_with_an_offset_postgresql_refuses_is_just_not_a_cursor(client, world):
    import base64
    crafted = {kind: base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=") for kind, raw in (
        ("public", "2026-12-07T00:00:00+23:00|5"), ("queue", "0|2026-12-07T00:00:00+23:00|5"),
        ("overflow", "9999-12-31T23:59:00-10:00|5"))}
    assert crafted["public"] == "MjAyNi0xMi0wN1QwMDowMDowMCsyMzowMHw1"  # the reviewer's request
    for cursor in crafted.values():
        assert client.get(f"/api/v1/aspirations/public?cursor={cursor}").status_code == 200
        assert client.get(f"/aspirasi/publik?setelah={cursor}").status_code == 200
    assert client.get(f"/api/v1/aspirations?cursor={crafted['queue']}", headers=bearer(world["pembina"])).status_code == 200
    login(client, world["pembina"])
    assert client.get(f"/aspirasi?setelah={crafted['queue']}").status_code == 200
    moment, item_id = queries.decode_public_cursor(crafted["public"])
    assert moment.utcoffset() == timedelta(0) and moment.isoformat() == "2026-12-06T01:00:00+00:00" and item_id == 5


# --- the region page ------------------------------------------------------------------------

def _direct_counts(code: str):
    since = clock.utcnow() - timedelta(days=90)
    where = (Aspiration.desa_code.like(code + ".%"), Aspiration.created_at >= since)
    total = db.session.scalar(select(func.count()).select_from(Aspiration).where(*where))
    answered = db.session.scalar(select(func.count(Aspiration.answered_at)).where(*where))
    return total, answered


def test_the_region_page_shows_the_figures_of_a_direct_count(client, world, frozen_clock):
    w = world
    hoax = _answered_hoax(w)
    services.submit_aspiration(w["member"], w["kim"], _info())
    services.submit_aspiration(w["member"], w["kim"], _info(desa_code=PASANGKAYU_DESA))
    services.publish_aspiration(w["pembina"], hoax, PUBLIC)
    db.session.flush()
    for code in ("76.02", "76"):
        total, answered = _direct_counts(code)
        page = client.get(f"/wilayah/{code}").get_data(as_text=True)
        assert f'id="aspirasi-total">{total}<' in page and f'id="aspirasi-answered">{answered}<' in page, code
        assert 'id="aspirasi-median">0' in page  # answered at once under the frozen clock: 0.0 hours
        assert "Median waktu sampai jawaban pertama" in page and "Vaksin tidak berisi chip" in page
    assert _direct_counts("76.02") == (2, 1) and _direct_counts("76") == (3, 1)
    # Below the kabupaten the page shows its kabupaten's figures, saying so.
    desa = client.get(f"/wilayah/{w['kim'].desa_code}").get_data(as_text=True)
    assert 'id="aspirasi-total">2<' in desa and "sampai tingkat kabupaten/kota" in desa
    for secret in SECRETS:
        assert secret not in desa


# --- the escalation digest ------------------------------------------------------------------

def _escalation_mails(outbox, user):
    return [m for m in outbox.messages() if m["To"] == user.email and "eskalasi" in m["Subject"].lower()]


def test_escalation_is_mailed_once_per_person_and_day(client, world, make_user, frozen_clock, outbox, runner):
    w = world
    second_prov = make_user(name="Pembina Sulbar Dua", role="pembina", scope="76")
    first = services.submit_aspiration(w["member"], w["kim"], _info(resident_name="Bu Ani Rahasia"))
    second = services.submit_aspiration(w["member"], w["kim"], _hoax())
    db.session.commit()
    frozen_clock(MONDAY + timedelta(days=7))  # both past their triage deadline
    run_daily(only=("aspirations.escalate",))
    for pembina in (w["prov"], second_prov):
        mails = _escalation_mails(outbox, pembina)
        assert len(mails) == 1, pembina.name  # one digest with both items
        body = mails[0].get_content()
        assert f"#{first.id}" in body and f"#{second.id}" in body and "/aspirasi/" in body
        for secret in SECRETS + ("Kapan bantuan PKH",):
            assert secret not in body
    for nobody in (w["pembina"], w["direktorat"], w["outside_prov"]):
        assert _escalation_mails(outbox, nobody) == []
    sent = len(outbox.messages())
    run_daily(only=("aspirations.escalate",))  # the same day again: nothing
    assert runner.invoke(args=["aspirations", "escalate"]).exit_code == 0  # nor by hand
    assert len(outbox.messages()) == sent
    # Three working days later the directorate is told, once.
    frozen_clock(MONDAY + timedelta(days=14))
    result = runner.invoke(args=["aspirations", "escalate"])
    assert "2 to the directorate" in result.output and "1 escalation digests" in result.output
    assert len(_escalation_mails(outbox, w["direktorat"])) == 1
    run_daily(only=("aspirations.escalate",))
    assert len(_escalation_mails(outbox, w["direktorat"])) == 1
    assert len(_escalation_mails(outbox, w["prov"])) == 1


def test_a_second_escalation_the_same_day_waits_for_the_next_digest(world, frozen_clock):
    w = world
    services.submit_aspiration(w["member"], w["kim"], _info())
    frozen_clock(MONDAY + timedelta(days=7))
    services.escalate_overdue()
    sent: list = []
    assert services.send_escalation_digests(clock.today(), send=lambda *m: sent.append(m)) == 1
    later = services.submit_aspiration(w["member"], w["kim"], _info())
    # A week on: the new item reaches the province, the first one the directorate.
    assert services.escalate_overdue(clock.utcnow() + timedelta(days=7)) == {1: 1, 2: 1}
    # The province's pembina had today's digest: theirs waits; the directorate's goes.
    assert services.send_escalation_digests(clock.today(), send=lambda *m: sent.append(m)) == 1
    assert sent[1][0] == w["direktorat"].email
    assert services.send_escalation_digests(clock.today() + timedelta(days=1), send=lambda *m: sent.append(m)) == 1
    assert len(sent) == 3 and f"#{later.id}" in sent[2][2] and sent[2][0] == w["prov"].email
    assert db.session.scalar(select(func.count()).select_from(AspirationEscalationNotice)
                             .where(AspirationEscalationNotice.sent_on.is_(None))) == 0
