"""The outbox's edge cases in Debian's Chromium (issue 16): two accounts on one phone, fixing a
report with fewer photos than it had, and what the service worker keeps (shells, never a page of
the person's session). Same live server and phone as tests/test_browser_offline.py."""
import pytest
from sqlalchemy import delete, select

from kim_platform.accounts.models import User
from kim_platform.accounts.passwords import hash_password
from kim_platform.accounts.services import utcnow
from kim_platform.audit.models import AuditEntry
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Membership
from tests.test_browser_offline import (EMAIL, KIM_NUMBER, PASSWORD, PHOTOS, WAIT, Phone, _reports,  # noqa: F401
                                        expect, offline_app, playwright_api)

OTHER_EMAIL = "luring.relawan.kedua@example.id"
OTHER_PASSWORD = "sinyal datang dari balik bukit"


@pytest.fixture
def second_member(offline_app):  # noqa: F811 - the fixture imported above
    """A second member of the same KIM, who uses the same phone."""
    app, base, kim_id = offline_app
    with app.app_context():
        user = User(name="Relawan Kedua", email=OTHER_EMAIL, password_hash=hash_password(OTHER_PASSWORD),
                    email_verified_at=utcnow())
        db.session.add(user)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, kim_id=kim_id, role="anggota"))
        db.session.commit()
        user_id = user.id
    yield user_id
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
        db.session.execute(delete(Membership).where(Membership.user_id == user_id))
        from kim_platform.activities.models import Activity

        db.session.execute(delete(Activity).where(Activity.author_id == user_id))
        db.session.execute(delete(User).where(User.id == user_id))
        db.session.commit()


def _log_in_as(phone, email, password):
    page = phone.page
    page.goto(f"{phone.base}/masuk")
    page.wait_for_load_state("networkidle")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{phone.base}/akun")
    phone.wait_until_ready()


def _log_out(phone):
    phone.page.goto(f"{phone.base}/akun")
    with phone.page.expect_navigation():
        phone.page.click('form[action="/keluar"] button')
    # The logged-out page asks the worker to drop the kept forms: let its requests end before the
    # next login (a late answer would replace the session cookie the login form's token is bound to).
    phone.page.wait_for_load_state("networkidle")


def _stored(phone):
    """(title, state, user_id) of every report in the phone's IndexedDB, whoever wrote it."""
    return phone.page.evaluate(
        "KimOutbox.all().then(items => items.map(i => [i.fields.title, i.state, String(i.user_id)]))")


def _authors(app, kim_id):
    from kim_platform.activities.models import Activity

    with app.app_context():
        rows = db.session.execute(select(Activity.title, User.email).join(User, User.id == Activity.author_id)
                                  .where(Activity.kim_id == kim_id).order_by(Activity.id)).all()
        db.session.rollback()
        return [tuple(r) for r in rows]


def test_another_account_on_the_same_phone_never_sees_nor_sends_the_first_ones_reports(
        offline_app, second_member, tmp_path):  # noqa: F811
    app, base, kim_id = offline_app
    with app.app_context():
        first_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
        db.session.rollback()
    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.login()
        # The first volunteer writes a report offline and logs out before it could leave.
        phone.context.set_offline(True)
        phone.write_report("Laporan relawan pertama", PHOTOS[:1])
        phone.outbox(pending=1)
        for url in (f"{base}/api/v1/me", f"{base}/api/v1/me/csrf"):
            phone.context.route(url, lambda route: route.abort("connectionrefused"))
        phone.context.set_offline(False)
        _log_out(phone)
        # Logging out deletes nothing that was not sent.
        assert _stored(phone) == [["Laporan relawan pertama", "waiting", str(first_id)]]
        for url in (f"{base}/api/v1/me", f"{base}/api/v1/me/csrf"):
            phone.context.unroute(url)

        # The second volunteer logs in on the same phone: none of the first one's reports is shown,
        # counted in the badge, opened for fixing or sent; they are only said to be kept.
        _log_in_as(phone, OTHER_EMAIL, OTHER_PASSWORD)
        phone.page.goto(f"{base}/kotak-keluar")
        outbox = phone.outbox(pending=0, sent=0)
        expect(outbox.locator("#outbox-others")).to_be_visible()
        expect(outbox.locator("#outbox-others")).to_contain_text("1 laporan yang ditulis dengan akun lain")
        expect(outbox).not_to_contain_text("Laporan relawan pertama")
        expect(phone.page.locator("[data-outbox-count]")).to_be_hidden()
        phone.page.click("#outbox-send", timeout=1000) if phone.page.locator("#outbox-send").is_visible() else None
        phone.page.evaluate("KimOutbox.sync()")
        assert _authors(app, kim_id) == []
        item_id = phone.page.evaluate("KimOutbox.all().then(items => items[0].id)")
        phone.page.goto(f"{base}/kim/{KIM_NUMBER}/lapor?kotak={item_id}")
        expect(phone.page.locator("#title")).to_have_value("")

        # The second volunteer's own report, written offline, goes under their name only.
        phone.context.set_offline(True)
        phone.write_report("Laporan relawan kedua", PHOTOS[1:2])
        outbox = phone.outbox(pending=1)
        expect(outbox.locator("#outbox-pending strong")).to_have_text(["Laporan relawan kedua"])
        phone.context.set_offline(False)
        phone.outbox(pending=0, sent=1)
        assert _authors(app, kim_id) == [("Laporan relawan kedua", OTHER_EMAIL)]
        assert sorted(s[:2] for s in _stored(phone)) == [["Laporan relawan kedua", "sent"],
                                                          ["Laporan relawan pertama", "waiting"]]

        # The first volunteer logs in again: their report is sent, exactly once; the other's is not listed.
        _log_out(phone)
        _log_in_as(phone, EMAIL, PASSWORD)
        phone.page.goto(f"{base}/kotak-keluar")
        outbox = phone.outbox(pending=0, sent=1)
        expect(outbox.locator("#outbox-sent strong")).to_have_text(["Laporan relawan pertama"])
        expect(outbox.locator("#outbox-others")).to_be_hidden()
        errors = [e for e in phone.errors if "ERR_CONNECTION_REFUSED" not in e and "Failed to fetch" not in e]
        phone.close()
    assert _authors(app, kim_id) == [("Laporan relawan kedua", OTHER_EMAIL), ("Laporan relawan pertama", EMAIL)]
    assert sorted(_reports(app, kim_id)) == [("Laporan relawan kedua", "published", 1),
                                             ("Laporan relawan pertama", "published", 1)]
    assert not errors, errors


def test_fixing_a_refused_photo_with_fewer_new_photos_sends_the_report_once(offline_app, tmp_path):  # noqa: F811
    app, base, kim_id = offline_app
    puts = []

    def refuse_the_first_photo_once(route):
        puts.append(route.request.url.rsplit("/", 1)[1])
        if len(puts) == 1:
            route.fulfill(status=422, content_type="application/json",
                          body='{"error": {"code": "invalid", "message": "Periksa isian.", '
                               '"fields": {"photo": "Berkas ini bukan gambar."}}}')
        else:
            route.continue_()

    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.login()
        phone.context.set_offline(True)
        phone.write_report("Pameran UMKM desa", PHOTOS[:3])
        phone.outbox(pending=1)
        phone.context.route("**/api/v1/activities/*/photos/*", refuse_the_first_photo_once)
        phone.context.set_offline(False)
        item = phone.page.locator("#outbox-pending .outbox-item")
        expect(item).to_have_attribute("data-state", "invalid", timeout=WAIT)
        expect(item.locator('.outbox-errors [data-field="photo"]')).to_contain_text("bukan gambar")

        # "Perbaiki" with ONE new photo for a report of three: it takes the refused photo's place,
        # the two others are kept; the report is complete and sent, not retried for ever.
        phone.page.click("#outbox-pending a.outbox-fix")
        phone.page.wait_for_url(f"{base}/kim/{KIM_NUMBER}/lapor?kotak=*")
        phone.page.set_input_files("#photos", PHOTOS[3:4])
        phone.page.click('button[value="publish"]')
        phone.page.wait_for_url(f"{base}/kotak-keluar")
        phone.outbox(pending=0, sent=1)
        errors = [e for e in phone.errors if "422" not in e]
        phone.close()
    assert puts == ["1", "1", "2", "3"]
    assert _reports(app, kim_id) == [("Pameran UMKM desa", "published", 3)]
    assert not errors, errors


# An outbox item as the earlier "Perbaiki" left it: the server stored the report and waits for two
# photos, the outbox holds one. Made here directly (the report through the API, the item in IndexedDB).
HALF_FIXED = """async ([kimId, userId, today]) => {
  const id = KimOutbox.uuid();
  const fields = { title: "Kelas literasi digital", date: today, type: "literasi-digital" };
  const csrf = await (await fetch("/api/v1/me/csrf")).json();
  const answer = await fetch("/api/v1/kims/" + kimId + "/activities", { method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf.csrf_token, "Idempotency-Key": id },
    body: JSON.stringify(Object.assign({ action: "publish", photo_count: 2 }, fields)) });
  const activity = await answer.json();
  const canvas = document.createElement("canvas"); canvas.width = 40; canvas.height = 30;
  canvas.getContext("2d").fillRect(0, 0, 40, 30);
  const blob = await new Promise(resolve => canvas.toBlob(resolve, "image/jpeg", 0.85));
  const db = await KimOutbox.open();
  await db.put("reports", { id, user_id: String(userId), kim_id: kimId, kim_name: "KIM Lereng Luring",
    post_url: "/api/v1/kims/" + kimId + "/activities", form_url: "/kim/KIM-76.02-9101/lapor", fields,
    action: "publish", photos: [{ id: KimOutbox.uuid(), blob, name: "a.jpg", size: blob.size, acked: false }],
    written_at: KimOutbox.deviceTime(), created_at: new Date().toISOString(), state: "waiting", errors: null,
    server: { id: activity.id, url: activity.url, photos_expected: 2, photos_received: 0, complete: false },
    progress: null });
  return answer.status;
}"""


def test_a_report_with_fewer_photos_than_announced_asks_for_them_instead_of_looping(offline_app, tmp_path):  # noqa: F811
    app, base, kim_id = offline_app
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
        db.session.rollback()
    puts = []
    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.context.route("**/api/v1/activities/*/photos/*",
                            lambda route: (puts.append(route.request.url.rsplit("/", 1)[1]), route.continue_()))
        phone.login()
        assert phone.page.evaluate(HALF_FIXED, [kim_id, user_id, clock.today().isoformat()]) == 201
        phone.page.goto(f"{base}/kotak-keluar")
        item = phone.page.locator("#outbox-pending .outbox-item")
        expect(item).to_have_attribute("data-state", "invalid", timeout=WAIT)
        expect(item.locator('[data-problem="photos_missing"]')).to_contain_text("pilih foto yang kurang")
        assert puts == []  # nothing sent that could never complete the report
        phone.page.click("#outbox-pending a.outbox-fix")
        phone.page.wait_for_url(f"{base}/kim/{KIM_NUMBER}/lapor?kotak=*")
        expect(phone.page.locator("#photos-outbox-error")).to_be_visible()
        phone.page.set_input_files("#photos", PHOTOS[2:3])
        phone.page.click('button[value="publish"]')
        phone.page.wait_for_url(f"{base}/kotak-keluar")
        phone.outbox(pending=0, sent=1)
        errors = phone.errors
        phone.close()
    assert puts == ["1", "2"]
    assert _reports(app, kim_id) == [("Kelas literasi digital", "published", 2)]
    assert not errors, errors


def test_the_kept_outbox_and_report_form_are_shells_without_the_installers_session(offline_app, tmp_path):  # noqa: F811
    app, base, kim_id = offline_app
    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.login()
        phone.page.goto(f"{base}/kotak-keluar")  # opened by the person: theirs, never kept
        phone.context.set_offline(True)
        for url in ("/kotak-keluar", f"/kim/{KIM_NUMBER}/lapor"):
            phone.page.goto(base + url)
            app_script = phone.page.locator("script[data-sw]")
            expect(app_script).to_have_attribute("data-shell", "1")
            assert phone.page.locator("[data-user]").count() == 0, url
            assert EMAIL not in phone.page.content()
        # Offline, the form still knows whose report it is: the account last seen on this device.
        phone.write_report("Ditulis dari cangkang", [])
        user = phone.page.evaluate("KimOutbox.all().then(items => items[0].user_id)")
        phone.context.set_offline(False)
        phone.outbox(pending=0, sent=1)
        errors = phone.errors
        phone.close()
    with app.app_context():
        assert user == str(db.session.scalar(select(User.id).where(User.email == EMAIL)))
        db.session.rollback()
    assert _reports(app, kim_id) == [("Ditulis dari cangkang", "published", 0)]
    assert not errors, errors
