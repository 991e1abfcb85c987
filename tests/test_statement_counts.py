"""Statement counts pinned (issue 15): a list answers with a number of SQL statements that does not
grow with the number of rows on its page.

Each case builds a small world (2 of everything), counts the statements of one request, grows the
world to 20 of everything and counts again: the two counts must be equal. A query per row (N+1)
makes the second count larger.
"""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kim_platform.activities.models import Activity, Photo
from kim_platform.audit.services import record
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import KimInvitation, Membership
from kim_platform.regions.models import Region
from kim_platform.teladan.models import KimScore
from tests.conftest import bearer, counting, login

FEW, MANY = 2, 20


pytestmark = pytest.mark.usefixtures("steady_demo_flag")


def selects(statements: list[str]) -> list[str]:
    """The queries among the statements (not the savepoints the session opens)."""
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


class World:
    """Verified KIMs with a member, a published report with a photo and a score each; KIMs waiting
    for verification with look-alike names; one KIM with many members. `grow(n)` adds rows up to n."""

    def __init__(self, make_user, make_kim):
        self.make_user, self.make_kim = make_user, make_kim
        # Desa of Kabupaten Mamuju, one per kecamatan in turn, so that the rows reach every roll-up.
        turn = func.row_number().over(partition_by=func.left(Region.code, 8), order_by=Region.code)
        desa = select(Region.code, turn.label("turn")).where(
            Region.level == "desa", Region.code.like("76.02.%")).subquery()
        self.desa = list(db.session.scalars(select(desa.c.code).order_by(desa.c.turn, desa.c.code).limit(MANY)))
        self.member = make_user(name="Relawan Banyak KIM")
        self.pembina = make_user(name="Pembina Mamuju", role="pembina", scope="76.02")
        self.provinsi = make_user(name="Pembina Sulbar", role="pembina", scope="76")
        self.direktorat = make_user(name="Direktur", role="direktorat")
        self.invited = make_user(name="Relawan Diundang")
        self.big = make_kim(name="KIM Besar Binanga", members=[(self.member, "ketua")])
        self.kims, self.waiting, self.drafts, self.people = [], [], [], []

    def grow(self, n: int) -> "World":
        today = clock.today()
        while len(self.kims) < n:
            i = len(self.kims)
            desa = self.desa[i % len(self.desa)]
            person = self.make_user(name=f"Relawan {i:02d}")
            self.people.append(person)
            kim = self.make_kim(name=f"KIM Cahaya Desa {i:02d}", desa_code=desa, bidang=("literasi", "umkm"),
                                members=[(person, "ketua"), (self.member, "anggota")])
            self.kims.append(kim)
            db.session.add(Membership(user_id=person.id, kim_id=self.big.id, role="anggota"))
            for owner in (kim, self.big):
                activity = Activity(kim_id=owner.id, title=f"Kegiatan {i:02d}", type="diskusi",
                                    activity_date=today - timedelta(days=i), desa_code=owner.desa_code,
                                    status="published", reach_offline=10 + i, reach_online=0,
                                    links=["https://www.instagram.com/p/contoh"])
                db.session.add(activity)
                db.session.flush()
                db.session.add(Photo(activity_id=activity.id, key=f"p{activity.id}.webp",
                                     thumb_key=f"t{activity.id}.webp", width=800, height=600))
            db.session.add(KimInvitation(kim_id=kim.id, email=self.invited.email, role="anggota",
                                         invited_by_id=person.id))
            record(person, "kim.update", "kim", kim.id, scope_code=kim.desa_code, after={"name": kim.name})
            db.session.add(KimScore(kim_id=kim.id, as_of=today, score=50 + i, regularity=1, recency=1, variety=1,
                                    reach=1, evidence=1, completeness=1, active_months=3, last_report_on=today,
                                    eligible=True, score_90_days_ago=80))
            # Waiting for verification (sent back once), named like a verified KIM, a draft and a
            # returned KIM of the same desa; the reasons are for members and pembina only.
            self.waiting.append(self.make_kim(name=f"KIM Cahaya Desa {i:02d} Baru", desa_code=desa,
                                              status="submitted", rejection_reason="Lengkapi SK.",
                                              members=[(person, "ketua")]))
            self.drafts.append(self.make_kim(name=f"KIM Cahaya Desa {i:02d} Lagi", desa_code=desa, status="draft"))
            self.make_kim(name=f"KIM Cahaya Desa {i:02d} Ulang", desa_code=desa, status="rejected",
                          rejection_reason="Titik di luar desa.", members=[(person, "ketua"), (self.member, "admin")])
        db.session.flush()
        return self


@pytest.fixture
def world(make_user, make_kim):
    return World(make_user, make_kim)


def statements(client, url: str, headers=None) -> tuple[int, bytes]:
    """The number of statements one GET sends, and its answer."""
    with counting() as seen:
        response = client.get(url, headers=headers or {})
    assert response.status_code == 200, (url, response.status_code)
    return len(seen), response.get_data()


def assert_same_count(client, world: World, url: str, headers=None) -> None:
    world.grow(FEW)
    statements(client, url, headers)  # warm-up: first-use work (translations, taxonomies)
    few, small = statements(client, url, headers)
    world.grow(MANY)
    many, large = statements(client, url, headers)
    assert large != small, f"{url}: the answer does not show the added rows, so the count proves nothing"
    assert many == few, f"{url}: {few} statements with {FEW} rows each, {many} with {MANY}"


# (url, viewer): viewer None is anonymous, else the World attribute logged in (pages) or the bearer (API).
API = [
    ("/api/v1/kims?per_page=100", None),
    ("/api/v1/kims?per_page=100", "member"),
    ("/api/v1/kims?per_page=100", "pembina"),
    ("/api/v1/kims?per_page=100&format=geojson", "member"),
    ("/api/v1/kims?per_page=100&status=submitted", "direktorat"),
    ("/api/v1/activities?per_page=100", None),
    ("/api/v1/activities?per_page=100", "member"),
    ("/api/v1/activities?per_page=100&format=geojson", None),
    ("/api/v1/kims/{big}/members", "member"),
    ("/api/v1/kims/{big}/members", "pembina"),
    ("/api/v1/users?per_page=100", "direktorat"),
    ("/api/v1/users?per_page=100", "provinsi"),
    ("/api/v1/teladan?limit=100", None),
    ("/api/v1/teladan?limit=100&region=76.02", "member"),
    ("/api/v1/coverage?level=kecamatan&parent=76.02", None),
    ("/api/v1/coverage?level=desa&parent=76.02.01", None),
    ("/api/v1/coverage/gaps?level=kecamatan&parent=76.02", None),
    ("/api/v1/me", "member"),
    ("/api/v1/me/invitations", "invited"),
    ("/api/v1/audit?per_page=100", "direktorat"),
    ("/api/v1/audit?per_page=100", "pembina"),
]
PAGES = [
    ("/kim", None),
    ("/kim", "member"),
    ("/kim?wilayah=76.02", "pembina"),
    ("/kegiatan", None),
    ("/kegiatan", "member"),
    ("/wilayah/76.02.01", None),
    ("/wilayah/76.02", "member"),
    ("/verifikasi", "pembina"),
    ("/verifikasi", "direktorat"),
    ("/moderasi", "pembina"),
    ("/kim/{big_ref}", None),
    ("/kim/{big_ref}", "member"),
    ("/kim/{big_ref}/anggota", "member"),
    ("/kim/{big_ref}/anggota", "pembina"),
    ("/teladan", None),
    ("/teladan?wilayah=76.02", "pembina"),
    ("/teladan/contoh", None),
    ("/pengguna", "direktorat"),
    ("/pengguna", "provinsi"),
    ("/akun", "member"),
    ("/akun", "invited"),
    ("/audit", "direktorat"),
    ("/audit", "pembina"),
    ("/cakupan?wilayah=76.02", None),
    ("/cakupan?wilayah=76.02.01", None),
    ("/kim/{big_ref}/kegiatan.atom", None),
    ("/wilayah/76.02/kegiatan.atom", None),
    ("/wilayah/76/kegiatan.atom", None),
]


def _url(template: str, world: World) -> str:
    return template.format(big=world.big.id, big_ref=world.big.public_ref)


@pytest.mark.parametrize(("url", "viewer"), API, ids=[f"{u} as {v or 'anonymous'}" for u, v in API])
def test_api_lists_do_not_grow_with_the_page(client, world, url, viewer):
    headers = bearer(getattr(world, viewer)) if viewer else None
    assert_same_count(client, world, _url(url, world), headers)


@pytest.mark.parametrize(("url", "viewer"), PAGES, ids=[f"{u} as {v or 'anonymous'}" for u, v in PAGES])
def test_pages_do_not_grow_with_the_page(client, world, url, viewer):
    if viewer:
        login(client, getattr(world, viewer))
    assert_same_count(client, world, _url(url, world))


# Regions are the loaded sample, the same in every test: their lists grow with the page size asked for.
REGION_LISTS = [
    "/api/v1/regions?level=desa&parent=76.02&per_page={n}",
    "/api/v1/regions?q=mamuju&per_page={n}",
    "/api/v1/regions/76.02.01/children?per_page={n}",
]


@pytest.mark.parametrize("url", REGION_LISTS)
def test_region_lists_do_not_grow_with_the_page_size(client, url):
    statements(client, url.format(n=FEW))
    (few, small), (many, large) = (statements(client, url.format(n=n)) for n in (FEW, MANY))
    assert len(large) > len(small)
    assert many == few, f"{url}: {few} statements for {FEW} regions, {many} for {MANY}"


@pytest.mark.parametrize("code", ["76.02", "76.02.01"])
def test_a_region_page_does_not_grow_with_its_children_per_page(app, client, world, code):
    world.grow(FEW)
    url = f"/wilayah/{code}"
    statements(client, url)
    counts = []
    for n in (FEW, MANY):
        app.config["REGION_CHILDREN_PER_PAGE"], previous = n, app.config["REGION_CHILDREN_PER_PAGE"]
        try:
            counts.append(statements(client, url))
        finally:
            app.config["REGION_CHILDREN_PER_PAGE"] = previous
    (few, small), (many, large) = counts
    assert len(large) > len(small)
    assert many == few, f"{url}: {few} statements for {FEW} children, {many} for {MANY}"


def test_the_queue_finds_each_kims_look_alikes_in_one_query(world):
    """The batched look-alikes are those of look_alikes_for, KIM by KIM, split by the same visibility."""
    from kim_platform.kims.services import look_alikes_for, look_alikes_of_page

    world.grow(5)
    for viewer in (None, world.member, world.pembina):
        with counting() as seen:
            batch = look_alikes_of_page(viewer, world.waiting)
        # The look-alikes, their members (for the visibility rule) and those members' roles.
        assert len(selects(seen)) == 3
        for kim in world.waiting:
            one = look_alikes_for(viewer, kim.name, kim.desa_code, exclude_id=kim.id)
            assert {k.id for k in batch[kim.id].visible} == {k.id for k in one.visible}
            assert batch[kim.id].others_being_registered == one.others_being_registered
    anonymous = look_alikes_of_page(None, world.waiting)
    assert all(a.visible and a.others_being_registered for a in anonymous.values()), {
        k: ([v.name for v in a.visible], a.others_being_registered) for k, a in anonymous.items()}
    # The pembina of the region sees the verified, the draft and the returned look-alike of each.
    assert all(len(a.visible) == 3 and not a.others_being_registered
               for a in look_alikes_of_page(world.pembina, world.waiting).values())


def test_a_long_bidang_list_is_refused_before_the_taxonomy_is_read(app):
    """One huge body used to cost one SELECT of the taxonomy per submitted slug."""
    from kim_platform.kims.services import KimError, clean_kim_input

    with counting() as seen, pytest.raises(KimError) as refused:
        clean_kim_input({"bidang": [f"bidang-{i}" for i in range(20_000)]}, partial=True)
    assert "bidang" in refused.value.fields and selects(seen) == []
    with counting() as seen, pytest.raises(KimError) as refused:
        clean_kim_input({"bidang": [f"bidang-{i}" for i in range(6)]}, partial=True)
    assert "bidang-0" in str(refused.value.fields["bidang"]) and len(selects(seen)) == 1
    with counting() as seen:
        assert clean_kim_input({"bidang": ["literasi", "umkm"]}, partial=True)["bidang"] == ["literasi", "umkm"]
    assert len(selects(seen)) == 1
