"""The offline app's shell as the server serves it (issue 16): an installable manifest, a service
worker at the root that loads Workbox from our own static files, and the pages it keeps."""
import json
import re

from kim_platform.core.offline import WORKBOX_MODULES
from tests.conftest import login


def test_the_manifest_makes_the_app_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["display"] == "standalone" and manifest["lang"] == "id"
    assert manifest["start_url"] == "/kotak-keluar" and manifest["scope"] == "/"  # precached: opens offline
    assert manifest["name"] == "Platform KIM"
    icons = {(icon["sizes"], icon["purpose"]): icon["src"] for icon in manifest["icons"]}
    assert set(icons) == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    for (sizes, _purpose), src in icons.items():
        image = client.get(src)
        assert image.status_code == 200 and image.mimetype == "image/png"
        width = int.from_bytes(image.data[16:20], "big")
        assert f"{width}x{width}" == sizes


def test_every_page_links_the_manifest_and_the_app_script(client):
    html = client.get("/").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    # Static files carry a content hash in their name (core/assets.py): /static/js/app.<hash>.js
    assert re.search(r'<script src="/static/js/app(\.[0-9a-f]+)?\.js" defer data-sw="/sw.js"', html)


def test_the_service_worker_is_served_fresh_from_the_root_and_loads_workbox_from_our_static_files(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    body = response.get_data(as_text=True)
    workbox_sw = re.search(r'importScripts\("(/static/vendor/workbox/workbox-sw(\.[0-9a-f]+)?\.js)"\)', body)
    assert workbox_sw and client.get(workbox_sw.group(1)).status_code == 200
    assert 'modulePathPrefix: "/static/vendor/workbox/"' in body
    # Under hashed names each module's URL is given by name, still from our own static files.
    for name, url in json.loads(re.search(r"return (\{.*?\})\[name\]", body).group(1)).items():
        assert name.startswith("workbox-") and url.startswith("/static/vendor/workbox/" + name)
        assert client.get(url).status_code == 200
    assert "storage.googleapis.com" not in body and "cdn" not in body.lower().replace("never a cdn", "")
    for name in WORKBOX_MODULES:
        assert client.get(f"/static/vendor/workbox/workbox-{name}.prod.js").status_code == 200
    # Only what the offline report needs is precached, as session-neutral shells; static files are
    # cached as they are used, the report forms once a member is logged in.
    precache = json.loads(re.search(r"precacheAndRoute\((\[.*?\])\.map", body).group(1))
    assert precache == ["/kotak-keluar?shell=1", "/luring?shell=1", "/manifest.webmanifest", "/favicon.ico"]


def test_a_new_version_of_the_app_installs_a_new_service_worker(app, client):
    before = client.get("/sw.js").get_data(as_text=True)
    assert before == client.get("/sw.js").get_data(as_text=True)
    app.config["OFFLINE_APP_VERSION"] = "next"
    try:
        assert client.get("/sw.js").get_data(as_text=True) != before
    finally:
        app.config.pop("OFFLINE_APP_VERSION")


def test_the_offline_page_says_plainly_that_it_needs_a_connection(client):
    response = client.get("/luring")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Halaman ini perlu koneksi internet</h1>" in html
    assert 'href="/kotak-keluar"' in html


def test_the_outbox_page_is_a_shell_with_its_words_from_the_catalogue(client, kim_with_member):
    kim, member, _admin = kim_with_member
    login(client, member)
    html = client.get("/kotak-keluar").get_data(as_text=True)
    assert "<h1>Kotak keluar</h1>" in html
    strings = json.loads(re.search(r'<script type="application/json" id="outbox-strings"[^>]*>(.*?)</script>',
                                   html, re.S).group(1))
    assert strings["states"] == {"waiting": "menunggu sinyal", "sending": "mengirim",
                                 "sending_photo": "mengirim (foto {n} dari {total})", "sent": "terkirim",
                                 "invalid": "perlu diperbaiki", "auth": "perlu masuk lagi"}
    assert strings["fields"]["date"] == "Tanggal"
    # Nothing of the visitor's: the service worker precaches the same page for everyone.
    assert member.email not in html


def test_the_report_form_carries_what_the_outbox_needs(client, kim_with_member):
    kim, member, _admin = kim_with_member
    login(client, member)
    html = client.get(f"/kim/{kim.public_ref}/lapor").get_data(as_text=True)
    assert f'data-outbox-post="/api/v1/kims/{kim.id}/activities"' in html
    assert f'data-kim-id="{kim.id}"' in html and 'id="outbox-strings"' in html
    assert "Tersimpan di kotak keluar." in html


def test_no_script_of_the_offline_app_hard_codes_indonesian(app):
    """Every word the scripts show comes from the server-rendered page (#outbox-strings)."""
    from pathlib import Path

    static = Path(app.static_folder) / "js"
    words = re.compile(r"menunggu|mengirim|terkirim|perlu|kotak keluar|foto \d|dari|sinyal|masuk", re.I)
    for name in ("outbox.js", "outbox-page.js", "app.js", "report-form.js"):
        code = re.sub(r"/\*.*?\*/", "", (static / name).read_text(), flags=re.S)
        code = re.sub(r"(^|\s)//[^\n]*", "", code)  # comments may quote the interface
        literals = re.findall(r'"([^"\n]*)"', code)
        assert not [s for s in literals if words.search(s)], name


def test_the_app_version_follows_contents_not_file_times(app, tmp_path):
    """Every node of a cluster (and every fresh checkout of one release) announces the same
    service-worker version; a changed file announces a new one."""
    import os
    import shutil

    from kim_platform.core import offline
    from kim_platform.core.assets import StaticManifest

    def version_of(folder):
        with app.test_request_context():
            saved = app.extensions.get("static_manifest"), app.extensions.pop("offline_files_digest", None)
            app.extensions["static_manifest"] = StaticManifest(folder)
            try:
                return offline.app_version()
            finally:
                app.extensions["static_manifest"], digest = saved
                app.extensions.pop("offline_files_digest", None)
                if digest is not None:
                    app.extensions["offline_files_digest"] = digest

    copy = tmp_path / "static"
    shutil.copytree(app.static_folder, copy)
    before = version_of(copy)
    for path in copy.rglob("*.js"):
        os.utime(path, (1_000_000_000, 1_000_000_000))  # another checkout: other times, same bytes
    assert version_of(copy) == before
    (copy / "js" / "app.js").write_text((copy / "js" / "app.js").read_text() + "\n// next release\n")
    assert version_of(copy) != before


def test_the_outbox_keeps_every_field_the_report_form_sends():
    """report-form.js copies a fixed list of fields into the outbox: a field of the form (or of a panel
    a higher domain adds to it, such as the campaign of a dissemination) missing from that list would
    be dropped silently from every report sent through the outbox."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    script = (root / "static/js/report-form.js").read_text()
    listed = set(re.findall(r'"([a-z_]+)"', re.search(r"var FIELDS = \[(.*?)\];", script, re.S).group(1)))
    forms = [root / "templates/activities/form.html", *(root / "templates").glob("*/_report_form_panel.html")]
    named = {name for path in forms for name in re.findall(r'name="([a-z_]+)"', path.read_text())}
    assert {"campaign_id", "channel"} <= named  # the campaign panel is among the forms read
    assert named - {"action", "photos", "remove_photo", "csrf_token"} <= listed


def _flash_pending(client):
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


def test_a_shell_for_the_service_worker_carries_nothing_of_the_session(client, kim_with_member):
    """The worker keeps shells for whoever uses the device next: no user id, no flash message
    taken from the person (it would be lost to them and replayed offline), the menu of any member."""
    kim, member, _admin = kim_with_member
    login(client, member)
    client.get("/akun")  # the login's own messages, if any, are shown
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Profil Anda sudah disimpan.")]
    for url, headers in (("/kotak-keluar?shell=1", {}), ("/luring?shell=1", {}),
                         (f"/kim/{kim.public_ref}/lapor", {"X-Offline-Shell": "1"})):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert response.headers["X-Kim-Shell"] == "1" and response.headers["Cache-Control"] == "no-store"
        assert "Profil Anda sudah disimpan." not in html and 'class="alert alert-success"' not in html
        assert "data-user" not in html and 'data-shell="1"' in html, url
        assert member.email not in html and member.name not in html
        assert 'href="/akun"' in html  # the menu any logged-in member has
    assert _flash_pending(client)  # still waiting for the person's next page
    html = client.get("/akun").get_data(as_text=True)
    assert "Profil Anda sudah disimpan." in html
    # A page rendered for the person is not a shell: the worker never keeps it.
    response = client.get("/kotak-keluar")
    assert "X-Kim-Shell" not in response.headers
    assert f'data-user="{member.id}"' in response.get_data(as_text=True)


def test_the_service_worker_keeps_only_shells_of_the_report_forms(client):
    body = client.get("/sw.js").get_data(as_text=True)
    # Report forms: network first, a page the person opened never stored; warm() asks for shells.
    assert "plugins: [keepNothing, withoutQuery]" in body
    assert 'headers.get(SHELL_HEADER) === "1"' in body and 'var SHELL_REQUEST_HEADER = "X-Offline-Shell"' in body
    # Recent report pages are not fetched on install (each would bring Leaflet to every first visit).
    assert "recent_reports" not in body
