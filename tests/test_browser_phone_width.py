"""Every page a volunteer uses fits a 360 px phone, logged in (issue 16), in Debian's Chromium
driven by Playwright: nothing scrolls sideways, the feed/teladan/map filters sit behind one
"Filter" button under the results, and the region filter finds "Mamju" and sends its code.

The volunteer has a long email address (it pushed "Akun saya" to 431 px). The app runs in a
thread on a free port with its own connections; the rows are committed and removed afterwards.
"""
import socket
import threading

import pytest
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from kim_platform import create_app
from kim_platform.accounts.models import ApiToken, LoginSession, User
from kim_platform.accounts.passwords import hash_password
from kim_platform.accounts.services import utcnow
from kim_platform.activities.models import Activity
from kim_platform.audit.models import AuditEntry
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, Membership

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a1c30000000049454e44ae426082")
EMAIL = "relawan.dengan.alamat.surel.yang.sangat.panjang.sekali@kelurahan-binanga-mamuju.example.id"
PASSWORD = "perahu sandeq di teluk mamuju"
WIDTH = 360
SLUG = "kim-layar-sempit-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phone-width")
    app = create_app({"TESTING": True, "UPLOAD_DIR": str(folder / "uploads"), "MAIL_OUTBOX": str(folder / "mail")})
    with app.app_context():
        user = User(name="Relawan Layar Sempit Dengan Nama Yang Cukup Panjang", email=EMAIL,
                    password_hash=hash_password(PASSWORD), email_verified_at=utcnow(),
                    whatsapp="+6281234567890")
        db.session.add(user)
        db.session.flush()
        kim = Kim(name="KIM Layar Sempit Kelurahan Binanga Kecamatan Mamuju", slug=SLUG,
                  desa_code="76.02.01.1002", point="SRID=4326;POINT(118.967345 -2.749192)",
                  bidang=["literasi"], status="verified", number="KIM-76.02-9301", join_code="SEMPIT01",
                  socials={"instagram": "https://www.instagram.com/kim.layar.sempit.binanga.mamuju.official"},
                  verified_at=utcnow())
        db.session.add(kim)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, kim_id=kim.id, role="ketua"))
        report = Activity(kim_id=kim.id, author_id=user.id, title="Literasi digital di balai kelurahan",
                          activity_date=clock.today(), type="diskusi", desa_code=kim.desa_code,
                          point="SRID=4326;POINT(118.967345 -2.749192)", published_at=utcnow(),
                          description_html="<p>https://www.example.id/sebuah/alamat/yang/sangat/panjang/tanpa/spasi/sama/sekali</p>",
                          links=["https://www.example.id/sebuah/alamat/yang/sangat/panjang/tanpa/spasi"])
        db.session.add(report)
        db.session.commit()
        refs = {"kim": kim.number, "report": report.id}
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}", refs
    finally:
        server.shutdown()
        with app.app_context():
            user_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
            kim_id = db.session.scalar(select(Kim.id).where(Kim.slug == SLUG))
            db.session.execute(delete(Activity).where(Activity.kim_id == kim_id))
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
            db.session.execute(delete(Membership).where(Membership.kim_id == kim_id))
            db.session.execute(delete(Kim).where(Kim.id == kim_id))
            db.session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
            db.session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
            db.engine.dispose()


@pytest.fixture(scope="module")
def phone(site):
    """A 360×740 touch page, logged in as the volunteer; errors are collected in page.errors."""
    _, base, _ = site
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": WIDTH, "height": 740}, is_mobile=True, has_touch=True,
                                      device_scale_factor=2)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        # Nothing a page asks of us is missing (hashed names, Leaflet's images).
        page.on("response", lambda r: r.status >= 400 and r.url.startswith(base)
                and page.errors.append(f"{r.status} {r.url}"))
        page.route("**/tile.openstreetmap.org/**",
                   lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG))
        page.goto(f"{base}/masuk")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/akun")
        yield page
        browser.close()


# Every page a volunteer uses ({kim} and {report} are the volunteer's KIM number and report id).
VOLUNTEER_PAGES = [
    "/", "/wilayah", "/wilayah/76", "/wilayah/76.02.01", "/wilayah/76.02.01.1002", "/wilayah/cari?q=Mamuju",
    "/akun", "/akun/ubah", "/akun/sandi",
    "/kim", "/kim?wilayah=76.02", "/kim/{kim}", "/kim/daftar", "/kim/{kim}/ubah", "/kim/{kim}/anggota", "/kim/gabung",
    "/kim/{kim}/lapor", "/kegiatan", "/kegiatan?wilayah=76.02", "/kegiatan/{report}", "/kegiatan/{report}/ubah",
    "/cakupan", "/cakupan?wilayah=76.02", "/teladan", "/teladan/contoh", "/teladan/cara-penilaian", "/peta", "/kotak-keluar", "/luring",
    "/aspirasi/publik",
]


@pytest.mark.parametrize("path", VOLUNTEER_PAGES)
def test_no_volunteer_page_scrolls_sideways_at_360px(site, phone, path):
    _, base, refs = site
    response = phone.goto(base + path.format(**refs))
    assert response.status == 200, path
    phone.wait_for_load_state("networkidle")  # maps: every tile answered before the next page
    widths = phone.evaluate("""() => {
        const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
            .filter(e => !e.closest('.leaflet-container, .main-nav, .table-wrap, .gallery, .visually-hidden, .skip-link'))
            .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
        return {scroll: document.documentElement.scrollWidth, wide};
    }""")
    assert widths["scroll"] <= WIDTH, (path, widths)
    assert not phone.errors, phone.errors


@pytest.mark.parametrize("path, results", [("/kegiatan", ".activity-list"), ("/teladan", "ol.teladan"),
                                           ("/peta", ".national-map")])
def test_results_come_first_and_filters_wait_behind_one_button(site, phone, path, results):
    _, base, _ = site
    phone.goto(base + path)
    phone.wait_for_load_state("networkidle")
    panel = phone.locator("details.filter-panel")
    assert panel.count() == 1 and panel.get_attribute("open") is None
    summary = panel.locator("summary")
    assert summary.inner_text().startswith("Filter")
    assert summary.bounding_box()["height"] < 60  # one button, one line
    assert not panel.locator("select").first.is_visible()
    # The results (the map) start on the first screen: the filters no longer fill it.
    assert phone.locator(results).bounding_box()["y"] < 740 - 100
    summary.click()
    assert panel.locator("select").first.is_visible()


def test_region_search_fills_the_code(site, phone):
    _, base, _ = site
    phone.goto(f"{base}/kegiatan")
    phone.click("details.filter-panel summary")
    field = phone.locator(".region-picker input[type=search]")
    assert field.get_attribute("name") is None  # the hidden field sends the code
    field.fill("Mamju")
    option = phone.locator(".region-options button", has_text="76.02.01")
    option.first.wait_for(timeout=5000)
    option.first.click()
    assert phone.input_value('.region-picker input[type=hidden][name="wilayah"]') == "76.02.01"
    phone.click(".filter-panel button[type=submit]")
    phone.wait_for_url("**/kegiatan?*wilayah=76.02.01*")
    # Back on the page, the field shows the region's name and still carries the code.
    assert "Mamuju" in phone.input_value(".region-picker input[type=search]")
    assert phone.input_value('.region-picker input[type=hidden][name="wilayah"]') == "76.02.01"
    assert not phone.errors, phone.errors
