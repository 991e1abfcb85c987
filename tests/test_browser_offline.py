"""The volunteer's offline app in Debian's Chromium (Playwright, a 360 px phone): reports written
without a signal wait in the outbox (IndexedDB) and reach the server exactly once, photos
included, across a browser restart, a dropped connection, a refusal by the server and an update
of the service worker (issue 16, "Tests").

The app runs in a thread on a free port of 127.0.0.1 (service workers need a secure origin:
localhost or 127.0.0.1) with its own database connections, so these tests commit real rows and
remove them afterwards. Each test gets a fresh browser profile in tmp_path, so closing and
relaunching the browser keeps its IndexedDB, its service worker and its remembered login.
"""
import contextlib
import io
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select
from flask import request
from werkzeug.serving import make_server

from kim_platform import create_app
from kim_platform.accounts.models import User
from kim_platform.accounts.passwords import hash_password
from kim_platform.accounts.services import utcnow
from kim_platform.activities.models import Activity, Photo
from kim_platform.audit.models import AuditEntry
from kim_platform.config import PROJECT_ROOT
from kim_platform.core import clock
from kim_platform.core.throttle import limiter
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, Membership

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
EMAIL = "luring.relawan@example.id"
PASSWORD = "sinyal hilang di lereng lawu"
KIM_NUMBER = "KIM-76.02-9101"
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a1c30000000049454e44ae426082")
WAIT = 20_000  # ms: the longest any step of these tests may take


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def offline_app(tmp_path):
    with serve_offline_app(tmp_path) as served:
        yield served


@contextlib.contextmanager
def serve_offline_app(tmp_path, **overrides):
    """The app served on a free port, with a volunteer of a verified KIM (committed, removed after)."""
    limiter.reset()
    app = create_app({"TESTING": True, "UPLOAD_DIR": str(tmp_path / "uploads"),
                      "MAIL_OUTBOX": str(tmp_path / "mail"), "OFFLINE_APP_VERSION": "1", **overrides})
    with app.app_context():
        user = User(name="Relawan Luring", email=EMAIL, password_hash=hash_password(PASSWORD),
                    email_verified_at=utcnow())
        db.session.add(user)
        db.session.flush()
        kim = Kim(name="KIM Lereng Luring", slug="kim-lereng-luring-test", desa_code="76.02.01.1003",
                  point="SRID=4326;POINT(118.95994 -2.714437)", bidang=["literasi"], status="verified",
                  number=KIM_NUMBER, join_code="LURING01", socials={})
        db.session.add(kim)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, kim_id=kim.id, role="anggota"))
        db.session.commit()
        kim_id = kim.id
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}", kim_id
    finally:
        server.shutdown()
        with app.app_context():
            user_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
            db.session.execute(delete(Kim).where(Kim.id == kim_id))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
            db.engine.dispose()
        limiter.reset()


def _phone_photo(width: int, height: int, colour=(180, 90, 40)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG", quality=85)
    return out.getvalue()


PHOTOS = [{"name": f"IMG_{i:04d}.jpg", "mimeType": "image/jpeg", "buffer": _phone_photo(4000, 3000, (40 * i, 90, 40))}
          for i in range(1, 5)]


class Phone:
    """A 360×740 touch Chromium with its own profile folder; console errors are collected."""

    def __init__(self, p, profile, base, offline=False):
        self.base = base
        self.errors = []
        self.context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, offline=offline,
            locale="id-ID")
        # Base-map tiles come from the internet, which tests must not need: serve blank ones.
        self.context.route("**/tile.openstreetmap.org/**",
                           lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG))
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.watch(self.page)

    def watch(self, page):
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def reopen(self):
        """Close the page and open the app again in a new one (same browser)."""
        self.page.close()
        self.page = self.context.new_page()
        self.watch(self.page)
        return self.page

    def login(self):
        page = self.page
        page.goto(f"{self.base}/masuk")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.check("#remember")
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.base}/akun")
        self.wait_until_ready()

    def wait_until_ready(self):
        """The service worker controls the page and has kept the volunteer's pages for offline use."""
        self.page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        if self.page.evaluate("() => navigator.serviceWorker.controller === null"):
            # Activated while this page was loading, and not (yet) claimed it: the next load is controlled.
            self.page.reload()
        self.page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=WAIT)
        self.page.wait_for_function("() => document.documentElement.hasAttribute('data-offline-ready')",
                                    timeout=WAIT)

    def write_report(self, title, photos, date=None):
        page = self.page
        page.goto(f"{self.base}/kim/{KIM_NUMBER}/lapor")
        page.fill("#title", title)
        if date:
            page.fill("#date", date)
        page.select_option("#type", "literasi-digital")
        page.fill("#reach_offline", "12")
        page.set_input_files("#photos", photos)
        page.click('button[value="publish"]')
        page.wait_for_url(f"{self.base}/kotak-keluar", timeout=WAIT)

    def outbox(self, pending=None, sent=None):
        try:
            return self._outbox(pending, sent)
        except AssertionError:
            print("URL", self.page.url, "ERRORS", self.errors)
            print(self.page.content()[:3000])
            raise

    def _outbox(self, pending=None, sent=None):
        locator = self.page.locator("#outbox")
        if pending is not None:
            expect(locator).to_have_attribute("data-pending", str(pending), timeout=WAIT)
        if sent is not None:
            expect(locator).to_have_attribute("data-sent", str(sent), timeout=WAIT)
        return locator

    def no_sideways_scroll(self):
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{self.page.url} is {width} px wide at 360 px"

    def close(self):
        self.context.close()


def _reports(app, kim_id):
    """(title, status, number of photos) of the KIM's reports on the server."""
    with app.app_context():
        rows = db.session.execute(
            select(Activity.title, Activity.status, func.count(Photo.id))
            .outerjoin(Photo, Photo.activity_id == Activity.id)
            .where(Activity.kim_id == kim_id).group_by(Activity.id).order_by(Activity.id)).all()
        db.session.rollback()
        return [tuple(r) for r in rows]


def test_two_offline_reports_reach_the_server_once_after_a_browser_restart(offline_app, tmp_path):
    app, base, kim_id = offline_app
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.login()
        phone.page.goto(f"{base}/kim/{KIM_NUMBER}/lapor")  # opened once online: its assets are kept

        phone.context.set_offline(True)
        phone.write_report("Literasi digital di balai desa", PHOTOS[:2])
        phone.outbox(pending=1)
        phone.write_report("Cek fakta bersama karang taruna", PHOTOS[2:])
        outbox = phone.outbox(pending=2, sent=0)
        expect(outbox.locator("#outbox-pending .outbox-state")).to_have_text(["menunggu sinyal"] * 2)
        expect(phone.page.locator("[data-outbox-count]")).to_have_text("2")
        phone.no_sideways_scroll()
        phone.page.screenshot(path=str(ARTIFACTS / "outbox-offline-360.png"), full_page=True)
        # The photos were shrunk on the device: JPEG, 1600 px on the long side.
        sides = phone.page.evaluate("""KimOutbox.all().then(items => Promise.all(items.flatMap(i => i.photos)
            .map(p => createImageBitmap(p.blob).then(b => [p.blob.type, Math.max(b.width, b.height)]))))""")
        assert sides == [["image/jpeg", 1600]] * 4
        # Nothing has reached the server.
        assert _reports(app, kim_id) == []

        # Any page the app has not kept says plainly that it needs a connection.
        phone.page.goto(f"{base}/kegiatan")
        expect(phone.page.locator("h1")).to_have_text("Halaman ini perlu koneksi internet")
        phone.no_sideways_scroll()

        # Close the page, close the browser; reopen it still offline: the reports are still there.
        phone.reopen()
        phone.close()
        phone = Phone(p, tmp_path / "profile", base, offline=True)
        phone.page.goto(f"{base}/kotak-keluar")
        phone.outbox(pending=2, sent=0)
        assert _reports(app, kim_id) == []

        # The signal returns: both are sent, each exactly once, with both photos.
        phone.context.set_offline(False)
        outbox = phone.outbox(pending=0, sent=2)
        expect(outbox.locator("#outbox-sent .outbox-state")).to_have_text(["terkirim"] * 2)
        expect(phone.page.locator("[data-outbox-count]")).to_be_hidden()
        links = outbox.locator("#outbox-sent a.outbox-view")
        expect(links).to_have_count(2)
        phone.page.screenshot(path=str(ARTIFACTS / "outbox-sent-360.png"), full_page=True)
        links.first.click()
        phone.page.wait_for_url(f"{base}/kegiatan/*")
        assert phone.page.locator(".gallery img").count() == 2
        errors = phone.errors
        phone.close()
    assert sorted(_reports(app, kim_id)) == [("Cek fakta bersama karang taruna", "published", 2),
                                             ("Literasi digital di balai desa", "published", 2)]
    assert not errors, errors


def test_a_connection_dropped_during_the_third_photo_is_retried_without_duplicates(offline_app, tmp_path):
    app, base, kim_id = offline_app
    puts = []  # (photo number in the report, Idempotency-Key) of every photo upload that left the phone

    def drop_the_third_answer(route):
        request = route.request
        puts.append((request.url.rsplit("/", 1)[1], request.headers.get("idempotency-key")))
        if len(puts) == 3:
            route.fetch()  # the server stores the photo, but its answer never arrives
            route.abort("connectionreset")
        else:
            route.continue_()

    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.login()
        phone.context.set_offline(True)
        phone.write_report("Siaran radio komunitas", PHOTOS[:2])
        phone.write_report("Pelatihan jurnalisme warga", PHOTOS[2:])
        phone.outbox(pending=2)

        # Every state the outbox shows, as it shows it.
        phone.page.evaluate("""() => { window.seenStates = [];
            new MutationObserver(() => document.querySelectorAll(".outbox-state").forEach(el => {
              if (!window.seenStates.includes(el.textContent)) { window.seenStates.push(el.textContent); } }))
            .observe(document.getElementById("outbox"), { subtree: true, childList: true, characterData: true }); }""")
        phone.context.route("**/api/v1/activities/*/photos/*", drop_the_third_answer)
        phone.context.set_offline(False)
        phone.outbox(pending=0, sent=2)
        seen = phone.page.evaluate("window.seenStates")
        assert {"mengirim (foto 1 dari 2)", "mengirim (foto 2 dari 2)", "terkirim"} <= set(seen), seen
        errors = [e for e in phone.errors if "ERR_CONNECTION_RESET" not in e and "Failed to fetch" not in e]
        phone.close()
    # Photo 1 of the second report went twice (its answer was lost), with the same key; the
    # acknowledged ones never went again.
    assert len(puts) == 5
    assert puts[2] == puts[3]
    assert len(set(puts)) == 4
    assert sorted(_reports(app, kim_id)) == [("Pelatihan jurnalisme warga", "published", 2),
                                             ("Siaran radio komunitas", "published", 2)]
    assert not errors, errors


def test_a_token_refused_as_stale_is_renewed_and_the_report_sent_once(offline_app, tmp_path):
    """Two answers of one browser crossing (the service worker re-caching a form while the outbox
    fetched its token) can leave the session holding another CSRF token than the one fetched: the
    server's "csrf_failed" makes the outbox take a fresh token and send again, for the report and
    for a photo, instead of holding the report as refused."""
    app, base, kim_id = offline_app
    sent = []  # (method, token the request carried) of every report post and photo upload

    def first_with_a_stale_token(route):
        request = route.request
        first = not any(method == request.method for method, _ in sent)
        headers = {**request.headers, "x-csrftoken": "stale-token"} if first else request.headers
        sent.append((request.method, headers.get("x-csrftoken")))
        route.continue_(headers=headers)

    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.login()
        phone.context.set_offline(True)
        phone.write_report("Sosialisasi cek fakta", PHOTOS[:1])
        phone.outbox(pending=1)
        phone.context.route("**/api/v1/kims/*/activities", first_with_a_stale_token)
        phone.context.route("**/api/v1/activities/*/photos/*", first_with_a_stale_token)
        phone.context.set_offline(False)
        phone.outbox(pending=0, sent=1)
        phone.close()
    assert [method for method, _ in sent] == ["POST", "POST", "PUT", "PUT"]
    assert sent[0][1] == sent[2][1] == "stale-token" and "stale-token" not in (sent[1][1], sent[3][1])
    assert _reports(app, kim_id) == [("Sosialisasi cek fakta", "published", 1)]


def test_a_report_the_server_refuses_stays_in_the_outbox_until_fixed(offline_app, tmp_path):
    app, base, kim_id = offline_app
    # The day after today in Papua (WIT), the first zone to reach a date: in the future for the server
    # whatever the hour (today in Jakarta + 1 is already "today" in Papua from 15:00 UTC).
    tomorrow = (clock.latest_today() + timedelta(days=1)).isoformat()
    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.login()
        phone.context.set_offline(True)
        phone.write_report("Sosialisasi pemilu damai", PHOTOS[:1], date=tomorrow)
        phone.outbox(pending=1)

        phone.context.set_offline(False)
        item = phone.page.locator("#outbox-pending .outbox-item")
        expect(item).to_have_attribute("data-state", "invalid", timeout=WAIT)
        expect(item.locator(".outbox-state")).to_have_text("perlu diperbaiki")
        expect(item.locator('.outbox-errors [data-field="date"]')).to_contain_text("Tanggal")
        phone.page.reload()  # it stays, with its error, however often the outbox opens
        expect(phone.page.locator('#outbox-pending .outbox-item[data-state="invalid"]')).to_have_count(1)
        phone.no_sideways_scroll()
        phone.page.screenshot(path=str(ARTIFACTS / "outbox-needs-fixing-360.png"), full_page=True)
        assert _reports(app, kim_id) == []

        # "Perbaiki" reopens the form filled from the outbox, the server's error beside the field.
        phone.page.click("#outbox-pending a.outbox-fix")
        phone.page.wait_for_url(f"{base}/kim/{KIM_NUMBER}/lapor?kotak=*")
        expect(phone.page.locator("#title")).to_have_value("Sosialisasi pemilu damai")
        expect(phone.page.locator("#date")).to_have_value(tomorrow)
        expect(phone.page.locator("#date-outbox-error")).to_be_visible()
        expect(phone.page.locator("#outbox-kept-photos")).to_be_visible()
        phone.no_sideways_scroll()
        phone.page.fill("#date", clock.today().isoformat())
        phone.page.click('button[value="publish"]')
        phone.page.wait_for_url(f"{base}/kotak-keluar")
        phone.outbox(pending=0, sent=1)
        errors = phone.errors
        phone.close()
    assert _reports(app, kim_id) == [("Sosialisasi pemilu damai", "published", 1)]
    assert not [e for e in errors if "422" not in e], errors


V1_ITEM = """([kimId, userId, today]) => new Promise((resolve, reject) => {
  // The outbox as the first version of the app left it: database version 1, one store, no index.
  const open = indexedDB.open("kim-outbox", 1);
  open.onupgradeneeded = () => open.result.createObjectStore("reports", { keyPath: "id" });
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const tx = open.result.transaction("reports", "readwrite");
    tx.objectStore("reports").put({
      id: "0b7c3f5e-1d2a-4c8e-9f00-5a6b7c8d9e01", user_id: String(userId), kim_id: kimId, kim_name: "KIM Lereng Luring",
      post_url: "/api/v1/kims/" + kimId + "/activities", form_url: "/kim/KIM-76.02-9101/lapor",
      fields: { title: "Ditulis di versi lama", date: today, type: "literasi-digital" },
      action: "publish", photos: [], written_at: "2026-01-05T09:30:00+08:00", created_at: "2026-01-05T01:30:00.000Z",
      state: "waiting", errors: null, server: null, progress: null });
    tx.oncomplete = () => { open.result.close(); resolve(true); };
  };
})"""


def test_a_service_worker_update_keeps_the_queued_reports(offline_app, tmp_path):
    app, base, kim_id = offline_app
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
        db.session.rollback()
    blocked = []
    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        # The sync engine's first calls do not answer, so the reports keep waiting until unblocked.
        for url in (f"{base}/api/v1/me", f"{base}/api/v1/me/csrf"):
            phone.context.route(url, lambda route: (blocked.append(route.request.url),
                                                    route.abort("connectionrefused")))
        # An outbox left by an older version of the app (IndexedDB version 1), before any page ran.
        phone.context.route(f"{base}/blank", lambda route: route.fulfill(status=200, content_type="text/html",
                                                                           body="<!doctype html><title>-</title>"))
        phone.page.goto(f"{base}/blank")
        phone.page.evaluate(V1_ITEM, [kim_id, user_id, clock.today().isoformat()])
        phone.context.unroute(f"{base}/blank")
        phone.login()
        old_version = phone.page.get_attribute("html", "data-offline-ready")

        phone.context.set_offline(True)
        phone.write_report("Laporan sebelum pembaruan", PHOTOS[:2])
        phone.outbox(pending=2)
        # Back online, but the API does not answer: the reports keep waiting while the worker updates.
        phone.context.set_offline(False)
        app.config["OFFLINE_APP_VERSION"] = "2"
        phone.page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
        phone.page.wait_for_function(
            """old => new Promise(resolve => {
                 const ask = () => { const pipe = new MessageChannel();
                   pipe.port1.onmessage = e => resolve(e.data.version !== old);
                   navigator.serviceWorker.controller.postMessage({ type: "version" }, [pipe.port2]); };
                 ask(); })""", arg=old_version, timeout=WAIT, polling=500)
        phone.reopen().goto(f"{base}/kotak-keluar")
        outbox = phone.outbox(pending=2, sent=0)
        expect(outbox.locator("#outbox-pending strong")).to_have_text(["Ditulis di versi lama",
                                                                       "Laporan sebelum pembaruan"])
        assert blocked and _reports(app, kim_id) == []
        version = phone.page.evaluate("KimOutbox.open().then(db => [db.version, [...db.objectStoreNames]])")
        assert version == [2, ["meta", "reports"]]

        expect(outbox.locator("#outbox-pending .outbox-state")).to_have_text(["menunggu sinyal"] * 2)
        for url in (f"{base}/api/v1/me", f"{base}/api/v1/me/csrf"):
            phone.context.unroute(url)
        phone.page.click("#outbox-send")
        phone.outbox(pending=0, sent=2)
        errors = [e for e in phone.errors if "ERR_CONNECTION_REFUSED" not in e and "Failed to fetch" not in e]
        phone.close()
    assert sorted(_reports(app, kim_id)) == [("Ditulis di versi lama", "published", 0),
                                             ("Laporan sebelum pembaruan", "published", 2)]
    assert not errors, errors


def test_a_report_waits_for_the_volunteer_to_log_in_again(offline_app, tmp_path):
    app, base, kim_id = offline_app
    with playwright_api.sync_playwright() as p:
        phone = Phone(p, tmp_path / "profile", base)
        phone.login()
        phone.context.set_offline(True)
        phone.write_report("Laporan sesudah sesi habis", PHOTOS[:1])
        phone.outbox(pending=1)
        phone.context.clear_cookies()  # the session ended while the phone had no signal

        phone.context.set_offline(False)
        item = phone.page.locator("#outbox-pending .outbox-item")
        expect(item).to_have_attribute("data-state", "auth", timeout=WAIT)
        expect(item.locator(".outbox-state")).to_have_text("perlu masuk lagi")
        assert _reports(app, kim_id) == []
        phone.page.click("#outbox-pending a.outbox-login")
        phone.page.fill("#email", EMAIL)
        phone.page.fill("#password", PASSWORD)
        phone.page.click("button[type=submit]")
        phone.page.wait_for_url(f"{base}/kotak-keluar")
        phone.outbox(pending=0, sent=1)
        errors = [e for e in phone.errors if "401" not in e]
        phone.close()
    assert _reports(app, kim_id) == [("Laporan sesudah sesi habis", "published", 1)]
    assert not errors, errors


def test_a_report_refused_with_503_while_redis_is_down_is_sent_once_redis_is_back(private_redis, tmp_path):
    """Redis stopped: posting answers 503 with Retry-After (its limits cannot be checked, core/errors.py);
    the outbox keeps the report waiting, waits at least what Retry-After says, and sends it, once,
    when Redis is back."""
    storage = limiter._storage, limiter._limiter  # one limiter per process: put the suite's back after
    try:
        with serve_offline_app(tmp_path, RATELIMIT_STORAGE_URI=private_redis.url) as (app, base, kim_id):
            answers = []
            app.after_request(lambda response: answers.append((request.method, request.path, response.status_code))
                              or response)
            with playwright_api.sync_playwright() as p:
                phone = Phone(p, tmp_path / "profile", base)
                phone.login()
                phone.context.set_offline(True)
                phone.write_report("Rapat warga soal hoaks", PHOTOS[:1])
                phone.outbox(pending=1)
                phone.page.evaluate("""() => { window.retryDelays = [];
                    new BroadcastChannel("kim-outbox").onmessage = (event) => {
                      if (event.data && event.data.type === "retry") {
                        window.retryDelays.push(event.data.delay); } }; }""")
                private_redis.stop()
                phone.context.set_offline(False)
                phone.page.wait_for_function("() => window.retryDelays.length > 0", timeout=WAIT)
                refused = [a for a in answers if a[0] == "POST" and a[1].endswith("/activities")]
                assert refused and {status for _, _, status in refused} == {503}
                assert min(phone.page.evaluate("window.retryDelays")) >= 5000  # the server's Retry-After
                expect(phone.page.locator("#outbox-pending .outbox-state")).to_have_text(["menunggu sinyal"])
                assert _reports(app, kim_id) == []
                private_redis.start()
                phone.outbox(pending=0, sent=1)
                errors = [e for e in phone.errors if "503" not in e]
                phone.close()
            assert _reports(app, kim_id) == [("Rapat warga soal hoaks", "published", 1)]
            assert not errors, errors
    finally:
        limiter._storage, limiter._limiter = storage
