"""Posting a report at national scale (#20): a bounded number of statements, the figures it moves
kept exact (the KIM's latest date, its teladan score), photos decoded at the scale they are stored,
and the tiles' compiled visibility rule never shared between viewers it differs for."""
import io
import math
from datetime import timedelta

from PIL import Image, ImageOps
from sqlalchemy import select

from kim_platform.activities.models import Activity
from kim_platform.core import clock, images
from kim_platform.extensions import db
from kim_platform.kims.models import Kim
from kim_platform.maps import tiles
from kim_platform.teladan import scoring
from kim_platform.teladan.models import KimScore
from tests.conftest import DESA_POINT, bearer, counting

TODAY = clock.today()
REPORT = {"title": "Diskusi warga", "type": "diskusi", "description": "Diskusi tentang layanan desa.",
          "reach_offline": 12}
# What a post without a photo may cost, counted on the test's connection (a savepoint and its
# release included): the credential with its user's roles, the KIM with its memberships, the
# daily cap, the type with the desa, the report, its audit row, the answer's coordinates and
# names, its region path, the rescoring.
STATEMENTS_PER_POST = 11


def post(client, kim, headers, days_ago=0, **fields):
    body = {**REPORT, "date": (TODAY - timedelta(days=days_ago)).isoformat(), "desa_code": kim.desa_code, **fields}
    response = client.post(f"/api/v1/kims/{kim.id}/activities", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_post_costs_a_bounded_number_of_statements(client, kim_with_member):
    kim, member, _ = kim_with_member
    headers = bearer(member)
    post(client, kim, headers)  # the first also caches the rescoring's plans on this connection
    with counting() as statements:
        post(client, kim, headers, days_ago=1)
    assert len(statements) <= STATEMENTS_PER_POST, "\n".join(statements)
    joined = "\n".join(statements)
    assert "max(activity.activity_date)" not in joined  # the latest date is not read again
    assert "region.geom" not in joined  # no region outline is loaded to name a place
    # the user's role grants come with the credential, the memberships with the KIM, the desa
    # with the type
    assert not any(s.lstrip().startswith(("SELECT role_grant", "SELECT kim_membership", "SELECT region"))
                   and "WHERE region.code IN" not in s for s in statements)
    # the rescoring is one call of its function; nothing is PREPAREd on the connection (a pooler
    # in transaction mode may give the next transaction another one)
    assert [s.split("(")[0] for s in statements if "kim_score" in s or scoring.RESCORE_FUNCTION in s] == [
        f"SELECT {scoring.RESCORE_FUNCTION}"]
    assert not any(s.lstrip().upper().startswith(("PREPARE", "EXECUTE")) for s in statements)


def test_a_post_with_a_point_reads_its_desa_and_kabupaten_with_the_type(client, kim_with_member):
    kim, member, _ = kim_with_member
    headers = bearer(member)
    lat, lon = DESA_POINT
    post(client, kim, headers)
    with counting() as statements:
        post(client, kim, headers, lat=lat, lon=lon)
    # one more than without a point: whether the point lies inside the kabupaten's boundary
    assert len(statements) <= STATEMENTS_PER_POST + 1, "\n".join(statements)
    assert not any("WHERE region.code = " in s for s in statements), "\n".join(statements)


def test_a_report_naming_an_unknown_type_or_desa_is_still_refused_field_by_field(client, kim_with_member):
    kim, member, _ = kim_with_member
    for fields, field in (({"type": "tidak-ada"}, "type"), ({"desa_code": "76.02.01.1999"}, "desa_code"),
                          ({"type": "x" * 41}, "type"), ({"desa_code": "76.02"}, "desa_code")):
        body = {**REPORT, "date": TODAY.isoformat(), "desa_code": kim.desa_code, **fields}
        response = client.post(f"/api/v1/kims/{kim.id}/activities", json=body, headers=bearer(member))
        assert response.status_code == 422 and field in response.get_json()["error"]["fields"], response.get_json()


def test_the_answer_to_a_post_is_the_report_as_read_back(client, kim_with_member, make_user):
    """The answer's coordinates, KIM name and place (from the statements folded above) are those
    of the report read back, with the desa's centroid or with the report's own point."""
    kim, member, _ = kim_with_member
    headers = bearer(member)
    lat, lon = DESA_POINT
    for fields in ({}, {"lat": lat, "lon": lon}):
        body = post(client, kim, headers, **fields)
        assert body == client.get(f"/api/v1/activities/{body['id']}", headers=headers).get_json()
        assert body["kim_name"] == kim.name and body["place"].count(",") == 3 and body["lat"] is not None
    assert (body["lat"], body["lon"]) == (lat, lon)
    stranger = make_user(name="Bukan anggota")
    response = client.post(f"/api/v1/kims/{kim.id}/activities", headers=bearer(stranger),
                           json={**REPORT, "date": TODAY.isoformat()})
    assert response.status_code == 403  # the memberships loaded with the KIM still decide


def test_the_rescoring_function_in_the_database_is_the_one_the_module_renders():
    """The migration holds a copy of the function; a change to the score's SQL needs a new one."""
    from sqlalchemy import text

    rendered = scoring.rescore_function_sql()
    body = rendered[rendered.index("$function$") + len("$function$"):rendered.rindex("$function$")]
    arguments = rendered[rendered.index("(") + 1:rendered.index(")")]
    stored = db.session.execute(text(
        "SELECT prosrc, pg_get_function_arguments(oid) FROM pg_proc WHERE proname = :name"),
        {"name": scoring.RESCORE_FUNCTION}).all()
    assert stored == [(body, arguments)]


def test_posts_keep_the_latest_date_and_the_score_exact(client, kim_with_member):
    kim, member, _ = kim_with_member
    headers = bearer(member)
    for days_ago in (120, 150):  # reports the score of 90 days ago counts
        db.session.add(Activity(kim_id=kim.id, title="Lama", activity_date=TODAY - timedelta(days=days_ago),
                                type="diseminasi", desa_code=kim.desa_code, status="published", reach_offline=300))
    db.session.flush()

    def check(latest):
        db.session.expire_all()
        assert db.session.get(Kim, kim.id).last_activity_on == latest
        stored = db.session.get(KimScore, kim.id)
        now = scoring.compute(TODAY, [kim.id])[kim.id]
        past = scoring.compute(TODAY - timedelta(days=90), [kim.id])[kim.id]
        assert (stored.score, stored.regularity, stored.recency, stored.reach, stored.active_months) == (
            now.score, now.regularity, now.recency, now.reach, now.months)
        assert stored.score_90_days_ago == past.score > 0

    post(client, kim, headers, days_ago=10)
    check(TODAY - timedelta(days=10))
    post(client, kim, headers, days_ago=20)  # an earlier date leaves the latest as it was
    check(TODAY - timedelta(days=10))
    post(client, kim, headers, days_ago=0, action="draft")  # a draft counts for nothing
    check(TODAY - timedelta(days=10))
    post(client, kim, headers, days_ago=3)
    check(TODAY - timedelta(days=3))


def test_one_kims_rescoring_matches_the_full_run(make_kim):
    kims = [make_kim(name=f"Skor {n}") for n in range(2)]
    for n, kim in enumerate(kims):
        for days_ago in range(5 + n, 260, 37):
            db.session.add(Activity(kim_id=kim.id, title="K", activity_date=TODAY - timedelta(days=days_ago),
                                    type="diskusi" if days_ago % 2 else "pelatihan", desa_code=kim.desa_code,
                                    status="published", reach_offline=days_ago))
    db.session.flush()
    columns = "kim_id, score, regularity, recency, variety, reach, evidence, completeness, active_months, " \
              "last_report_on, eligible, score_90_days_ago"
    read = lambda: [tuple(r) for r in db.session.execute(  # noqa: E731
        select(KimScore.__table__).with_only_columns(*(KimScore.__table__.c[c.strip()] for c in columns.split(",")))
        .where(KimScore.kim_id.in_([k.id for k in kims])).order_by(KimScore.kim_id))]
    for kim in kims:
        scoring.recompute([kim.id])  # one KIM: the function
    one_by_one = read()
    scoring.recompute([k.id for k in kims])  # several: the plain statement
    assert read() == one_by_one and len(one_by_one) == 2 and all(row[-1] > 0 for row in one_by_one)
    kims[0].status = "inactive"
    db.session.flush()
    scoring.recompute([kims[0].id])
    assert db.session.get(KimScore, kims[0].id) is None  # no longer verified: no score


def test_a_large_photo_keeps_its_sizes_and_orientation():
    exif = Image.Exif()
    exif[0x0112] = 6  # taken turned: shown rotated by 90 degrees
    out = io.BytesIO()
    Image.new("RGB", (4000, 2250), (30, 120, 200)).save(out, format="JPEG", exif=exif, quality=80)
    data = out.getvalue()
    (full, width, height), (thumb, tw, th) = images.image_variants(data, 15 * 1024 * 1024)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))  # decoded whole, as before
    sizes = []
    for side in (1600, 400):
        copy = expected.copy()
        copy.thumbnail((side, side))
        sizes.append(copy.size)
    assert [(width, height), (tw, th)] == sizes == [(900, 1600), (225, 400)]
    assert Image.open(io.BytesIO(full)).size == (900, 1600) and Image.open(io.BytesIO(thumb)).size == (225, 400)
    assert not Image.open(io.BytesIO(full)).getexif()


def test_the_tiles_visibility_rule_is_not_shared_between_scopes(client, make_user, make_kim):
    tiles.cache.clear()
    tiles.forget_version()
    make_kim(name="Menunggu", status="submitted")
    n = 2 ** 14
    lat, lon = DESA_POINT
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    path = f"/tiles/kims/14/{x}/{y}.pbf?status=submitted"
    statuses = [client.get(path, headers=bearer(make_user(role="pembina", scope=scope))).status_code
                for scope in ("76.02", "73.71", "76.02", "73.71")]
    assert statuses == [200, 204, 200, 204]  # Mamuju's pembina sees the submitted KIM, Makassar's never
    assert client.get(path).status_code == 204
