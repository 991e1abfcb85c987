"""What every request pays (issue 20): the detail reads in one or two statements with the schema's exact
body, conditional GET, anonymous requests that never load a user nor write a session, and a
pool that pings only connections that sat idle."""
import time
from datetime import timedelta

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import create_engine, text

from kim_platform.config import database_url_for_tests
from kim_platform.core import clock, pool
from kim_platform.core.auth import CREDENTIAL_LOADERS
from kim_platform.extensions import db
from kim_platform.kims.api import KimSchema, serialise_kims
from kim_platform.regions.api import RegionDetailSchema
from tests.conftest import DESA, counting, login


def selects(statements):
    return [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]


@pytest.fixture
def steady_demo_flag(app, monkeypatch):
    """The demo banner asks the database at most once a minute: held steady for counting."""
    from kim_platform import demo

    monkeypatch.setitem(app.config, "DEMO_FLAG_TTL", 10**9)
    monkeypatch.setattr(demo, "_cache", {"at": time.monotonic(), "value": False})


def _schema_dump_of_region(code):
    """RegionDetailSchema's dump of a region built from ORM objects (the slow path)."""
    from kim_platform.regions.codes import ancestor_codes
    from kim_platform.regions.models import Region

    region = db.session.get(Region, code)
    ancestors = sorted((db.session.get(Region, c) for c in ancestor_codes(code)), key=lambda a: len(a.code))
    centroid = db.session.execute(text("SELECT ST_Y(centroid), ST_X(centroid), ST_XMin(geom), ST_YMin(geom), "
                                       "ST_XMax(geom), ST_YMax(geom) FROM region WHERE code = :c"), {"c": code}).one()
    children = db.session.scalar(text("SELECT count(*) FROM region WHERE parent_code = :c AND retired_on IS NULL"),
                                 {"c": code})
    return RegionDetailSchema().dump({
        "code": region.code, "name": region.name, "level": region.level, "kind": region.kind,
        "parent_code": region.parent_code, "retired_on": region.retired_on, "replaced_by": region.replaced_by,
        "path": ", ".join([region.label] + [a.label for a in reversed(ancestors)]),
        "children_count": children,
        "centroid": {"lat": centroid[0], "lon": centroid[1]} if centroid[0] is not None else None,
        "bbox": list(centroid[2:]) if centroid[2] is not None else None,
        "ancestors": [{"code": a.code, "name": a.name, "level": a.level} for a in ancestors],
    })


def test_region_detail_is_one_statement_with_the_schema_body(app, client):
    with counting() as seen:
        answer = client.get(f"/api/v1/regions/{DESA}")
    assert answer.status_code == 200 and len(selects(seen)) == 1  # the region with all the rest
    body = answer.get_json()
    assert RegionDetailSchema().validate(body) == {}
    assert body == _schema_dump_of_region(DESA)
    assert body["path"] == "Kel. Binanga, Kec. Mamuju, Kab. Mamuju, Prov. Sulawesi Barat"
    assert [a["code"] for a in body["ancestors"]] == ["76", "76.02", "76.02.01"]
    province = client.get("/api/v1/regions/76").get_json()
    assert province["ancestors"] == [] and province["children_count"] >= 1 and len(province["bbox"]) == 4
    assert province == _schema_dump_of_region("76")
    missing = client.get("/api/v1/regions/99.99")
    assert missing.status_code == 404 and missing.get_json()["error"]["message"] == "No region with code 99.99."
    malformed = client.get("/api/v1/regions/7x")
    assert malformed.status_code == 400 and "code" in malformed.get_json()["error"]["fields"]


def test_a_retired_regions_detail_says_when_and_what_replaced_it(client):
    """The fast path's retired_on is an ISO date and replaced_by the code, as the schema dumps them."""
    db.session.execute(text("UPDATE region SET retired_on = '2025-01-02', replaced_by = '76.02.01' "
                            "WHERE code = :c"), {"c": DESA})
    body = client.get(f"/api/v1/regions/{DESA}").get_json()
    assert body["retired_on"] == "2025-01-02" and body["replaced_by"] == "76.02.01"
    assert body == _schema_dump_of_region(DESA)


def test_public_kim_detail_is_one_statement_and_the_same_body(app, client, make_user, make_kim):
    member = make_user()
    today = clock.today()
    kim = make_kim(members=[(member, "ketua")], founded_on=today - timedelta(days=2000), logo_key="logo-abc.webp",
                   sk_number="12/2026", sk_valid_until=today + timedelta(days=1000), rejection_reason="old note")
    kim.socials = {"instagram": "https://instagram.com/k"}
    db.session.flush()
    with counting() as seen:
        answer = client.get(f"/api/v1/kims/{kim.id}")
    assert answer.status_code == 200 and len(selects(seen)) == 1
    with app.test_request_context():
        expected = KimSchema().dump(serialise_kims([kim], AnonymousUserMixin())[0])
    assert answer.get_json() == expected
    assert expected["pengurus"] is None and expected["rejection_reason"] is None and expected["member_count"] == 1
    assert [p["level"] for p in expected["region_path"]] == ["desa", "kecamatan", "kabupaten", "provinsi"]
    # Inactive KIMs are public; drafts and unknown ids are nobody's business.
    assert client.get(f"/api/v1/kims/{make_kim(status='inactive').id}").status_code == 200
    assert client.get(f"/api/v1/kims/{make_kim(status='draft').id}").status_code == 404
    assert client.get("/api/v1/kims/999999999").status_code == 404
    # A member still sees what only members see (the ORM path).
    login(client, member)
    mine = client.get(f"/api/v1/kims/{kim.id}").get_json()
    assert isinstance(mine["pengurus"], dict) and mine["rejection_reason"] == "old note"


def test_a_changed_answer_gets_a_new_etag_and_an_unchanged_one_a_304(client, make_kim):
    kim = make_kim(name="KIM Lama")
    first = client.get(f"/api/v1/kims/{kim.id}")
    etag = first.headers["ETag"]
    again = client.get(f"/api/v1/kims/{kim.id}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data and again.headers["ETag"] == etag
    kim.name = "KIM Baru"
    db.session.flush()
    changed = client.get(f"/api/v1/kims/{kim.id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["name"] == "KIM Baru"
    assert changed.headers["ETag"] != etag


def test_compressed_pages_revalidate_per_encoding(client):
    plain = client.get("/")
    gzipped = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert gzipped.headers["ETag"] == plain.headers["ETag"][:-1] + ':gzip"'
    assert client.get("/", headers={"Accept-Encoding": "gzip",
                                    "If-None-Match": gzipped.headers["ETag"]}).status_code == 304
    assert client.get("/", headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
    # The other encoding's validator is another representation's.
    assert client.get("/", headers={"If-None-Match": gzipped.headers["ETag"]}).status_code == 200


def test_pages_with_an_inline_script_nonce_have_no_etag(client):
    """Their body carries a new nonce each time: a 304 would keep an old nonce under a new CSP."""
    page = client.get("/wilayah/76.02")
    assert page.status_code == 200 and "nonce=" in page.get_data(as_text=True)
    assert "ETag" not in page.headers


def test_anonymous_requests_load_no_user_and_write_no_session(app, monkeypatch, make_kim):
    kim = make_kim()
    loaders = dict(app.extensions[CREDENTIAL_LOADERS])
    calls = []
    monkeypatch.setitem(app.extensions, CREDENTIAL_LOADERS, {
        kind: (lambda credential, kind=kind: calls.append(kind) or loaders[kind](credential)) for kind in loaders})
    fresh = app.test_client(use_cookies=False)
    for path in ("/", f"/api/v1/kims/{kim.id}", f"/api/v1/regions/{DESA}", f"/kim/{kim.public_ref}", "/cakupan",
                 "/wilayah/76.02"):
        answer = fresh.get(path)
        assert answer.status_code == 200, path
        assert "Set-Cookie" not in answer.headers, path
        assert "Cookie" in answer.headers.get("Vary", ""), path  # a logged-in visitor gets another answer
    assert calls == []


SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
                    "Permissions-Policy")


def test_every_answer_has_each_security_header_once_and_keeps_its_own(app, client):
    """Read once per answer (core/security.py); an answer's own header is left as it set it."""
    for path in (f"/api/v1/regions/{DESA}", "/", "/api/v1/regions/99.99"):
        answer = client.get(path)
        for name in SECURITY_HEADERS:
            assert len(answer.headers.getlist(name)) == 1, (path, name)
        assert "'nonce-" in answer.headers["Content-Security-Policy"]
    set_security_headers = next(f for f in app.after_request_funcs[None]
                                if getattr(f, "__name__", "") == "set_security_headers")
    with app.test_request_context("/"):
        own = set_security_headers(app.make_response(("x", 200, {
            "content-security-policy": "default-src 'none'; sandbox", "X-Frame-Options": "SAMEORIGIN"})))
    assert own.headers.getlist("Content-Security-Policy") == ["default-src 'none'; sandbox"]
    assert own.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert own.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_a_session_cookie_is_still_read_and_a_bad_one_ignored(client, make_user, make_kim):
    """No cookie opens an empty session without the signing serializer; a cookie is decoded as before."""
    member = make_user()
    kim = make_kim(members=[(member, "ketua")])
    client.set_cookie("session", "not-a-signed-value")
    assert client.get(f"/api/v1/kims/{kim.id}").get_json()["pengurus"] is None
    login(client, member)
    assert isinstance(client.get(f"/api/v1/kims/{kim.id}").get_json()["pengurus"], dict)


@pytest.mark.usefixtures("steady_demo_flag")
@pytest.mark.parametrize("page, ceiling", [("/", 1), ("/kim/{ref}", 11), ("/wilayah/76.02", 14), ("/cakupan", 3)])
def test_public_page_statement_ceilings(client, make_kim, page, ceiling):
    kim = make_kim()
    client.get(page.format(ref=kim.public_ref))  # per-worker caches (the demo flag) filled
    with counting() as seen:
        assert client.get(page.format(ref=kim.public_ref)).status_code == 200
    assert len(selects(seen)) <= ceiling


@pytest.fixture
def own_engine(monkeypatch):
    """An engine of its own (one connection) with the check installed, a clock the test moves,
    and the pings it sends counted."""
    engine = create_engine(database_url_for_tests(), pool_size=1, max_overflow=0)
    pings, clock = [], [1000.0]
    do_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(1) or do_ping(connection))
    monkeypatch.setattr(pool, "_now", lambda: clock[0])
    pool.install(engine, ping_after_idle_s=60)
    yield engine, pings, clock
    engine.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar()


def test_the_pool_pings_only_a_connection_that_sat_idle(own_engine):
    engine, pings, clock = own_engine
    pid = _backend_pid(engine)
    for _ in range(3):  # a busy worker: each checkout a moment after the last checkin
        clock[0] += 1
        assert _backend_pid(engine) == pid
    assert pings == []
    clock[0] += 61  # idle for longer than the threshold: pinged, alive, used
    assert _backend_pid(engine) == pid and pings == [1]
    # Idle again, and meanwhile the database dropped it: the ping fails, a new connection answers.
    killer = create_engine(database_url_for_tests())
    try:
        with killer.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()
    finally:
        killer.dispose()
    clock[0] += 61
    assert _backend_pid(engine) != pid and pings == [1, 1]


def test_the_app_does_not_ping_every_checkout(app):
    assert not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping")
    assert app.config["DB_PING_AFTER_IDLE_S"] > 0
