"""Names and titles typed by users reach map tooltips as text, in a real browser (Debian's
chromium driven by Playwright).

A KIM name or report title with JavaScript escapes (`\\u003c`, `\\u{zz}`), backticks, `${}`
or `</script>` used to become markup inside folium's template-literal tooltip, or to break the
map's whole script. One browser serves the module; the app runs in a thread on a free port
with its own connections, so the rows here are committed and removed afterwards.
"""
import socket
import threading

import pytest
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from kim_platform import create_app
from kim_platform.accounts.models import RoleGrant, User
from kim_platform.accounts.passwords import hash_password
from kim_platform.activities.models import Activity
from kim_platform.audit.models import AuditEntry
from kim_platform.core import clock
from kim_platform.core.clock import utcnow
from kim_platform.extensions import db
from kim_platform.kims.models import Kim

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a1c30000000049454e44ae426082")
EMAIL = "browser.pembina.tooltip@example.id"
PASSWORD = "lontara di tepi sungai"
# Every way out of a JS string, a template literal or the script element, and an invalid escape.
HOSTILE = (r"KIM \u003ca href=https://evil.example\u003eKlik\u003c/a\u003e `${7*6}` "
           r"</script><b>tebal</b> \u{zz} \x3c ' \" \\ akhir")
TITLE = "Lapor " + HOSTILE[4:]
# Without the invalid escape the old map still ran, and this became a live link in the tooltip.
LINK_NAME = r"KIM \u003ca href=https://evil.example\u003eKlik\u003c/a\u003e \\ `x` ${1}"
POINT = (-2.714437, 118.95994)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app on a free port with a hostile verified KIM, a hostile submitted one and a report."""
    folder = tmp_path_factory.mktemp("map-text")
    app = create_app({"TESTING": True, "UPLOAD_DIR": str(folder / "uploads"), "MAIL_OUTBOX": str(folder / "mail")})
    with app.app_context():
        pembina = User(name="Pembina Peramban", email=EMAIL, password_hash=hash_password(PASSWORD),
                       email_verified_at=utcnow())
        db.session.add(pembina)
        db.session.flush()
        db.session.add(RoleGrant(user_id=pembina.id, role="pembina", scope_code="76.02"))
        point = f"SRID=4326;POINT({POINT[1]} {POINT[0]})"
        verified = Kim(name=HOSTILE, slug="kim-tooltip-verified-test", desa_code="76.02.01.1003", point=point,
                       bidang=["literasi"], status="verified", number="KIM-76.02-9101", join_code="TOOLTIP1",
                       socials={}, verified_at=utcnow())
        submitted = Kim(name=LINK_NAME, slug="kim-tooltip-submitted-test", desa_code="76.02.01.1003", point=point,
                        bidang=["literasi"], status="submitted", join_code="TOOLTIP2", socials={},
                        submitted_at=utcnow())
        db.session.add_all([verified, submitted])
        db.session.flush()
        report = Activity(kim_id=verified.id, title=TITLE, activity_date=clock.today(), type="diskusi",
                          desa_code=verified.desa_code, point=point, published_at=utcnow())
        db.session.add(report)
        db.session.commit()
        paths = {"profile": f"/kim/{verified.slug}", "queue": "/verifikasi", "report": f"/kegiatan/{report.id}"}
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}", paths
    finally:
        server.shutdown()
        with app.app_context():
            user_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
            kim_ids = db.session.scalars(select(Kim.id).where(Kim.slug.like("kim-tooltip-%-test"))).all()
            db.session.execute(delete(Activity).where(Activity.kim_id.in_(kim_ids)))
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
            db.session.execute(delete(Kim).where(Kim.id.in_(kim_ids)))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
            db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _page(browser, errors):
    """A fresh desktop page; console errors and uncaught exceptions go to `errors`."""
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Nothing the page loads is missing.
    page.on("response", lambda response: response.status >= 400 and errors.append(f"{response.status} {response.url}"))
    # Base-map tiles come from the internet, which tests must not need: serve blank ones.
    page.route("**/tile.openstreetmap.org/**",
               lambda route: route.fulfill(status=200, content_type="image/png", body=BLANK_PNG))
    return page


def _tooltip_text(page) -> str:
    """Open the tooltips of the page's small map through Leaflet and read the one shown.

    (Hovering a pin drawn on a canvas is unreliable while the map settles; opening the bound
    tooltip runs the same Leaflet code that puts its content into the page.)
    """
    container = page.locator(".region-map .folium-map")
    assert "leaflet-container" in (container.get_attribute("class") or ""), "the map was not drawn"
    opened = page.evaluate("""id => {
        let opened = 0;
        window[id].eachLayer(layer => {
            if (layer.getTooltip && layer.getTooltip()) { layer.openTooltip(); opened += 1; }
        });
        return opened;
    }""", container.get_attribute("id"))
    assert opened == 1, f"{opened} tooltips bound"
    tooltip = page.locator(".region-map .leaflet-tooltip")
    tooltip.wait_for(timeout=5000)
    return tooltip.text_content()


def _check(page, expected: str):
    assert _tooltip_text(page) == expected
    # The name stayed text: nothing was parsed out of it, in the tooltip or anywhere on the page
    # (share links carry the title URL-encoded in their query, which is fine).
    assert page.locator(".leaflet-tooltip *").count() == 1  # only our text's own <div>
    assert page.locator('a[href^="https://evil.example"]').count() == 0
    assert page.locator(".folium-map b").count() == 0
    # The map itself drew: the base layer and the pin's canvas are there.
    assert page.locator(".region-map .leaflet-tile-pane img").count() > 0
    assert page.locator(".region-map .leaflet-overlay-pane canvas").count() == 1


@pytest.mark.parametrize("which", ["profile", "report"])
def test_public_map_tooltips_show_hostile_text_as_text(site, browser, which):
    _, base, paths = site
    errors = []
    page = _page(browser, errors)
    page.goto(base + paths[which])
    _check(page, HOSTILE if which == "profile" else TITLE)
    page.context.close()
    assert not errors, errors


def test_verification_preview_map_shows_hostile_names_as_text(site, browser):
    _, base, paths = site
    errors = []
    page = _page(browser, errors)
    page.goto(f"{base}/masuk")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/akun")
    page.goto(base + paths["queue"])
    _check(page, LINK_NAME)
    page.context.close()
    assert not errors, errors
