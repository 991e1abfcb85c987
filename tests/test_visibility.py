"""One visibility rule per entity: every list shows an object exactly when its single-object
predicate (and its page) says the viewer may see it; and the decision on inactive KIMs.

The world: one KIM of every status in Kabupaten Mamuju, each with a report of every status,
each KIM with a logo and each report with a photo; the viewers: anonymous, an unrelated relawan,
a member (anggota), a KIM admin, the pembina of Mamuju, a pembina of another province, the
directorate."""
import gzip
import math
import re
from datetime import timedelta

import mapbox_vector_tile
import pytest
from sqlalchemy import select

from kim_platform import permissions
from kim_platform.activities.models import STATUSES as ACTIVITY_STATUSES
from kim_platform.activities.models import Activity, Photo
from kim_platform.activities.services import refresh_last_activity
from kim_platform.core import clock
from kim_platform.core.storage import storage
from kim_platform.coverage.queries import coverage_rows, direct_coverage_rows
from kim_platform.extensions import db
from kim_platform.kims import services
from kim_platform.kims.models import STATUSES as KIM_STATUSES
from kim_platform.kims.models import Kim
from kim_platform.maps import tiles
from tests.conftest import DESA, DESA_POINT, bearer, login

VIEWERS = ("anonymous", "relawan", "member", "kim_admin", "pembina_in", "pembina_out", "direktorat")


@pytest.fixture(autouse=True)
def empty_tile_cache():
    tiles.cache.clear()
    tiles.forget_version()


@pytest.fixture
def world(make_user, make_kim):
    member, admin = make_user(name="Anggota"), make_user(name="Admin")
    people = {
        "anonymous": None, "relawan": make_user(name="Relawan lain"), "member": member, "kim_admin": admin,
        "pembina_in": make_user(role="pembina", scope="76.02"),
        "pembina_out": make_user(role="pembina", scope="73"),
        "direktorat": make_user(role="direktorat"),
    }
    kims, activities = {}, {}
    for status in KIM_STATUSES:
        kim = make_kim(name=f"KIM {status}", status=status, members=[(member, "anggota"), (admin, "admin")])
        kim.logo_key = storage().save(b"RIFF-logo-" + status.encode(), ".webp")
        kims[status] = kim
        for a_status in ACTIVITY_STATUSES:
            activity = Activity(kim_id=kim.id, kim=kim, author_id=member.id, title=f"Laporan {status} {a_status}",
                                activity_date=clock.today(), type="diskusi", desa_code=kim.desa_code,
                                status=a_status, hidden_reason="Alasan." if a_status == "hidden" else None)
            activity.photos.append(Photo(key=storage().save(b"RIFF-full", ".webp"),
                                         thumb_key=storage().save(b"RIFF-thumb", ".webp"), width=1, height=1))
            db.session.add(activity)
            activities[(status, a_status)] = activity
    db.session.flush()
    return people, kims, activities


def _clients(app, user):
    """(HTML client logged in as `user`, API headers for `user`)."""
    client = app.test_client()
    if user is None:
        return client, {}
    login(client, user)
    return client, bearer(user)


def _tile_ids(client, headers, query=""):
    n = 2 ** 14
    lat, lon = DESA_POINT
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    response = client.get(f"/tiles/kims/14/{x}/{y}.pbf{query}", headers=headers)
    assert response.status_code in (200, 204)
    if response.status_code == 204:
        return set()
    data = gzip.decompress(response.data) if response.headers.get("Content-Encoding") == "gzip" else response.data
    return {f["properties"]["id"] for f in mapbox_vector_tile.decode(data).get("kims", {}).get("features", [])}


def _api_ids(client, headers, path):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_json()
    return {item["id"] for item in response.get_json()["items"]}


@pytest.mark.parametrize("who", VIEWERS)
def test_a_kim_is_listed_exactly_when_it_is_viewable(app, world, who):
    people, kims, _ = world
    viewer = people[who]
    html, headers = _clients(app, viewer)
    api = app.test_client()
    viewable = {kim.id for kim in kims.values() if permissions.kim_visible(viewer, kim)}
    # The SQL form and the predicate form agree.
    assert set(db.session.scalars(select(Kim.id).where(
        Kim.id.in_([k.id for k in kims.values()]), permissions.kim_visible_sql(viewer)))) == viewable
    assert {k.id for k in kims.values() if permissions.can_view_kim(viewer, k)} == viewable
    for status, kim in kims.items():
        seen = kim.id in viewable
        # Single objects: profile, API record, logo (publicly cacheable exactly when public).
        assert html.get(f"/kim/{kim.public_ref}").status_code == (200 if seen else 404), (who, status)
        assert api.get(f"/api/v1/kims/{kim.id}", headers=headers).status_code == (200 if seen else 404)
        logo = html.get(f"/berkas/logo/{kim.logo_key}")
        assert logo.status_code == (200 if seen else 404), (who, status)
        if seen:
            assert ("public" in logo.headers["Cache-Control"]) == permissions.kim_visible(None, kim)
        # Lists filtered to its status: the API, the directory page.
        assert (kim.id in _api_ids(api, headers, f"/api/v1/kims?status={status}&per_page=100")) == seen
        page = html.get(f"/kim?status={status}").get_data(as_text=True)
        assert (f'href="/kim/{kim.public_ref}"' in page) == seen, (who, status)
    # Unfiltered: every viewable KIM but the inactive one; with include_inactive, every one.
    default = _api_ids(api, headers, "/api/v1/kims?per_page=100")
    assert default == viewable - {kims["inactive"].id}
    assert _api_ids(api, headers, "/api/v1/kims?per_page=100&include_inactive=true") == viewable
    page = html.get("/kim").get_data(as_text=True)
    assert set(re.findall(r'href="/kim/([^"/]+)"', page)) >= {k.public_ref for k in kims.values()
                                                                if k.id in default}
    assert f'href="/kim/{kims["inactive"].public_ref}"' not in page
    # The map draws (points at street zoom) exactly the viewable KIMs, inactive ones included.
    assert _tile_ids(api, headers) == viewable
    for status, kim in kims.items():
        assert (kim.id in _tile_ids(api, headers, f"?status={status}")) == (kim.id in viewable)


@pytest.mark.parametrize("who", VIEWERS)
def test_a_report_is_listed_exactly_when_it_is_viewable(app, world, who):
    people, kims, activities = world
    viewer = people[who]
    html, headers = _clients(app, viewer)
    api = app.test_client()
    viewable = {a.id for a in activities.values() if permissions.activity_visible(viewer, a)}
    assert set(db.session.scalars(select(Activity.id).join(Kim, Kim.id == Activity.kim_id).where(
        Activity.id.in_([a.id for a in activities.values()]), permissions.activity_visible_sql(viewer)))) == viewable
    assert {a.id for a in activities.values() if permissions.can_view_activity(viewer, a)} == viewable
    feeds = {status: _api_ids(api, headers, f"/api/v1/activities?status={status}&per_page=100")
             for status in ACTIVITY_STATUSES}
    default_feed = _api_ids(api, headers, "/api/v1/activities?per_page=100")
    page = html.get("/kegiatan").get_data(as_text=True)
    for (kim_status, status), activity in activities.items():
        seen = activity.id in viewable
        where = (who, kim_status, status)
        assert html.get(f"/kegiatan/{activity.id}").status_code == (200 if seen else 404), where
        assert api.get(f"/api/v1/activities/{activity.id}", headers=headers).status_code == (200 if seen else 404)
        photo = html.get(f"/foto/{activity.photos[0].key}")
        assert photo.status_code == (200 if seen else 404), where
        if seen:
            assert ("public" in photo.headers["Cache-Control"]) == permissions.activity_visible(None, activity)
        assert (activity.id in feeds[status]) == seen, where
        # Feeds list published reports by default (drafts and hidden ones stay on the profile).
        assert (activity.id in default_feed) == (seen and status == "published"), where
        assert (f'href="/kegiatan/{activity.id}"' in page) == (seen and status == "published"), where
    # The KIM's profile lists exactly its viewable reports, of every status.
    for kim_status, kim in kims.items():
        if not permissions.kim_visible(viewer, kim):
            continue
        profile = html.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
        for status in ACTIVITY_STATUSES:
            activity = activities[(kim_status, status)]
            assert (f'/kegiatan/{activity.id}"' in profile) == (activity.id in viewable), (who, kim_status, status)


def test_the_rule_itself(world):
    """The rule in words, for the record: public statuses, members, pembina in scope, directorate."""
    people, kims, activities = world
    expected = {
        "anonymous": {"verified", "inactive"}, "relawan": {"verified", "inactive"},
        "member": set(KIM_STATUSES), "kim_admin": set(KIM_STATUSES), "pembina_in": set(KIM_STATUSES),
        "pembina_out": {"verified", "inactive"}, "direktorat": set(KIM_STATUSES),
    }
    for who, statuses in expected.items():
        assert {s for s, k in kims.items() if permissions.kim_visible(people[who], k)} == statuses, who
    public_reports = {key for key, a in activities.items() if permissions.activity_visible(None, a)}
    assert public_reports == {("verified", "published"), ("inactive", "published")}


# --- the decision on inactive KIMs ------------------------------------------------------------

def test_an_inactive_kim_is_public_marked_inactive_listed_only_on_request_grey_and_never_active(
        app, client, make_user, make_kim):
    today = clock.today()
    pembina = make_user(role="pembina", scope="76.02")
    kim = make_kim(name="KIM Lama Sekali")
    db.session.add(Activity(kim_id=kim.id, kim=kim, title="Kegiatan", activity_date=today - timedelta(days=3),
                            type="diskusi", desa_code=kim.desa_code, status="published"))
    db.session.flush()
    refresh_last_activity(kim)
    db.session.flush()

    def figures():
        row = {r.code: r for r in coverage_rows("desa", "76.02.01", today=today)}[DESA]
        direct = {r.code: r for r in direct_coverage_rows("desa", "76.02.01", today=today)}[DESA]
        assert row == direct
        return row.desa_covered, row.desa_active, row.kim_verified, row.kim_active, row.activities_window

    assert figures() == (1, 1, 1, 1, 1)
    services.change_status(pembina, kim, "deactivate")
    db.session.flush()
    assert kim.status == "inactive"

    # Coverage: never covering, never active; its (public) report still counts as a report.
    assert figures() == (0, 0, 0, 0, 1)
    # Its profile is public, marked "tidak aktif".
    profile = client.get(f"/kim/{kim.public_ref}")
    assert profile.status_code == 200 and "Tidak aktif" in profile.get_data(as_text=True)
    # Lists: not by default, with status=inactive (badge "tidak aktif") or include_inactive.
    assert kim.public_ref not in client.get("/kim").get_data(as_text=True)
    listed = client.get("/kim?status=inactive").get_data(as_text=True)
    assert f'href="/kim/{kim.public_ref}"' in listed and "tidak aktif" in listed
    assert client.get("/api/v1/kims").get_json()["total"] == 0
    assert [i["id"] for i in client.get("/api/v1/kims?status=inactive").get_json()["items"]] == [kim.id]
    assert [i["id"] for i in client.get("/api/v1/kims?include_inactive=1").get_json()["items"]] == [kim.id]
    # The public may filter by it on the directory and the map.
    assert 'value="inactive"' in client.get("/kim").get_data(as_text=True)
    assert 'value="inactive"' in client.get("/peta").get_data(as_text=True)
    # The map: a point carrying its status (the style greys it), in no count at low zoom.
    n = 2 ** 14
    x = int((DESA_POINT[1] + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(DESA_POINT[0]))) / math.pi) / 2 * n)
    features = mapbox_vector_tile.decode(client.get(f"/tiles/kims/14/{x}/{y}.pbf").data)["kims"]["features"]
    assert [(f["properties"]["id"], f["properties"]["status"]) for f in features] == [(kim.id, "inactive")]
    x5 = int((DESA_POINT[1] + 180) / 360 * 32)
    y5 = int((1 - math.asinh(math.tan(math.radians(DESA_POINT[0]))) / math.pi) / 2 * 32)
    assert client.get(f"/tiles/kims/5/{x5}/{y5}.pbf").status_code == 204
    # The pembina's (non-public, counted by query) aggregate agrees: no inactive KIM in a count.
    assert client.get(f"/tiles/kims/5/{x5}/{y5}.pbf", headers=bearer(pembina)).status_code == 204
    with app.open_resource("../static/js/national-map.js") as handle:
        assert 'p.status === "inactive"' in handle.read().decode()
    # Reactivated, it counts again.
    services.change_status(pembina, kim, "reactivate")
    db.session.flush()
    assert figures() == (1, 1, 1, 1, 1)
