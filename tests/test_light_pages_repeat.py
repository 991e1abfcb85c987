"""Repeat visits (issue 16, light pages): a report's thumbnails and a KIM's logo stay in the
browser's cache across visits, and the KIM profile paints before Leaflet arrives.

The repeat visits of /kegiatan and /teladan downloaded every thumbnail again (40.5 and 31.3 KB):
photo answers carried `Vary: Cookie` (Flask-Login looks at the session after every request) and
the session cookie changed after the first visit, when the first form page after the login (the
report form the offline app fetches) added the CSRF secret to the session. Public files are now
decided without the session and answered without `Vary: Cookie`."""
import re

import pytest

from kim_platform.activities.models import Activity, Photo
from kim_platform.core import clock
from kim_platform.core.storage import storage
from kim_platform.extensions import db
from tests.conftest import login

PUBLIC = "public, max-age=31536000, immutable"
PRIVATE = "private, no-store"


@pytest.fixture
def stored(make_user, make_kim):
    """A verified KIM with a logo, a published report (public photo) and a draft one (private)."""
    member = make_user()
    kim = make_kim(status="verified", members=[(member, "ketua")])
    kim.logo_key = storage().save(b"RIFF-logo", ".webp")
    photos = {}
    for status in ("published", "draft"):
        activity = Activity(kim_id=kim.id, kim=kim, author_id=member.id, title=f"Laporan {status}",
                            activity_date=clock.today(), type="diskusi", desa_code=kim.desa_code, status=status)
        photo = Photo(key=storage().save(b"RIFF-full", ".webp"), thumb_key=storage().save(b"RIFF-thumb", ".webp"),
                      width=1, height=1)
        activity.photos.append(photo)
        db.session.add(activity)
        photos[status] = photo
    db.session.flush()
    return {"kim": kim, "member": member, "photos": photos}


def _vary(response) -> set[str]:
    return {part.strip().lower() for part in response.headers.get("Vary", "").split(",") if part.strip()}


def _get(client, path):
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def test_public_photos_and_logos_do_not_vary_with_the_session(app, stored):
    """Logged in or not, twice with the same session: immutable, no `Vary: Cookie`, no cookie set,
    no `Expires` saying "now" beside the year-long max-age."""
    member_client, anonymous = app.test_client(), app.test_client()
    login(member_client, stored["member"])
    photo = stored["photos"]["published"]
    paths = [f"/foto/{photo.thumb_key}", f"/foto/{photo.key}", f"/berkas/logo/{stored['kim'].logo_key}"]
    for client in (member_client, anonymous):
        for path in paths:
            for _ in range(2):
                response = _get(client, path)
                assert response.status_code == 200, path
                assert response.headers["Cache-Control"] == PUBLIC, path
                assert "cookie" not in _vary(response), (path, response.headers.get("Vary"))
                assert "Set-Cookie" not in response.headers and "Expires" not in response.headers, path


def test_private_photos_stay_private_and_vary_with_the_session(app, stored):
    member_client = app.test_client()
    login(member_client, stored["member"])
    photo = stored["photos"]["draft"]
    for key in (photo.thumb_key, photo.key):
        response = _get(member_client, f"/foto/{key}")
        assert response.status_code == 200 and response.headers["Cache-Control"] == PRIVATE
        assert "cookie" in _vary(response)
        assert _get(app.test_client(), f"/foto/{key}").status_code == 404


def test_the_kim_profile_loads_leaflet_before_its_map_not_in_head(client, stored):
    """Leaflet in <head> held the profile's first paint (3.9 s); like the other map pages it
    comes right before the map, and the offline app installs on the next page without one."""
    html = _get(client, f"/kim/{stored['kim'].public_ref}").get_data(as_text=True)
    head, body = html.split("</head>", 1)
    assert "vendor/leaflet/leaflet." not in head
    assert re.search(r'<script src="/static/js/app\.[0-9a-f]+\.js" defer data-sw="/sw.js"\s+data-install="later"', head)
    script = body.index('<script src="/static/vendor/leaflet/leaflet.')
    assert body.index('<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.') < script
    assert script < body.index('class="region-map"') < body.index("L.map(")
