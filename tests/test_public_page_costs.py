"""The public pages of regions, KIMs and reports read what they show in few statements (issue 20):
each folded read answers what the separate reads it replaced answer, and the pages' statement
counts stay bounded (counted, never timed)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kim_platform.activities import queries as activity_queries
from kim_platform.activities.models import Activity, Photo
from kim_platform.core import clock
from kim_platform.core.pagination import paginate
from kim_platform.extensions import db
from kim_platform.kims import queries as kim_queries
from kim_platform.regions import queries
from kim_platform.regions.codes import kecamatan_of, parent_of
from kim_platform.regions.models import Region
from tests.conftest import counting, login

pytestmark = pytest.mark.usefixtures("steady_demo_flag")

# A province, a kabupaten, a kecamatan, a desa with a point, a desa without one, a kota.
CODES = ["76", "76.02", "76.02.01", "76.02.01.1002", "73.15.09.1006", "73.71"]


def _selects(client, url: str) -> tuple[int, str]:
    with counting() as seen:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len([s for s in seen if s.lstrip().upper().startswith("SELECT")]), response.get_data(as_text=True)


@pytest.mark.parametrize("code", CODES)
def test_region_page_facts_answer_what_the_separate_reads_answer(app, code):
    region = queries.get_region(code)
    facts = queries.region_page_facts(region)
    extent = queries.region_extent(code)
    assert facts.extent == extent
    assert facts.boundary == queries.boundary_geojson(code)
    context = None
    if facts.boundary is None and region.parent_code:
        context = queries.boundary_geojson(region.parent_code) or queries.boundary_geojson(
            parent_of(region.parent_code) or region.parent_code)
    assert facts.context == context
    assert facts.kind_counts == queries.children_kind_counts(code)
    assert [(a.code, a.label) for a in facts.ancestors] == [(a.code, a.label) for a in queries.ancestors_of(region)]


def test_a_desa_page_draws_its_kecamatan_and_a_kabupaten_page_its_own_outline(app):
    desa = queries.region_page_facts(queries.get_region("76.02.01.1002"))
    assert desa.boundary is None and desa.context == queries.boundary_geojson("76.02.01") is not None
    kabupaten = queries.region_page_facts(queries.get_region("76.02"))
    assert kabupaten.boundary is not None and kabupaten.context is None


@pytest.mark.parametrize("page", [1, 2, 3, 99])
def test_children_counted_with_their_page_are_the_paginated_children(app, page):
    stmt = (select(Region).options(*queries.no_shapes()).where(Region.parent_code == "76.02", queries.CURRENT)
            .order_by(Region.code))
    before = paginate(stmt, page, 5)
    after = queries.children_page("76.02", page, 5)
    assert [r.code for r in after.items] == [r.code for r in before.items]
    assert (after.total, after.page, after.per_page, after.pages) == (before.total, before.page, before.per_page,
                                                                      before.pages)


def _report(kim, days_ago=1, photo=True, **fields):
    activity = Activity(kim_id=kim.id, title=f"Diskusi warga {days_ago}", type="diskusi", desa_code=kim.desa_code,
                        activity_date=clock.today() - timedelta(days=days_ago), status="published",
                        reach_offline=12, reach_online=0, links=[], **fields)
    db.session.add(activity)
    db.session.flush()
    if photo:
        db.session.add(Photo(activity_id=activity.id, key=f"r{activity.id}.webp", thumb_key=f"r{activity.id}-t.webp",
                             position=0, width=800, height=600))
        db.session.flush()
    return activity


def test_the_profile_and_report_facts_answer_what_the_separate_reads_answer(app, make_kim):
    kim = make_kim(name="KIM Lipat Kueri")
    report = _report(kim)
    facts, outline = kim_queries.profile_facts(kim)
    assert facts == kim_queries.kim_facts([kim])[kim.id]
    assert outline == queries.boundary_geojson(kecamatan_of(kim.desa_code)) is not None
    report_facts, report_outline = activity_queries.report_facts(report)
    assert report_facts == activity_queries.activity_facts([report])[report.id]
    assert report_outline == queries.boundary_geojson(kecamatan_of(report.desa_code))
    assert report_facts.place_label == queries.region_paths([queries.get_region(report.desa_code)])[report.desa_code]
    elsewhere = [_report(make_kim(name=f"KIM Tempat {code}", desa_code=code), photo=False)
                 for code in ("76.02.01.1002", "73.71.01.1001", "73.15.09.1006")]
    labels = activity_queries.place_labels({r.desa_code for r in [report, *elsewhere]})
    assert {r.id: f.place_label for r, f in zip([report, *elsewhere], [
        activity_queries.activity_facts([report, *elsewhere])[r.id] for r in [report, *elsewhere]])} == {
        r.id: labels[r.desa_code] for r in [report, *elsewhere]}


def test_a_region_page_reads_in_a_bounded_number_of_statements(client, make_kim):
    kims = [make_kim(name=f"KIM Hitung {i}") for i in range(3)]
    for i, kim in enumerate(kims):
        _report(kim, days_ago=i + 1)
    client.get("/wilayah/76.02")  # first use: translations, taxonomies
    # region, children with their total, children's children, extent/outline/kinds/ancestors,
    # the reports panel (reports, photos, facts with place labels, types), the aspirations panel (2).
    count, html = _selects(client, "/wilayah/76.02")
    assert count <= 11, count
    assert "Diskusi warga 1" in html and "KIM Hitung 0" in html
    for code in ("76", "76.02.01", "76.02.01.1002"):
        count, _ = _selects(client, f"/wilayah/{code}")
        assert count <= 12, (code, count)


def test_the_profile_and_report_pages_read_in_a_bounded_number_of_statements(client, make_kim):
    kim = make_kim(name="KIM Profil Hemat")
    report = _report(kim)
    client.get(f"/kim/{kim.public_ref}")
    count, html = _selects(client, f"/kim/{kim.public_ref}")
    assert count <= 11, count
    assert "KIM Profil Hemat" in html and 'class="folium-map"' in html
    assert '"MultiPolygon"' in html or '"Polygon"' in html  # the kecamatan's outline
    client.get(f"/kegiatan/{report.id}")
    count, html = _selects(client, f"/kegiatan/{report.id}")
    assert count <= 5, count
    assert "Diskusi warga 1" in html and 'class="folium-map"' in html


def test_a_logged_in_member_still_sees_the_drafts_of_their_kim_on_its_profile(client, kim_with_member):
    """The profile's folded read changes nothing of who sees what: a member sees a draft, a visitor not."""
    kim, member, _ = kim_with_member
    _report(kim, days_ago=2, photo=False)
    draft = _report(kim, days_ago=3, photo=False)
    draft.status, draft.title = "draft", "Rancangan rahasia"
    db.session.flush()
    anonymous = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    assert "Diskusi warga 2" in anonymous and "Rancangan rahasia" not in anonymous
    login(client, member)
    insider = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    assert "Diskusi warga 2" in insider and "Rancangan rahasia" in insider
    assert db.session.scalar(select(func.count()).select_from(Activity).where(Activity.kim_id == kim.id)) == 2
