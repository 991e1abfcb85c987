"""An aspiration written without a signal (issue 18): the form kept by the service worker queues it
into the same outbox as reports, with its evidence; back online it reaches the server once, photos
included, and the residents' words (name, contact, description, claim) leave the phone's outbox. Same live server and phone
as tests/test_browser_offline.py."""
from sqlalchemy import func, select

from kim_platform.aspirations.models import Aspiration, AspirationPhoto
from kim_platform.extensions import db
from tests.test_browser_offline import KIM_NUMBER, PHOTOS, WAIT, Phone, expect, offline_app, playwright_api  # noqa: F401


def test_an_offline_hoax_report_waits_in_the_outbox_and_arrives_once(offline_app, tmp_path):  # noqa: F811
    app, base, kim_id = offline_app
    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.login()
        phone.context.set_offline(True)
        page = phone.page
        page.goto(f"{base}/kim/{KIM_NUMBER}/aspirasi/baru")  # the kept shell
        expect(page.locator("#outbox-personal-note")).to_be_visible()
        page.select_option("#kind", "hoaks")
        page.select_option("#topic", "kesehatan")
        page.fill("#description", "Pesan berantai soal vaksin beredar di grup RT.")
        page.fill("#hoax_claim", "Vaksin mengandung chip.")
        page.select_option("#hoax_channel", "grup-whatsapp")
        page.fill("#resident_name", "Bu Ani Luring")
        page.fill("#resident_contact", "0812-1111-2222")
        page.set_input_files("#photos", PHOTOS[:2])
        page.click("#aspiration-form button[type=submit]")
        page.wait_for_url(f"{base}/kotak-keluar", timeout=WAIT)
        phone.outbox(pending=1)
        entry = page.locator('#outbox-pending li[data-kind="aspiration"]')
        expect(entry).to_contain_text("Aspirasi / laporan hoaks: Pesan berantai")
        phone.context.set_offline(False)
        phone.outbox(pending=0, sent=1)
        kept = page.evaluate("KimOutbox.all().then(items => items.map(i => [i.kind, i.state, i.fields]))")
        stored = page.evaluate("KimOutbox.all().then(items => JSON.stringify(items))")
        sent_title = page.locator('#outbox-sent li[data-kind="aspiration"] strong').first.inner_text()
        errors = phone.errors
        phone.close()
    assert [(kind, state) for kind, state, _ in kept] == [("aspiration", "sent")]
    assert kept[0][2] == {"kind": "hoaks", "topic": "kesehatan"}  # the residents' words left the phone
    for typed in ("Pesan berantai", "Vaksin mengandung chip", "Bu Ani", "0812"):
        assert typed not in stored and typed not in sent_title, typed
    assert sent_title.startswith("Aspirasi / laporan hoaks: ") and sent_title.endswith(" · kesehatan"), sent_title
    with app.app_context():
        items = db.session.execute(select(Aspiration.kind, Aspiration.resident_name, Aspiration.photos_expected,
                                          func.count(AspirationPhoto.id))
                                   .outerjoin(AspirationPhoto, AspirationPhoto.aspiration_id == Aspiration.id)
                                   .where(Aspiration.kim_id == kim_id).group_by(Aspiration.id)).all()
        db.session.rollback()
    assert [tuple(i) for i in items] == [("hoaks", "Bu Ani Luring", 2, 2)]
    assert not errors, errors
