"""The public's lists written by PostgreSQL (issue 20): for a viewer who sees only public data,
the KIM list and the report feed build their items in SQL; the body is the serialiser's, value
for value, and other viewers keep the serialiser (members' positions, hidden reasons).

The serialiser's body for the same request comes from the same view with the fast path turned
off (`permissions.sees_only_public_data` answering False), so both run on the same data.
"""
from datetime import date, datetime, timedelta, timezone

import pytest

from kim_platform import permissions
from kim_platform.activities.models import Activity, Photo
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Membership
from tests.conftest import bearer, counting

pytestmark = pytest.mark.usefixtures("steady_demo_flag")

UTC = timezone.utc
# Fractions PostgreSQL's own JSON would write differently from Python's isoformat (".12" for
# ".120000"), none at all, and one of six digits.
MOMENTS = (datetime(2026, 3, 4, 5, 6, 7, 120000, tzinfo=UTC), datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
           datetime(2025, 12, 31, 23, 59, 59, 5, tzinfo=UTC))


def selects(statements):
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def answer(client, url, headers=None):
    """(status, mimetype, parsed body, SELECT statements) of one GET."""
    with counting() as seen:
        response = client.get(url, headers=headers or {})
    return response.status_code, response.mimetype, response.get_json(), selects(seen)


def serialised(client, monkeypatch, url, headers=None):
    """The same request answered by the serialiser (the fast path turned off)."""
    with monkeypatch.context() as patch:
        patch.setattr(permissions, "sees_only_public_data", lambda user: False)
        return answer(client, url, headers)


@pytest.fixture
def kims(make_kim, make_user):
    """Listed KIMs with every field filled in some and empty in others, odd text included."""
    ketua = make_user(name="Ketua Ñusa")
    made = [
        make_kim(name="KIM Ñusa \"Cahaya\" — 'Maju' 🌾", description="Baris satu\nbaris \\ dua",
                 address="Jl. Poros, RT 01/RW 02", whatsapp="0812 3456 7890", email="kim@example.id",
                 logo_key="logo-abc123.webp", founded_on=date(2019, 8, 17), sk_number="140/12/2024",
                 sk_issuer="Lurah Binanga", sk_date=date(2024, 1, 2), sk_valid_until=date(2027, 1, 2),
                 bidang=("literasi", "umkm"), members=[(ketua, "ketua")]),
        make_kim(name="KIM Binanga Sepi", bidang=("pertanian",)),
        make_kim(name="KIM Tidak Aktif", status="inactive", desa_code="76.02.01.2005"),
        make_kim(name="KIM Rimuku", desa_code="76.02.01.2005", last_activity_on=date(2026, 2, 1)),
    ]
    for kim, moment in zip(made, MOMENTS):
        kim.updated_at, kim.data_confirmed_at, kim.verified_at = moment, moment - timedelta(days=1), moment
    made[1].data_confirmed_at = None
    made[0].socials = {"youtube": "youtube.com/@kim", "instagram": "instagram.com/kim"}
    db.session.flush()
    return made


KIM_URLS = [
    "/api/v1/kims?region=76.02",
    "/api/v1/kims?region=76.02&format=geojson",
    "/api/v1/kims?region=76.02&include_inactive=true&sort=newest",
    "/api/v1/kims?region=76.02.01.2005&status=inactive",
    "/api/v1/kims?sort=number&per_page=2&page=2",
    "/api/v1/kims?q=%C3%B1usa",
    "/api/v1/kims?region=76.02&bidang=literasi",
    "/api/v1/kims?region=76.02&page=9",
    "/api/v1/kims?region=73",
]


@pytest.mark.parametrize("url", KIM_URLS)
def test_the_public_kim_list_is_the_serialisers_body_in_one_statement(client, monkeypatch, kims, url):
    client.get(url)  # first-use work (translations, taxonomies)
    fast = answer(client, url)
    slow = serialised(client, monkeypatch, url)
    assert fast[:3] == slow[:3]
    # The region filter's look-up (and a bidang's sub-fields), then the page with its total and
    # items: one statement.
    assert len(fast[3]) <= (3 if "bidang=" in url else 2) < len(slow[3]), (fast[3], slow[3])


def test_the_geojson_list_asked_by_accept_header_is_the_serialisers(client, monkeypatch, kims):
    headers = {"Accept": "application/geo+json"}
    fast = answer(client, "/api/v1/kims?region=76.02", headers)
    assert fast[1] == "application/geo+json" and fast[2]["type"] == "FeatureCollection"
    assert fast[:3] == serialised(client, monkeypatch, "/api/v1/kims?region=76.02", headers)[:3]


def test_a_kim_whose_link_url_for_would_escape_takes_the_serialiser(client, monkeypatch, kims):
    kims[0].logo_key = "logo lama ä.webp"
    db.session.flush()
    fast = answer(client, "/api/v1/kims?region=76.02")
    slow = serialised(client, monkeypatch, "/api/v1/kims?region=76.02")
    assert fast[:3] == slow[:3]
    assert "/berkas/logo/logo%20lama%20%C3%A4.webp" in {i["logo_url"] for i in fast[2]["items"]}


def test_members_still_see_the_pengurus_in_the_list(client, kims):
    ketua = kims[0].memberships[0].user
    body = client.get("/api/v1/kims?region=76.02", headers=bearer(ketua)).get_json()
    mine = next(i for i in body["items"] if i["id"] == kims[0].id)
    assert mine["pengurus"] == {} or isinstance(mine["pengurus"], dict)
    others = [i for i in body["items"] if i["id"] != kims[0].id]
    assert others and all(i["pengurus"] is None for i in others)
    assert client.get("/api/v1/kims?region=76.02").get_json()["items"][0]["pengurus"] is None


def test_the_sql_region_label_is_region_label(app):
    from sqlalchemy import func, select

    from kim_platform.regions.models import Region, region_label, region_label_sql

    with app.test_request_context():
        first = select(Region.level, Region.kind, func.min(Region.code).label("code")).group_by(
            Region.level, Region.kind).subquery()
        rows = db.session.execute(select(Region.level, Region.kind, Region.name, region_label_sql(Region))
                                  .join(first, first.c.code == Region.code)).all()
        samples = [("kabupaten", "kabupaten", "Kabupaten Mamuju"), ("kabupaten", "kota", "Kota Makassar"),
                   ("desa", "kelurahan", "Binanga"), ("desa", "desa", "Tadui")]
        for level, kind, name in samples:
            rows.append((level, kind, name, db.session.scalar(select(region_label_sql(
                type("R", (), {"level": db.literal(level), "kind": db.literal(kind), "name": db.literal(name)}))))))
    assert {(level, kind) for level, kind, _, _ in rows} >= {("provinsi", "provinsi"), ("kecamatan", "kecamatan")}
    for level, kind, name, label in rows:
        assert label == region_label(level, kind, name), (level, kind, name)


@pytest.fixture
def reports(kims, make_user):
    """Published reports of the listed KIMs: with photos (one sent on its own), links and tags,
    without a point (placed at their desa), odd text; a hidden one with its reason."""
    today = clock.today()
    author = make_user(name="Relawan Pelapor")
    made = []
    for i in range(7):
        kim = kims[i % len(kims)]
        activity = Activity(kim_id=kim.id, author_id=author.id, title=f"Diskusi «warga» {i} ✓", type="diskusi",
                            activity_date=today - timedelta(days=i // 2), desa_code=kim.desa_code,
                            status="published", reach_offline=10 + i, reach_online=i,
                            description_md=f"**Baris** {i}\n\"kutip\"", description_html=f"<p><strong>Baris</strong> {i}</p>",
                            links=["https://www.instagram.com/p/contoh"] if i % 2 else [],
                            tags=["warga", "hoaks"] if i % 3 == 0 else [],
                            point=None if i % 2 else f"SRID=4326;POINT(118.9{i} -2.7{i})",
                            written_at=MOMENTS[i % 3] if i % 4 else None, photos_expected=2 if i == 3 else 0)
        db.session.add(activity)
        db.session.flush()
        activity.created_at = MOMENTS[(i + 1) % 3]
        made.append(activity)
    for position, activity in ((0, made[0]), (1, made[0]), (0, made[3])):
        db.session.add(Photo(activity_id=activity.id, position=position, key=f"p{activity.id}-{position}.webp",
                             thumb_key=f"t{activity.id}-{position}.webp", width=800, height=600,
                             client_key="kunci-1" if activity is made[3] else None))
    hidden = Activity(kim_id=kims[0].id, author_id=author.id, title="Disembunyikan", type="diskusi",
                      activity_date=today, desa_code=kims[0].desa_code, status="hidden",
                      hidden_reason="Foto tidak sesuai.")
    db.session.add(hidden)
    db.session.flush()
    return made, hidden


FEED_URLS = [
    "/api/v1/activities?region=76.02",
    "/api/v1/activities?region=76.02&format=geojson",
    "/api/v1/activities?region=76.02&per_page=3",
    "/api/v1/activities?region=76.02&per_page=3&page=2",
    "/api/v1/activities?region=76.02.01.2005&type=diskusi",
    "/api/v1/activities?per_page=2&format=geojson&type=diskusi",
    "/api/v1/activities?region=76.02&status=hidden",
    "/api/v1/activities?region=76.02&per_page=3&page=9",
]


@pytest.mark.parametrize("url", FEED_URLS)
def test_the_public_feed_is_the_serialisers_body_in_one_statement(client, monkeypatch, reports, url):
    client.get(url)
    fast = answer(client, url)
    slow = serialised(client, monkeypatch, url)
    assert fast[:3] == slow[:3]
    assert len(fast[3]) <= 2 < len(slow[3]), (fast[3], slow[3])


def test_following_the_public_feeds_next_links_is_the_serialisers_walk(client, monkeypatch, reports):
    url, seen = "/api/v1/activities?region=76.02&per_page=2", []
    while url:
        fast, slow = answer(client, url), serialised(client, monkeypatch, url)
        assert fast[:3] == slow[:3]
        seen += [item["id"] for item in fast[2]["items"]]
        url = fast[2]["next"]
    assert sorted(seen) == sorted(a.id for a in reports[0])
    photos = {i["id"]: i["photos"] for i in client.get("/api/v1/activities?region=76.02").get_json()["items"]}
    assert [p["url"] for p in photos[reports[0][0].id]] == [f"/foto/p{reports[0][0].id}-{n}.webp" for n in (0, 1)]


def test_a_report_whose_photo_url_for_would_escape_takes_the_serialiser(client, monkeypatch, reports):
    photo = reports[0][0].photos[0]
    photo.key = "foto lama.webp"
    db.session.flush()
    fast = answer(client, "/api/v1/activities?region=76.02")
    assert fast[:3] == serialised(client, monkeypatch, "/api/v1/activities?region=76.02")[:3]
    assert "/foto/foto%20lama.webp" in {p["url"] for i in fast[2]["items"] for p in i["photos"]}


def test_members_still_see_a_hidden_reports_reason(client, reports):
    _, hidden = reports
    ketua = hidden.kim.memberships[0].user
    body = client.get("/api/v1/activities?region=76.02&status=hidden", headers=bearer(ketua)).get_json()
    assert [(i["id"], i["hidden_reason"]) for i in body["items"]] == [(hidden.id, "Foto tidak sesuai.")]
    assert client.get("/api/v1/activities?region=76.02&status=hidden").get_json()["items"] == []


REGION_SEARCHES = [dict(q="mamuju"), dict(q="Binanga"), dict(q="mamju"), dict(q="kota makassar"), dict(q="76.02"),
                   dict(q="ba"), dict(q="mamuju", page=2, per_page=3), dict(q="mamuju", page=99),
                   dict(q="mamuju", level="desa", parent="76"), dict(level="kabupaten", parent="73"),
                   dict(per_page=5, page=3), dict(q="tidak-ada-nama-begini")]


@pytest.mark.parametrize("args", REGION_SEARCHES, ids=[str(a) for a in REGION_SEARCHES])
def test_the_region_list_is_the_serialisers_body_in_one_statement(app, client, args):
    import json
    from urllib.parse import urlencode

    from kim_platform.regions import api as regions_api
    from kim_platform.regions import queries as region_queries

    url = f"/api/v1/regions?{urlencode(args)}"
    client.get(url)
    status, _, fast, statements = answer(client, url)
    with app.test_request_context():
        result = region_queries.list_regions(q=args.get("q"), level=args.get("level"), parent=args.get("parent"),
                                             page=args.get("page", 1), per_page=args.get("per_page", 50))
        slow = regions_api.RegionPageSchema().dump({"items": regions_api._serialise(result.items),
                                                    "page": result.page, "per_page": result.per_page,
                                                    "total": result.total})
    assert status == 200 and fast == json.loads(json.dumps(slow))
    assert len(statements) <= 3, statements  # a parent's look-up, the search threshold, the page


def test_the_teladan_ranking_is_the_serialisers_body_in_one_statement(app, client, kims):
    import json

    from kim_platform.teladan import api as teladan_api
    from kim_platform.teladan import queries as teladan_queries
    from kim_platform.teladan.models import KimScore, TeladanRun

    today = clock.today()
    for n, kim in enumerate(kims):
        db.session.add(KimScore(kim_id=kim.id, as_of=today, score=(82.5, 70.0, 41.0, 69.99)[n], regularity=0.5,
                                recency=1.0, variety=0.25, reach=0.125, evidence=1 / 3, completeness=0.0,
                                active_months=n, last_report_on=today if n else None, eligible=n != 2,
                                score_90_days_ago=60))
    db.session.add(TeladanRun(kims=4, seconds=0.5, ran_at=MOMENTS[0]))
    db.session.flush()
    for args in ({}, {"region": "76.02"}, {"region": "76", "limit": 1, "page": 2}, {"bidang": "literasi"},
                 {"page": 50}):
        url = "/api/v1/teladan?" + "&".join(f"{k}={v}" for k, v in args.items())
        client.get(url)
        status, _, fast, statements = answer(client, url)
        with app.test_request_context():
            result = teladan_queries.ranking(args.get("region"), args.get("bidang"), page=args.get("page", 1),
                                             per_page=args.get("limit", 20))
            run = teladan_queries.last_run()
            slow = teladan_api.TeladanListSchema().dump({
                "region": args.get("region"), "bidang": args.get("bidang"), "page": result.page,
                "per_page": result.per_page, "total": result.total, "computed_at": run.ran_at,
                "items": [teladan_api._score_body(score, kim) for score, kim in result.items]})
        assert status == 200 and fast == json.loads(json.dumps(slow)), url
        # The region's look-up, the taxonomy for a bidang (and its sub-fields), then one statement.
        assert len(statements) <= (3 if "bidang" in args else 2), statements
    assert {i["kim_id"]: i["teladan"] for i in client.get("/api/v1/teladan").get_json()["items"]} == {
        kims[0].id: True, kims[1].id: True, kims[3].id: False}
