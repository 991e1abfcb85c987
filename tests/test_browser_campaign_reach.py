"""The campaign reach dashboard and the national view fit a 360 px phone (Debian's Chromium through
Playwright): nothing scrolls sideways, the map draws the reached desa, no script fails. The rows
are committed for the live server and removed afterwards."""
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from kim_platform import create_app
from kim_platform.accounts.models import LoginSession, RoleGrant, User
from kim_platform.accounts.passwords import hash_password
from kim_platform.accounts.services import utcnow
from kim_platform.activities.models import Activity
from kim_platform.audit.models import AuditEntry
from kim_platform.campaigns.models import Campaign, CampaignTarget, Dissemination
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Kim

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a1c30000000049454e44ae426082")
EMAIL = "direktur.kemitraan.kim.dengan.alamat.panjang@komdigi.example.id"
PASSWORD = "jangkauan sampai ke desa terpencil"
SLUG = "kim-jangkauan-sempit-test"
TITLE = "Cek Kesehatan Gratis untuk seluruh warga Kabupaten Mamuju dan sekitarnya (uji layar)"
WIDTH = 360


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reach-width")
    app = create_app({"TESTING": True, "UPLOAD_DIR": str(folder / "uploads"), "MAIL_OUTBOX": str(folder / "mail")})
    with app.app_context():
        user = User(name="Direktur Kemitraan", email=EMAIL, password_hash=hash_password(PASSWORD),
                    email_verified_at=utcnow())
        db.session.add(user)
        db.session.flush()
        db.session.add(RoleGrant(user_id=user.id, role="direktorat", scope_code=None))
        kim = Kim(name="KIM Jangkauan Binanga", slug=SLUG, desa_code="76.02.01.1002",
                  point="SRID=4326;POINT(118.967345 -2.749192)", bidang=["kesehatan"], status="verified",
                  number="KIM-76.02-9302", join_code="JANGKAU1", socials={}, verified_at=utcnow())
        today = clock.today()
        campaign = Campaign(title=TITLE, key_message="Datang ke puskesmas.", status="published",
                            start_on=today - timedelta(days=5), end_on=today + timedelta(days=20), owner_scope="76.02",
                            published_at=utcnow())
        db.session.add_all([kim, campaign])
        db.session.flush()
        db.session.add(CampaignTarget(campaign_id=campaign.id, region_code="76.02"))
        report = Activity(kim_id=kim.id, title="Sosialisasi CKG", activity_date=today, type="diseminasi",
                          desa_code=kim.desa_code, reach_offline=45, published_at=utcnow())
        db.session.add(report)
        db.session.flush()
        db.session.add(Dissemination(activity_id=report.id, campaign_id=campaign.id, channel="tempat-ibadah"))
        db.session.commit()
        campaign_id = campaign.id
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", campaign_id
    finally:
        server.shutdown()
        with app.app_context():
            user_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
            db.session.execute(delete(Campaign).where(Campaign.id == campaign_id))
            kim_id = db.session.scalar(select(Kim.id).where(Kim.slug == SLUG))
            db.session.execute(delete(Activity).where(Activity.kim_id == kim_id))
            db.session.execute(delete(Kim).where(Kim.id == kim_id))
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
            db.session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
            db.session.execute(delete(RoleGrant).where(RoleGrant.user_id == user_id))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
            db.engine.dispose()


@pytest.fixture(scope="module")
def phone(site):
    base, _ = site
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": WIDTH, "height": 740}, is_mobile=True, has_touch=True,
                                      device_scale_factor=2)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
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


@pytest.mark.parametrize("path", ["/kampanye/{id}/jangkauan", "/kampanye/{id}/jangkauan?parent=76.02.01",
                                  "/kampanye/{id}/jangkauan?parent=76.02.01&urut=people&arah=turun",
                                  "/kampanye/nasional"])
def test_the_reach_pages_fit_a_360px_phone(site, phone, path):
    base, campaign_id = site
    response = phone.goto(base + path.format(id=campaign_id))
    assert response.status == 200, path
    phone.wait_for_load_state("networkidle")
    widths = phone.evaluate("""() => {
        const wide = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
            .filter(e => !e.closest('.leaflet-container, .main-nav, .table-wrap, .visually-hidden, .skip-link'))
            .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
        return {scroll: document.documentElement.scrollWidth, wide};
    }""")
    assert widths["scroll"] <= WIDTH, (path, widths)
    if "jangkauan" in path:  # the map is drawn (on a canvas: prefer_canvas) with the reached desa
        assert phone.locator(".leaflet-container canvas").count() >= 1
        assert "L.circleMarker" in phone.content()
    assert not phone.errors, phone.errors
