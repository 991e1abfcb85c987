"""A volunteer registers a KIM and reports an activity from a phone-sized Chromium (Debian's,
driven by Playwright).

The app runs in a thread on a free port with its own database connections, so this test
commits real rows; it removes them afterwards. Screenshots go to test-artifacts/.
"""
import io
import socket
import threading

import pytest
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from kim_platform import create_app
from kim_platform.accounts.models import User
from kim_platform.accounts.passwords import hash_password
from kim_platform.audit.models import AuditEntry
from kim_platform.config import PROJECT_ROOT
from kim_platform.core.clock import utcnow
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, Membership

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
EMAIL = "browser.relawan@example.id"
PASSWORD = "perahu sandeq mamuju"
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a1c30000000049454e44ae426082")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_app(tmp_path):
    app = create_app({"TESTING": True, "UPLOAD_DIR": str(tmp_path / "uploads"),
                      "MAIL_OUTBOX": str(tmp_path / "mail")})
    with app.app_context():
        user = User(name="Relawan Peramban", email=EMAIL, password_hash=hash_password(PASSWORD),
                    email_verified_at=utcnow())
        db.session.add(user)
        db.session.flush()
        kim = Kim(name="KIM Peramban Lama", slug="kim-peramban-lama-test", desa_code="76.02.01.1003",
                  point="SRID=4326;POINT(118.95994 -2.714437)", bidang=["literasi"], status="verified",
                  number="KIM-76.02-9001", join_code="PERAMBAN", socials={})
        db.session.add(kim)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, kim_id=kim.id, role="ketua"))
        db.session.add(Kim(name="KIM Peramban Dagang", slug="kim-peramban-dagang-test", desa_code="76.02.01.1003",
                           point="SRID=4326;POINT(118.9612 -2.7152)", bidang=["umkm"], status="verified",
                           number="KIM-76.02-9002", join_code="PERDAGAN", socials={}))
        db.session.commit()
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        with app.app_context():
            user_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
            kim_ids = db.session.scalars(select(Kim.id).where(
                Kim.name.in_(["KIM Peramban Binanga", "KIM Peramban Lama", "KIM Peramban Dagang"]))).all()
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
            db.session.execute(delete(Kim).where(Kim.id.in_(kim_ids)))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
            db.engine.dispose()


def _browser(p, errors):
    """A 360×740 touch browser page; console errors are collected."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Base-map tiles come from the internet, which tests must not need: serve blank ones.
    page.route("**/tile.openstreetmap.org/**",
               lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG))
    return browser, page


def _phone(p, base, errors):
    """The same, logged in as the demo volunteer."""
    browser, page = _browser(p, errors)
    page.goto(f"{base}/masuk")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/akun")
    return browser, page


def _phone_photo(width: int, height: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), (180, 90, 40))
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (2.0, 44.0, 57.0), 3: "E", 4: (118.0, 58.0, 2.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=85)
    return out.getvalue()


def test_report_an_activity_with_two_phone_photos(live_app):
    app, base = live_app
    ARTIFACTS.mkdir(exist_ok=True)
    errors, uploads = [], []
    with playwright_api.sync_playwright() as p:
        browser, page = _phone(p, base, errors)
        # The form saves the report in the outbox, which sends the photos one by one (issue 16).
        # The page or the service worker sends them; Chromium hides the body of a request made by
        # the service worker (None here), so only the bodies it shows are measured.
        page.context.on("request", lambda r: r.method == "PUT" and "/photos/" in r.url
                        and uploads.append(r.post_data_buffer))
        page.goto(f"{base}/kim/KIM-76.02-9001/lapor")
        page.fill("#title", "Literasi digital di balai desa")
        page.select_option("#type", "literasi-digital")
        page.fill("#reach_offline", "35")
        page.set_input_files("#photos", [
            {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": _phone_photo(4000, 3000)},
            {"name": "IMG_0002.jpg", "mimeType": "image/jpeg", "buffer": _phone_photo(3000, 4000)},
        ])
        page.screenshot(path=str(ARTIFACTS / "report-form-360.png"), full_page=True)
        page.click('button[value="publish"]')
        page.wait_for_url(f"{base}/kotak-keluar", timeout=15000)
        page.click("#outbox-sent a.outbox-view", timeout=15000)  # shown once the server has it all
        page.wait_for_url(f"{base}/kegiatan/*", timeout=15000)
        assert page.locator(".gallery img").count() == 2
        assert "Literasi digital di balai desa" in page.inner_text("h1")
        page.screenshot(path=str(ARTIFACTS / "report-page-360.png"), full_page=True)
        browser.close()
    assert not errors, errors
    # The browser shrank the photos before sending them (the originals are ~0.3 MB each here,
    # phone photos several MB); two requests carried them, resized (the stored size is checked in
    # tests/test_browser_offline.py, which reads the photos the server received).
    assert len(uploads) == 2
    assert all(len(body) < len(_phone_photo(4000, 3000)) for body in uploads if body is not None)


def test_register_a_kim_from_a_phone(live_app):
    app, base = live_app
    ARTIFACTS.mkdir(exist_ok=True)
    errors = []
    with playwright_api.sync_playwright() as p:
        browser, page = _phone(p, base, errors)

        page.goto(f"{base}/kim/daftar")
        page.select_option("#choose-provinsi", "76")
        page.wait_for_selector('#choose-kabupaten option[value="76.02"]', state="attached")
        page.select_option("#choose-kabupaten", "76.02")
        page.wait_for_selector('#choose-kecamatan option[value="76.02.01"]', state="attached")
        page.select_option("#choose-kecamatan", "76.02.01")
        page.wait_for_selector('#choose-desa option[value="76.02.01.1002"]', state="attached")
        page.select_option("#choose-desa", "76.02.01.1002")
        playwright_api.expect(page.locator("#lat")).not_to_have_value("")  # filled from the desa centroid
        assert page.input_value("#desa_code") == "76.02.01.1002"
        assert abs(float(page.input_value("#lat")) - -2.749192) < 1e-4

        # Tap the map a little off the pin: the coordinates follow.
        page.locator("#pin-map").scroll_into_view_if_needed()
        box = page.locator("#pin-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 + 30)
        assert page.input_value("#lat") != "-2.749192"

        page.fill("#name", "KIM Peramban Binanga")
        page.check('input[name="bidang"][value="literasi"]')
        page.fill("#description", "Didaftarkan dari ponsel.")
        page.screenshot(path=str(ARTIFACTS / "kim-register-360.png"), full_page=True)
        page.click('button[value="submit"]')
        page.wait_for_url(f"{base}/kim/kim-peramban-binanga-*")
        assert "KIM Peramban Binanga" in page.inner_text("h1")
        page.screenshot(path=str(ARTIFACTS / "kim-profile-360.png"), full_page=True)
        browser.close()
    print(f"screenshots in {ARTIFACTS}")
    assert not errors, errors
    with app.app_context():
        kim = db.session.scalar(select(Kim).where(Kim.name == "KIM Peramban Binanga"))
        assert kim.status == "submitted" and kim.desa_code == "76.02.01.1002"


def _rendered(page, what="rendered") -> int:
    """Distinct KIM features (or, with what="points", single KIM points) the map has drawn."""
    return int(page.get_attribute("#map-tools", f"data-{what}") or 0)


def _wait_for(predicate, page, timeout=15.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        page.wait_for_timeout(200)
    return False


def test_national_map_on_a_phone(live_app):
    from kim_platform.maps import tiles

    tiles.cache.clear()
    tiles.forget_version()
    app, base = live_app
    ARTIFACTS.mkdir(exist_ok=True)
    errors = []
    with playwright_api.sync_playwright() as p:
        browser, page = _browser(p, errors)
        page.goto(f"{base}/peta")
        # The national view: aggregated KIM circles and the coverage choropleth are drawn.
        assert _wait_for(lambda: _rendered(page) >= 1, page), "no KIM features drawn"
        assert page.locator(".leaflet-tile-container svg path").count() > 0  # choropleth and KIMs
        page.screenshot(path=str(ARTIFACTS / "peta-national-360.png"))

        page.fill("#map-q", "Peramban Dagang")
        page.click("#map-search button[type=submit]")
        page.click("#map-results button >> text=KIM Peramban Dagang")
        assert _wait_for(lambda: page.get_attribute("#map-tools", "data-moving") == "0"
                         and _rendered(page, "points") == 2, page), f"drew {_rendered(page, 'points')} KIMs"
        box = page.locator(".folium-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        popup = page.locator(".kim-popup")
        popup.wait_for(timeout=10000)
        assert "KIM Peramban Dagang" in popup.inner_text()
        page.screenshot(path=str(ARTIFACTS / "peta-popup-360.png"))

        page.click("details.filter-panel summary")  # the filters wait behind one button
        page.select_option("#filter-bidang", "literasi")
        assert _wait_for(lambda: _rendered(page, "points") == 1, page), f"filter left {_rendered(page, 'points')}"
        browser.close()
    assert not errors, errors
