"""Stored files (issue 14, M1): each file route serves only keys of its own kind, with its
owner's visibility rule, and private files are never publicly cacheable."""
import pytest

from kim_platform.activities.models import Activity, Photo
from kim_platform.core import clock
from kim_platform.core.storage import storage
from kim_platform.extensions import db
from tests.conftest import login

PUBLIC = "public, max-age=31536000, immutable"
PRIVATE = "private, no-store"
PDF = b"%PDF-1.4\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def files(make_user, make_kim):
    """A verified and a draft KIM with logos and SK scans, and reports with photos."""
    member, pembina, outsider = make_user(), make_user(role="pembina", scope="76.02"), make_user()
    kims = {}
    for status in ("verified", "draft"):
        kim = make_kim(status=status, members=[(member, "ketua")])
        kim.logo_key = storage().save(b"RIFF-logo-" + status.encode(), ".webp")
        kim.sk_file_key = storage().save(PDF, ".pdf")
        kims[status] = kim
    photos = {}
    for name, kim, status in (("published", kims["verified"], "published"), ("hidden", kims["verified"], "hidden"),
                              ("draft", kims["verified"], "draft"), ("draft_kim", kims["draft"], "published")):
        activity = Activity(kim_id=kim.id, kim=kim, author_id=member.id, title=f"Laporan {name}",
                            activity_date=clock.today(), type="diskusi", desa_code=kim.desa_code, status=status,
                            hidden_reason="Alasan." if status == "hidden" else None)
        photo = Photo(key=storage().save(b"RIFF-full", ".webp"), thumb_key=storage().save(b"RIFF-thumb", ".webp"),
                      width=1, height=1)
        activity.photos.append(photo)
        db.session.add(activity)
        photos[name] = photo
    db.session.flush()
    return {"kims": kims, "photos": photos, "member": member, "pembina": pembina, "outsider": outsider}


_clients: dict = {}


@pytest.fixture(autouse=True)
def _fresh_clients():
    _clients.clear()
    yield
    _clients.clear()


def _get(app, path, user=None):
    """GET as `user` (None: anonymous), logging in once per user and test."""
    key = user.id if user is not None else None
    if key not in _clients:
        _clients[key] = app.test_client()
        if user is not None:
            login(_clients[key], user)
    response = _clients[key].get(path)
    response.get_data()  # buffered, so the body stays readable after closing
    response.close()
    return response


def test_public_logo_is_public_and_immutable(app, files):
    response = _get(app, f"/berkas/logo/{files['kims']['verified'].logo_key}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == PUBLIC
    assert response.get_data() == b"RIFF-logo-verified"


def test_logo_of_a_draft_kim_is_private_to_members_and_pembina(app, files):
    path = f"/berkas/logo/{files['kims']['draft'].logo_key}"
    assert _get(app, path).status_code == 404
    assert _get(app, path, files["outsider"]).status_code == 404
    for insider in (files["member"], files["pembina"]):
        response = _get(app, path, insider)
        assert response.status_code == 200 and response.headers["Cache-Control"] == PRIVATE


@pytest.mark.parametrize("viewer", [None, "outsider", "member", "pembina"])
def test_logo_route_serves_no_other_kind_of_file(app, files, viewer):
    """The old route served any stored key as public: SK scans and hidden reports' photos."""
    user = files[viewer] if viewer else None
    kims, photos = files["kims"], files["photos"]
    other_kinds = [kims["verified"].sk_file_key, kims["draft"].sk_file_key,
                   photos["hidden"].key, photos["hidden"].thumb_key, photos["draft"].key,
                   photos["published"].key,  # public, but a photo is not a logo
                   storage().save(b"RIFF-orphan", ".webp"),  # stored, referred to by no row
                   "a" * 32 + ".webp", "..%2F..%2Fsecret_key"]
    for key in other_kinds:
        response = _get(app, f"/berkas/logo/{key}", user)
        assert response.status_code == 404, key
        assert b"%PDF" not in response.get_data() and b"RIFF" not in response.get_data()


def test_sk_scan_is_never_served_anonymously_or_publicly(app, files):
    kim = files["kims"]["verified"]
    anonymous = _get(app, f"/kim/{kim.public_ref}/sk")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/masuk")
    assert b"%PDF" not in anonymous.get_data()
    assert _get(app, f"/kim/{kim.public_ref}/sk", files["outsider"]).status_code == 403
    for route in ("/berkas/logo/", "/foto/"):
        assert _get(app, route + kim.sk_file_key).status_code == 404
        assert _get(app, route + kim.sk_file_key, files["member"]).status_code == 404
    for insider in (files["member"], files["pembina"]):
        response = _get(app, f"/kim/{kim.public_ref}/sk", insider)
        assert response.status_code == 200 and response.get_data() == PDF
        assert response.headers["Cache-Control"] == PRIVATE and "public" not in response.headers["Cache-Control"]


def test_photos_follow_their_report_and_only_public_ones_are_cached_publicly(app, files):
    photos = files["photos"]
    for key in (photos["published"].key, photos["published"].thumb_key):
        response = _get(app, f"/foto/{key}")
        assert response.status_code == 200 and response.headers["Cache-Control"] == PUBLIC
    for name in ("hidden", "draft", "draft_kim"):
        for key in (photos[name].key, photos[name].thumb_key):
            assert _get(app, f"/foto/{key}").status_code == 404, name
            assert _get(app, f"/foto/{key}", files["outsider"]).status_code == 404, name
            response = _get(app, f"/foto/{key}", files["member"])
            assert response.status_code == 200 and response.headers["Cache-Control"] == PRIVATE, name
    # A logo is not a photo.
    assert _get(app, f"/foto/{files['kims']['verified'].logo_key}").status_code == 404
