"""The public list reads at national scale (issue 20): the API feed pages by keyset (a `next`
link) with a capped total, the feed of a province or kabupaten reads by prefix, and the lists
answer in a fixed, small number of statements without loading region boundaries."""
from datetime import timedelta

import pytest

from kim_platform.activities import queries as activity_queries
from kim_platform.activities.models import Activity
from kim_platform.core import clock
from kim_platform.extensions import db
from tests.conftest import counting

KAB = "76.02"


def _report(kim, title, days_ago, desa_code=None):
    activity = Activity(kim_id=kim.id, title=title, type="diskusi", status="published",
                        activity_date=clock.today() - timedelta(days=days_ago),
                        desa_code=desa_code or kim.desa_code)
    db.session.add(activity)
    db.session.flush()
    return activity


@pytest.fixture
def reports(make_kim):
    """Seven published reports of a KIM in Mamuju, two on the same day (ties broken by id)."""
    kim = make_kim(name="KIM Halaman Demi Halaman")
    return kim, [_report(kim, f"Laporan {n}", days_ago=n // 2 + 1) for n in range(7)]


def test_keyset_pages_cover_every_report_once_while_newer_ones_arrive(client, reports):
    kim, existing = reports
    url = f"/api/v1/activities?region={KAB}&per_page=3"
    seen, pages = [], 0
    while url:
        body = client.get(url).get_json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        # Reports posted between two pages are newer: offset pages would repeat the last ones.
        _report(kim, f"Baru {pages}", days_ago=0)
        url = body["next"]
        assert url is None or (f"region={KAB}" in url and "per_page=3" in url and "cursor=" in url)
    assert pages == 3
    assert seen == [a.id for a in sorted(existing, key=lambda a: (a.activity_date, a.id), reverse=True)]


def test_offset_page_then_cursor_and_geojson_carry_the_cursor(client, reports):
    _, existing = reports
    newest = sorted(existing, key=lambda a: (a.activity_date, a.id), reverse=True)
    second = client.get(f"/api/v1/activities?kim={existing[0].kim_id}&per_page=2&page=2").get_json()
    assert [i["id"] for i in second["items"]] == [a.id for a in newest[2:4]]
    assert second["next_cursor"] == f"{newest[3].activity_date.isoformat()}_{newest[3].id}"
    third = client.get(second["next"]).get_json()
    assert [i["id"] for i in third["items"]] == [a.id for a in newest[4:6]]
    geo = client.get(f"/api/v1/activities?kim={existing[0].kim_id}&per_page=6&format=geojson").get_json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 6 and geo["next"] is not None
    last = client.get(geo["next"]).get_json()
    assert [f["id"] for f in last["features"]] == [newest[6].id] and last["next"] is None


def test_the_next_link_carries_only_the_declared_filters(client, reports):
    """Parameters the API does not declare stay out of `next`: url_for's own keywords (`endpoint`,
    `_method`, `_external`, `_anchor`) given by a client were a 500 or a foreign-looking link."""
    kim, _ = reports
    url = (f"/api/v1/activities?kim={kim.id}&per_page=2&page=1&from=2000-01-01&endpoint=x&_method=DELETE"
           "&_external=1&_anchor=a&foo=bar")
    body = client.get(url).get_json()
    assert body["next"].startswith("/api/v1/activities?")
    for kept in (f"kim={kim.id}", "per_page=2", "from=2000-01-01", "cursor="):
        assert kept in body["next"]
    for dropped in ("endpoint", "_method", "_external", "_anchor", "#", "foo", "?page=", "&page="):
        assert dropped not in body["next"]
    assert len(client.get(body["next"]).get_json()["items"]) == 2


@pytest.mark.parametrize("cursor", ["abc", "2026-13-01_5", "2026-01-01_0", "2026-01-01_-3", "2026-01-01_" + "9" * 19,
                                    "2026-01-01", "2026-01-01_5_6"])
def test_a_crafted_cursor_is_a_400_naming_the_field(client, cursor):
    response = client.get(f"/api/v1/activities?cursor={cursor}")
    assert response.status_code == 400
    assert "cursor" in response.get_json()["error"]["fields"]


def test_the_feed_total_is_exact_up_to_the_cap_then_capped(client, reports, monkeypatch):
    exact = client.get(f"/api/v1/activities?region={KAB}").get_json()
    assert (exact["total"], exact["total_capped"]) == (7, False)
    monkeypatch.setattr(activity_queries, "FEED_TOTAL_CAP", 5)
    capped = client.get(f"/api/v1/activities?region={KAB}&per_page=2").get_json()
    assert (capped["total"], capped["total_capped"]) == (5, True)
    monkeypatch.setattr(activity_queries, "FEED_TOTAL_CAP", 7)
    assert client.get(f"/api/v1/activities?region={KAB}").get_json()["total_capped"] is False


def test_the_feed_of_a_province_or_kabupaten_is_the_prefix_match(client, make_kim):
    """`left(desa_code, n) = code` for provinces and kabupaten: the same reports as the prefix."""
    mamuju = make_kim(name="KIM Mamuju")
    polman = make_kim(name="KIM Polman", desa_code="76.04.01.1001")
    makassar = make_kim(name="KIM Makassar", desa_code="73.71.01.1001")
    ids = {name: _report(kim, name, 1).id for name, kim in (("m", mamuju), ("p", polman), ("k", makassar))}

    def listed(code):
        body = client.get(f"/api/v1/activities?region={code}").get_json()
        assert body["total"] == len(body["items"])
        return {i["id"] for i in body["items"]}

    assert listed("76") == {ids["m"], ids["p"]} and listed("73") == {ids["k"]}
    assert listed("76.02") == {ids["m"]} and listed("76.04") == {ids["p"]} and listed("73.71") == {ids["k"]}
    assert listed("76.02.01") == {ids["m"]} and listed("76.01") == set()


# Anonymous reads of the public lists: statements per answer, whatever the page holds (the KIM
# list and the feed: the region filter's look-up, then one statement that PostgreSQL answers with
# the page, its total and its items written as JSON).
CEILINGS = [
    ("/api/v1/activities?region=76.02", 2),
    ("/api/v1/activities?region=76.02&cursor=2100-01-01_1", 2),
    ("/api/v1/kims?region=76.02", 2),
    ("/api/v1/regions?q=mamuju", 4),
    ("/api/v1/teladan?region=76", 4),
    ("/api/v1/coverage?level=kabupaten&parent=76", 3),
]


@pytest.mark.parametrize(("url", "ceiling"), CEILINGS, ids=[u for u, _ in CEILINGS])
def test_public_lists_answer_within_their_statement_ceiling(client, reports, url, ceiling):
    client.get(url)  # first-use work (translations, taxonomies)
    with counting() as seen:
        response = client.get(url)
    assert response.status_code == 200
    queries = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) <= ceiling, queries
    # Lists never load a region's boundary (a province's is ~45 kB).
    assert not [s for s in queries if "ST_AsEWKB(region.geom)" in s], url
