"""Adversarial input: mass assignment, personal data in public answers, injection and XSS
payloads in every filter, hostile uploads, broken coordinates. Nothing 500s, nothing leaks,
nothing half-written stays."""
import gc
import json
import math
import struct
import time
import warnings
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import func, select

from kim_platform.accounts.models import RoleGrant, User
from kim_platform.activities.models import Activity
from kim_platform.extensions import db
from kim_platform.kims.models import Kim
from kim_platform.kims.services import KimError
from kim_platform.regions.places import parse_coordinate
from tests.conftest import DESA, bearer, csrf_token, login
from tests.test_activities import REPORT, jpeg, post_report, stored_files

PAYLOADS = [
    "' OR '1'='1", "1; DROP TABLE kim;--", "\" OR \"\"=\"", "%", "_", "\\", "%%%_\\%", "') UNION SELECT password_hash "
    "FROM user_account--", "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "javascript:alert(1)",
    "../../../../etc/passwd", "a" * 5000, "\u202egnp.exe", "😀🇮🇩", "NaN", "-1", "99999999999999999999",
    "1e309", "{{7*7}}", "${7*7}", "SELECT", "null", "[]", "{}", " ", "\t\n",
]
MARK = "<script>alert(1)</script>"


# --- mass assignment ----------------------------------------------------------------------

def test_kim_status_number_and_ownership_cannot_be_assigned(client, make_user, make_kim):
    admin = make_user()
    other = make_kim(name="KIM Lain")
    kim = make_kim(status="draft", members=[(admin, "admin")])
    attempts = [{"status": "verified"}, {"number": "KIM-76.02-9999"}, {"id": other.id},
                {"verified_at": "2020-01-01T00:00:00Z"}, {"join_code": "AAAA"}, {"is_demo": True},
                {"last_activity_on": "2001-01-01T00:00:00Z"}, {"verified_by_id": admin.id}]
    for attempt in attempts:
        response = client.patch(f"/api/v1/kims/{kim.id}", json=attempt, headers=bearer(admin))
        assert response.status_code in (200, 400, 422), (attempt, response.status_code)  # ignored or refused
    db.session.expire_all()
    kim = db.session.get(Kim, kim.id)
    assert (kim.status, kim.number, kim.verified_at, kim.is_demo, kim.last_activity_on) == (
        "draft", None, None, False, None)
    created = client.post("/api/v1/kims", headers=bearer(admin), json={
        "name": "KIM Baru Sekali", "desa_code": DESA, "lat": -2.749192, "lon": 118.957163, "bidang": ["literasi"],
        "status": "verified", "number": "KIM-76.02-0999"})
    assert created.status_code in (201, 400, 422)
    made = db.session.scalar(select(Kim).where(Kim.name == "KIM Baru Sekali"))
    assert made is None or (made.status in ("draft", "submitted") and made.number is None)


def test_report_owner_status_and_kim_cannot_be_assigned(client, kim_with_member, make_kim):
    kim, member, _ = kim_with_member
    other = make_kim(name="KIM Lain")
    created = client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member)).get_json()
    for attempt in ({"kim_id": other.id}, {"author_id": 1}, {"status": "hidden"}, {"hidden_reason": "x"},
                    {"published_at": "2020-01-01T00:00:00Z"}, {"is_demo": True}):
        response = client.patch(f"/api/v1/activities/{created['id']}", json=attempt, headers=bearer(member))
        assert response.status_code in (200, 400, 422), attempt
    activity = db.session.get(Activity, created["id"])
    db.session.refresh(activity)
    assert (activity.kim_id, activity.author_id, activity.status, activity.is_demo) == (
        kim.id, member.id, "published", False)


def test_roles_cannot_be_self_assigned(client, make_user):
    response = client.post("/api/v1/auth/register", json={
        "name": "Penyusup", "email": "penyusup@example.id", "password": "ombak pantai barat",
        "role": "direktorat", "scope": None, "is_active": True, "email_verified_at": "2020-01-01T00:00:00Z"})
    assert response.status_code in (201, 202, 400, 422)
    intruder = db.session.scalar(select(User).where(User.email == "penyusup@example.id"))
    assert intruder is None or (intruder.email_verified_at is None and not intruder.roles)
    user = make_user()
    login(client, user)
    client.post("/akun/ubah", data={"name": "Nama Baru", "role": "direktorat", "scope": "", "is_active": "1",
                                    "csrf_token": csrf_token(client)})
    assert db.session.scalar(select(func.count()).select_from(RoleGrant).where(RoleGrant.user_id == user.id)) == 0


# --- personal data never in public answers ---------------------------------------------------

PUBLIC_JSON_KEYS = {
    # envelopes
    "items", "page", "per_page", "total", "type", "features", "geometry", "coordinates", "properties", "id",
    "level", "parent", "window_days", "as_of", "region", "name", "months", "bidang", "computed_at",
    # KIMs
    "number", "slug", "status", "desa_code", "lat", "lon", "address", "founded_on", "sk_number", "sk_issuer",
    "sk_date", "description", "whatsapp", "email", "socials", "logo_url", "member_count", "region_path", "code",
    "label", "verified_at", "last_activity_on", "submitted_at", "rejection_reason", "created_at", "updated_at",
    "public_ref", "url", "instagram", "facebook", "tiktok", "youtube", "x", "website", "kind", "parent_code",
    # KIM health (issue 19): the SK's end and the confirmation date; `pengurus` is null for the public
    "sk_valid_until", "data_confirmed_at", "pengurus",
    # reports
    "kim_id", "kim_name", "kim_number", "title", "date", "description_html", "description_md", "reach_offline",
    "reach_online", "links", "tags", "photos", "thumb_url", "width", "height", "published_at", "late_reason",
    "type_label", "author_name", "photos_expected", "photos_received", "complete", "written_at", "received_at",
    # coverage and teladan
    "desa_total", "desa_covered", "desa_active", "coverage_pct", "active_pct", "kim_verified", "kim_active",
    "activities_window", "activities_previous", "activities_delta", "month", "activities", "score",
    "components", "regularity", "recency", "variety", "reach", "evidence", "completeness", "teladan", "eligible",
    "active_months", "last_report_on", "weights", "score_90_days_ago", "place", "hidden_reason", "ancestors", "bbox", "centroid", "children_count", "path",
    # regions over time (issue 19): when a code was withdrawn and which one took over
    "retired_on", "replaced_by", "former_code",
    # coverage beside "registered": verified KIMs per daily health state (counts only)
    "health_aktif", "health_perlu_pendampingan", "health_vakum", "health_as_of",
    # the API feed by keyset (issue 20): the next page, and whether the total is the cap
    "next", "next_cursor", "total_capped",
}


def _keys(value, found):
    if isinstance(value, dict):
        for key, inner in value.items():
            found.add(key)
            _keys(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _keys(inner, found)
    return found


def test_public_answers_never_carry_members_contacts(client, make_user, make_kim):
    member = make_user(name="Siti Anggota", email="siti.rahasia@example.id")
    member.whatsapp = "+6281299990001"
    admin = make_user(name="Budi Admin", email="budi.rahasia@example.id")
    admin.whatsapp = "+6281299990002"
    kim = make_kim(members=[(member, "anggota"), (admin, "admin")], whatsapp="+6281122223333",
                   email="kim.publik@example.id")
    report = client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member)).get_json()
    db.session.commit()
    anonymous = client.application.test_client()
    json_urls = ["/api/v1/kims", f"/api/v1/kims/{kim.id}", "/api/v1/kims?format=geojson", "/api/v1/activities",
                 "/api/v1/activities?format=geojson", f"/api/v1/activities/{report['id']}",
                 f"/api/v1/kims/{kim.id}/score", "/api/v1/teladan", "/api/v1/coverage?level=desa&parent=76.02.01",
                 "/api/v1/coverage/timeseries?region=76.02", "/api/v1/regions/76.02.01",
                 "/api/v1/map/region-at?lat=-2.75&lon=118.95&zoom=12"]
    html_urls = ["/kim", f"/kim/{kim.public_ref}", f"/kegiatan/{report['id']}", "/kegiatan", "/teladan",
                 "/cakupan?wilayah=76.02.01", "/cakupan/ekspor.csv?wilayah=76.02.01", f"/kim/{kim.public_ref}/kegiatan.atom",
                 "/wilayah/76.02/kegiatan.atom", "/peta"]
    secrets = ("siti.rahasia", "budi.rahasia", "6281299990001", "6281299990002", "81299990001", "81299990002")
    for url in json_urls:
        response = anonymous.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        assert not any(secret in body for secret in secrets), url
        unknown = _keys(response.get_json(), set()) - PUBLIC_JSON_KEYS
        assert not unknown, (url, unknown)
    for url in html_urls:
        body = anonymous.get(url).get_data(as_text=True)
        assert not any(secret in body for secret in secrets), url
    assert anonymous.get(f"/api/v1/kims/{kim.id}/members").status_code in (401, 403)


# --- injection and XSS ----------------------------------------------------------------------

FILTERED_URLS = [
    "/api/v1/kims?q={p}", "/api/v1/kims?region={p}", "/api/v1/kims?bidang={p}", "/api/v1/kims?sort={p}",
    "/api/v1/kims?bbox={p}", "/api/v1/kims?status={p}", "/api/v1/activities?region={p}", "/api/v1/activities?type={p}",
    "/api/v1/activities?bidang={p}", "/api/v1/activities?from={p}", "/api/v1/activities?bbox={p}",
    "/api/v1/activities?kim={p}", "/api/v1/regions?q={p}", "/api/v1/regions?level={p}", "/api/v1/regions?parent={p}",
    "/api/v1/regions/{p}", "/api/v1/coverage?level={p}", "/api/v1/coverage?parent={p}",
    "/api/v1/coverage?window_days={p}", "/api/v1/coverage/gaps?parent={p}", "/api/v1/coverage/timeseries?region={p}",
    "/api/v1/teladan?region={p}", "/api/v1/teladan?bidang={p}", "/api/v1/map/region-at?lat={p}&lon=118&zoom=5",
    "/kim?q={p}", "/kim?wilayah={p}", "/kim?bidang={p}", "/kim?urut={p}", "/kim?status={p}", "/wilayah/cari?q={p}",
    "/kegiatan?wilayah={p}", "/kegiatan?jenis={p}", "/cakupan?wilayah={p}", "/cakupan?urut={p}&arah={p}",
    "/teladan?wilayah={p}", "/teladan?bidang={p}", "/teladan/contoh?jenis={p}", "/wilayah/{p}", "/kim/{p}",
    "/api/v1/kims?page={p}", "/api/v1/kims?per_page={p}",
]


@pytest.mark.parametrize("template", FILTERED_URLS)
def test_payloads_in_every_filter_never_break_or_echo_raw(client, template):
    from urllib.parse import quote

    for payload in PAYLOADS:
        response = client.get(template.replace("{p}", quote(payload, safe="")))
        assert response.status_code < 500, (template, payload, response.status_code)
        if response.mimetype == "text/html":
            assert MARK not in response.get_data(as_text=True), (template, payload)


def test_hostile_text_is_stored_as_text_and_shown_escaped(client, make_user, make_kim):
    admin = make_user()
    kim = make_kim(members=[(admin, "admin")])
    hostile = {"name": f"KIM {MARK}", "description": "<img src=x onerror=alert(1)> [klik](javascript:alert(1))"}
    assert client.patch(f"/api/v1/kims/{kim.id}", json=hostile, headers=bearer(admin)).status_code == 200
    report = dict(REPORT, title=f"Judul {MARK}", description=f"{MARK}\n\n[klik](javascript:alert(1)) "
                  "<iframe src=//evil.example></iframe> ![x](x \"onerror=alert(1)\")")
    created = client.post(f"/api/v1/kims/{kim.id}/activities", json=report, headers=bearer(admin)).get_json()
    db.session.commit()
    for url in (f"/kim/{kim.public_ref}", f"/kegiatan/{created['id']}", "/kegiatan", "/kim", "/teladan",
                f"/kim/{kim.public_ref}/kegiatan.atom"):
        body = client.get(url).get_data(as_text=True)
        assert MARK not in body, url
        assert 'href="javascript:' not in body and "<iframe" not in body, url
        assert "<img src=x onerror" not in body and 'onerror="alert' not in body, url
    assert "&lt;script&gt;" in client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)


# --- uploads ------------------------------------------------------------------------------

def _png_bomb(side=20_000) -> bytes:
    """A 1-bit PNG claiming side x side pixels: a few KB on the wire, 50 MB once decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * (side // 8)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def _corpus():
    good = jpeg(800, 600)
    return {
        "html renamed to .jpg": (b"<!doctype html><script>alert(1)</script>", "foto.jpg"),
        "svg renamed to .jpg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "foto.jpg"),
        "php file": (b"<?php system($_GET['c']); ?>", "shell.php"),
        "php with a jpeg name": (b"<?php system($_GET['c']); ?>", "shell.php.jpg"),
        "truncated jpeg": (good[: len(good) // 3], "putus.jpg"),
        "decompression bomb": (_png_bomb(), "bom.png"),
        "empty file": (b"", "kosong.jpg"),
        "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "dok.jpg"),
    }


@pytest.mark.parametrize("name", list(_corpus()))
def test_hostile_uploads_are_refused_fast_and_leave_nothing(client, kim_with_member, tmp_path, name):
    kim, member, _ = kim_with_member
    content, filename = _corpus()[name]
    before_files, before_rows = stored_files(tmp_path), db.session.scalar(select(func.count()).select_from(Activity))
    # CPU seconds of this process (the app runs in it), not wall time: other processes on a loaded
    # machine cannot make it fail, and decoding the bomb's 400 million pixels would.
    started = time.process_time()
    response = post_report(client, member, kim, photos=[(content, filename)])
    elapsed = time.process_time() - started
    assert response.status_code in (400, 413, 422), (name, response.status_code)
    assert elapsed < 2.0, (name, elapsed)
    body = response.get_json()
    assert body["error"]["message"] and "photos" in json.dumps(body), name
    assert stored_files(tmp_path) == before_files
    assert db.session.scalar(select(func.count()).select_from(Activity)) == before_rows


def test_a_50_mb_photo_is_refused_fast(client, kim_with_member, tmp_path):
    kim, member, _ = kim_with_member
    huge = jpeg(800, 600) + b"\x00" * (50 * 1024 * 1024)
    with warnings.catch_warnings():  # the test client spools the body to a file it never closes
        warnings.simplefilter("ignore", ResourceWarning)
        started = time.process_time()  # CPU seconds, as above
        response = post_report(client, member, kim, photos=[(huge, "besar.jpg")])
        elapsed = time.process_time() - started
        status = response.status_code
        del response
        gc.collect()
    assert status in (413, 422) and elapsed < 2.0
    assert stored_files(tmp_path) == []


def test_polyglot_and_gps_photos_are_stored_cleaned(client, kim_with_member, tmp_path):
    kim, member, _ = kim_with_member
    polyglot = jpeg(1200, 900) + b"<?php system($_GET['c']); ?><script>alert(1)</script>PK\x03\x04"
    response = post_report(client, member, kim, photos=[(polyglot, "poli.jpg"), (jpeg(1200, 900, gps=True), "gps.jpg")])
    assert response.status_code == 201
    files = stored_files(tmp_path)
    assert len(files) == 4  # a display size and a thumbnail of each
    for path in files:
        data = path.read_bytes()
        assert b"<?php" not in data and b"<script" not in data and b"PhoneMaker" not in data
        with Image.open(path) as image:
            assert not image.getexif().get(0x8825)  # no GPS block


# --- geo input ----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=40), st.floats(allow_nan=True, allow_infinity=True), st.integers(),
                 st.integers(min_value=10**300, max_value=10**400),
                 st.none(), st.booleans(), st.lists(st.integers(), max_size=3)))
def test_coordinate_parser_accepts_finite_numbers_or_says_no(value):
    try:
        parsed = parse_coordinate(value)
    except (KimError, ValueError):
        return
    assert parsed is None or (isinstance(parsed, float) and math.isfinite(parsed))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=60), st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0,
                                                   max_size=5).map(lambda xs: ",".join(repr(x) for x in xs))))
def test_bbox_and_point_parameters_never_500(client, value):
    from urllib.parse import quote

    for url in (f"/api/v1/kims?bbox={quote(value, safe='')}", f"/api/v1/activities?bbox={quote(value, safe='')}",
                f"/api/v1/map/region-at?lat={quote(value, safe='')}&lon=118&zoom=8"):
        assert client.get(url).status_code < 500, url


@pytest.mark.parametrize("lat, lon", [
    ("NaN", "118.9"), ("-2.7", "Infinity"), ("1e309", "118.9"), ("118.957163", "-2.749192"),  # swapped
    ("-5.0", "100.0"),  # the Indian Ocean, off Sumatra
    ("51.5", "-0.12"),  # London
    ("-2.749192", "118.957163e400"), ("", ""), ("0x10", "0x20"),
])
def test_broken_points_are_400s_with_reasons(client, make_user, lat, lon):
    user = make_user()
    response = client.post("/api/v1/kims", headers=bearer(user), json={
        "name": "KIM Titik Aneh", "desa_code": DESA, "lat": lat, "lon": lon, "bidang": ["literasi"]})
    assert response.status_code in (400, 422), (lat, lon, response.status_code)
    assert response.get_json()["error"]["message"]
    assert db.session.scalar(select(func.count()).select_from(Kim).where(Kim.name == "KIM Titik Aneh")) == 0


def test_a_400_digit_number_is_a_400(client, make_user):
    user = make_user()
    body = ('{"name": "KIM Angka", "desa_code": "%s", "lat": 1%s, "lon": 118.9, "bidang": ["literasi"]}'
            % (DESA, "0" * 400))
    response = client.post("/api/v1/kims", headers={**bearer(user), "Content-Type": "application/json"}, data=body)
    assert response.status_code in (400, 422)


def test_a_huge_json_body_is_refused_not_crashed(client, make_user):
    user = make_user()
    polygon = {"type": "Polygon", "coordinates": [[[118.0 + i / 1e5, -2.0] for i in range(200_000)]]}
    response = client.post("/api/v1/kims", headers=bearer(user), json={
        "name": "KIM Besar", "desa_code": DESA, "lat": -2.749192, "lon": 118.957163, "bidang": ["literasi"],
        "description": "x" * 2_000_000, "geometry": polygon})
    assert response.status_code in (400, 413, 422)


# --- spam caps ----------------------------------------------------------------------------

def test_daily_caps_on_reports_and_kim_registrations(app, client, kim_with_member, make_user, monkeypatch):
    kim, member, _ = kim_with_member
    monkeypatch.setitem(app.config, "MAX_REPORTS_PER_DAY", 3)
    monkeypatch.setitem(app.config, "MAX_KIMS_PER_DAY", 2)
    statuses = [client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member)).status_code
                for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    refused = client.post(f"/api/v1/kims/{kim.id}/activities", json=REPORT, headers=bearer(member)).get_json()
    assert "24 jam" in refused["error"]["message"]
    registrant = make_user()
    answers = [client.post("/api/v1/kims", headers=bearer(registrant), json={
        "name": f"KIM Spam {n}", "desa_code": DESA, "lat": -2.749192, "lon": 118.957163,
        "bidang": ["literasi"], "confirm_not_duplicate": True}).status_code for n in range(3)]
    assert answers == [201, 201, 429]
    director = make_user(role="direktorat")
    assert client.post("/api/v1/kims", headers=bearer(director), json={
        "name": "KIM Direktorat", "desa_code": DESA, "lat": -2.749192, "lon": 118.957163,
        "bidang": ["literasi"]}).status_code == 201


def test_sweep_removes_only_old_unreferenced_files(app, runner, kim_with_member, client, tmp_path):
    import os

    from kim_platform.core.storage import storage

    kim, member, _ = kim_with_member
    assert post_report(client, member, kim, photos=[(jpeg(800, 600), "a.jpg")]).status_code == 201
    with app.app_context():
        store = storage()
        old_orphan, young_orphan = store.save(b"left by a killed worker", ".jpg"), store.save(b"mid-commit", ".jpg")
    day_ago = time.time() - 86_400
    for path in stored_files(tmp_path):
        if young_orphan not in path.name:
            os.utime(path, (day_ago, day_ago))
    result = runner.invoke(args=["storage", "sweep"])
    assert result.exit_code == 0 and "1 orphan files removed" in result.output
    names = {p.name for p in stored_files(tmp_path)}
    assert old_orphan not in names and young_orphan in names and len(names) == 3  # two variants of the photo
