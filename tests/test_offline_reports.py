"""Offline reports sent exactly once (issue #16, server side; contract in the README's API section).

A report carries the client's Idempotency-Key: a replay answers the same report, another body
409, concurrent replays one row. Its photos come one by one (PUT .../photos/<n>, each with its
own key); until the last one is stored the report is never public, in any list or count.
"""
import gc
import io
import threading
import warnings
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import delete, func, select

from kim_platform import create_app
from kim_platform.accounts.models import User
from kim_platform.accounts.passwords import hash_password
from kim_platform.accounts.services import create_api_token, utcnow
from kim_platform.activities import services
from kim_platform.activities.models import Activity, Photo
from kim_platform.audit.models import AuditEntry
from kim_platform.coverage.queries import timeseries
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, Membership
from kim_platform.teladan import scoring
from tests.conftest import DESA, bearer, login


pytestmark = pytest.mark.usefixtures("steady_demo_flag")


def _jpeg(colour=(200, 80, 30), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def _body(**extra) -> dict:
    return {"title": "Sosialisasi cek fakta", "date": clock.today().isoformat(), "type": "diskusi",
            "description": "Warga belajar mengenali hoaks.", "reach_offline": 25, **extra}


def _post(client, kim, headers, body, key=None):
    headers = dict(headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/kims/{kim.id}/activities", json=body, headers=headers)


def _put_photo(client, activity_id, n, headers, key, data=None, filename="foto.jpg"):
    headers = dict(headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    files = {"photo": (io.BytesIO(data if data is not None else _jpeg()), filename)}
    return client.put(f"/api/v1/activities/{activity_id}/photos/{n}", data=files, headers=headers,
                      content_type="multipart/form-data")


def _rows(author) -> int:
    return db.session.scalar(select(func.count()).select_from(Activity).where(Activity.author_id == author.id))


@pytest.fixture
def reporter(kim_with_member):
    kim, member, admin = kim_with_member
    return kim, member, bearer(member)


# --- the report: sent once ----------------------------------------------------------------------

def test_a_replay_answers_the_same_report_and_stores_nothing_new(client, reporter):
    kim, member, headers = reporter
    key = str(uuid.uuid4())
    first = _post(client, kim, headers, _body(), key)
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    # The same parsed body, spelled differently (a number as text, keys in another order).
    again = _post(client, kim, headers, dict(reversed(list(_body(reach_offline="25").items()))), key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _rows(member) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "activity.create", AuditEntry.actor_id == member.id)) == 1


def test_a_replay_answers_the_reports_current_state(client, reporter):
    kim, member, headers = reporter
    key = str(uuid.uuid4())
    first = _post(client, kim, headers, _body(), key).get_json()
    assert client.patch(f"/api/v1/activities/{first['id']}", json={"title": "Judul baru"},
                        headers=headers).status_code == 200
    again = _post(client, kim, headers, _body(), key)
    assert again.status_code == 201 and again.get_json()["title"] == "Judul baru"


def test_the_same_key_with_another_body_is_a_conflict(client, reporter, make_kim):
    kim, member, headers = reporter
    key = str(uuid.uuid4())
    assert _post(client, kim, headers, _body(), key).status_code == 201
    other = _post(client, kim, headers, _body(title="Judul lain"), key)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_conflict"
    # Another KIM with the same key and fields is another body too.
    second_kim = make_kim(members=[(member, "anggota")])
    assert _post(client, second_kim, headers, _body(), key).status_code == 409
    assert _rows(member) == 1


def test_the_key_is_per_author(client, reporter, make_user):
    kim, member, headers = reporter
    colleague = make_user()
    db.session.add(Membership(user_id=colleague.id, kim_id=kim.id, role="anggota"))
    db.session.flush()
    key = str(uuid.uuid4())
    assert _post(client, kim, headers, _body(), key).status_code == 201
    answer = _post(client, kim, bearer(colleague), _body(), key)
    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer.headers
    assert _rows(member) == 1 and _rows(colleague) == 1


def test_a_refused_request_keeps_its_key_free(client, reporter):
    kim, member, headers = reporter
    key = str(uuid.uuid4())
    future = (clock.latest_today() + timedelta(days=1)).isoformat()
    refused = _post(client, kim, headers, _body(date=future), key)
    assert refused.status_code == 422 and "date" in refused.get_json()["error"]["fields"]
    fixed = _post(client, kim, headers, _body(), key)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers
    assert _rows(member) == 1


@pytest.mark.parametrize("key", ["", "kunci dengan spasi", "x" * 65, "kunci/garis", "ünï"])
def test_a_malformed_key_is_a_bad_request(client, reporter, key):
    kim, member, headers = reporter
    answer = _post(client, kim, headers, _body(), key)
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "bad_request"
    assert _rows(member) == 0


def test_a_key_of_64_characters_is_accepted(client, reporter):
    kim, member, headers = reporter
    assert _post(client, kim, headers, _body(), "A-z_9" * 12 + "abcd").status_code == 201


def test_without_a_key_every_post_is_a_new_report(client, reporter):
    kim, member, headers = reporter
    assert _post(client, kim, headers, _body()).status_code == 201
    assert _post(client, kim, headers, _body()).status_code == 201
    assert _rows(member) == 2


def test_written_at_is_stored_beside_the_receive_time(client, reporter):
    kim, member, headers = reporter
    written = (utcnow() - timedelta(hours=30)).astimezone(timezone(timedelta(hours=8))).replace(microsecond=0)
    answer = _post(client, kim, headers, _body(written_at=written.isoformat()), str(uuid.uuid4()))
    assert answer.status_code == 201
    body = answer.get_json()
    assert datetime.fromisoformat(body["written_at"]) == written
    assert datetime.fromisoformat(body["received_at"]) > written
    activity = db.session.get(Activity, body["id"])
    assert activity.written_at == written and activity.created_at is not None
    # "Z" (JavaScript's toISOString) is an offset too.
    z_time = (utcnow() - timedelta(days=10)).replace(microsecond=678000)
    z_text = z_time.strftime("%Y-%m-%dT%H:%M:%S.678Z")
    z = _post(client, kim, headers, _body(title="Lain", written_at=z_text))
    assert z.status_code == 201 and z.get_json()["written_at"].startswith(z_time.strftime("%Y-%m-%dT%H:%M:%S"))


@pytest.mark.parametrize("written_at", [
    "0001-01-01T00:00:00+14:00",  # stored as a BC timestamp, which psycopg2 cannot read back
    "9999-12-31T23:00:00+00:00",  # overflows when shown in WIB
    "far-past", "far-future"])
def test_an_implausible_device_time_keeps_the_report_not_the_time(client, reporter, written_at):
    """A wrong device clock must neither strand the report in the outbox (a 422 the volunteer cannot
    fix) nor store a time that breaks every page reading the row back."""
    kim, member, headers = reporter
    now = utcnow()
    written_at = {"far-past": (now - timedelta(days=3 * 366)).isoformat(),
                  "far-future": (now + timedelta(days=2)).isoformat()}.get(written_at, written_at)
    answer = _post(client, kim, headers, _body(written_at=written_at), str(uuid.uuid4()))
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["written_at"] is None
    report = answer.get_json()["id"]
    db.session.expire_all()
    assert db.session.get(Activity, report).written_at is None
    assert client.get(f"/kegiatan/{report}").status_code == 200
    assert client.get("/kegiatan").status_code == 200


def test_a_lone_surrogate_with_a_key_is_refused_not_a_500(client, reporter):
    kim, member, headers = reporter
    raw = '{"title": "\\ud800 cek", "date": "%s", "type": "diskusi"}' % clock.today().isoformat()
    answer = client.post(f"/api/v1/kims/{kim.id}/activities", data=raw, content_type="application/json",
                         headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
    assert 400 <= answer.status_code < 500


@pytest.mark.parametrize("written_at", ["kemarin sore", "2026-13-01T10:00:00+07:00", "2026-05-01T10:00:00", 12])
def test_an_unusable_written_at_is_a_field_error(client, reporter, written_at):
    kim, member, headers = reporter
    key = str(uuid.uuid4())
    answer = _post(client, kim, headers, _body(written_at=written_at, title=""), key)
    assert answer.status_code == 422
    fields = answer.get_json()["error"]["fields"]
    assert "written_at" in fields and "title" in fields  # every field at fault at once
    assert "ISO 8601" in fields["written_at"] and "zona waktu" in fields["written_at"]
    assert _rows(member) == 0


def test_the_activity_date_rules_still_apply(client, reporter):
    kim, member, headers = reporter
    old = (clock.today() - timedelta(days=400)).isoformat()
    answer = _post(client, kim, headers, _body(date=old, written_at=utcnow().isoformat()), str(uuid.uuid4()))
    assert answer.status_code == 422 and "late_reason" in answer.get_json()["error"]["fields"]


@pytest.mark.parametrize("count", [-1, 7, "dua", 1.5, True])
def test_photo_count_is_zero_to_six(client, reporter, count):
    kim, member, headers = reporter
    answer = _post(client, kim, headers, _body(photo_count=count), str(uuid.uuid4()))
    assert answer.status_code == 422 and "photo_count" in answer.get_json()["error"]["fields"]
    assert _rows(member) == 0


def test_photos_come_with_the_report_or_one_by_one_not_both(client, reporter):
    kim, member, headers = reporter
    answer = client.post(f"/api/v1/kims/{kim.id}/activities", headers=headers, content_type="multipart/form-data",
                         data={**_body(photo_count="1"), "photos": (io.BytesIO(_jpeg()), "a.jpg")})
    assert answer.status_code == 422 and "photos" in answer.get_json()["error"]["fields"]


def test_a_multipart_report_with_its_photos_replays_too(client, reporter):
    kim, member, headers = reporter
    key = str(uuid.uuid4())

    def send(colour):
        return client.post(f"/api/v1/kims/{kim.id}/activities", content_type="multipart/form-data",
                           headers={**headers, "Idempotency-Key": key},
                           data={**_body(), "photos": (io.BytesIO(_jpeg(colour)), "a.jpg")})

    first = send((1, 2, 3))
    assert first.status_code == 201 and first.get_json()["complete"] is True
    assert send((1, 2, 3)).headers["Idempotent-Replayed"] == "true"
    assert send((200, 2, 3)).status_code == 409  # another photo is another body
    assert db.session.scalar(select(func.count()).select_from(Photo)) == 1


# --- photos one by one ----------------------------------------------------------------------------

def _announced(client, kim, headers, photos=2, action="publish", **extra):
    answer = _post(client, kim, headers, _body(photo_count=photos, action=action, **extra), str(uuid.uuid4()))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _public_ids(client) -> set[int]:
    return {item["id"] for item in client.get("/api/v1/activities?per_page=200").get_json()["items"]}


def test_a_report_waits_for_its_photos_then_publishes(client, app, reporter):
    kim, member, headers = reporter
    report = _announced(client, kim, headers)
    assert report["status"] == "draft" and report["complete"] is False
    assert (report["photos_expected"], report["photos_received"]) == (2, 0)
    anonymous = app.test_client()
    assert anonymous.get(f"/api/v1/activities/{report['id']}").status_code == 404

    one = _put_photo(client, report["id"], 1, headers, "foto-satu")
    assert one.status_code == 200, one.get_json()
    assert (one.get_json()["photos_received"], one.get_json()["complete"]) == (1, False)
    assert one.get_json()["activity"]["status"] == "draft"
    assert anonymous.get(f"/api/v1/activities/{report['id']}").status_code == 404
    assert report["id"] not in _public_ids(anonymous)

    two = _put_photo(client, report["id"], 2, headers, "foto-dua")
    assert two.status_code == 200
    assert two.get_json()["complete"] is True and two.get_json()["photos_received"] == 2
    assert two.get_json()["activity"]["status"] == "published"
    assert anonymous.get(f"/api/v1/activities/{report['id']}").status_code == 200
    assert report["id"] in _public_ids(anonymous)
    activity = db.session.get(Activity, report["id"])
    assert [p.position for p in activity.photos] == [0, 1] and activity.published_at is not None


def test_photos_may_arrive_in_any_order(client, reporter):
    kim, member, headers = reporter
    report = _announced(client, kim, headers, photos=3)
    for n in (3, 1):
        assert _put_photo(client, report["id"], n, headers, f"k{n}").get_json()["complete"] is False
    assert _put_photo(client, report["id"], 2, headers, "k2").get_json()["complete"] is True


def test_a_resent_photo_is_not_stored_twice(client, reporter):
    """The answer to photo 1 was lost on the way back: the app sends it again with its key."""
    kim, member, headers = reporter
    report = _announced(client, kim, headers)
    assert _put_photo(client, report["id"], 1, headers, "foto-satu").status_code == 200
    again = _put_photo(client, report["id"], 1, headers, "foto-satu")
    assert again.status_code == 200 and again.get_json()["photos_received"] == 1
    assert db.session.scalar(select(func.count()).select_from(Photo).where(Photo.activity_id == report["id"])) == 1
    other = _put_photo(client, report["id"], 1, headers, "foto-lain")
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_conflict"
    # A replay of the report itself tells the app how far the photos got (no photo sent twice).
    assert db.session.get(Activity, report["id"]).photos_received == 1


def test_the_draft_action_keeps_it_a_draft_and_review_is_not_for_new_reports(client, reporter):
    kim, member, headers = reporter
    report = _announced(client, kim, headers, photos=1, action="draft")
    done = _put_photo(client, report["id"], 1, headers, "k1").get_json()
    assert done["complete"] is True and done["activity"]["status"] == "draft"
    review = _post(client, kim, headers, _body(photo_count=1, action="review"), str(uuid.uuid4()))
    assert review.status_code == 422 and "action" in review.get_json()["error"]["fields"]


def _counted(kim) -> tuple:
    """What the public figures say of the KIM's region and of the KIM: coverage (kept by
    triggers), its teladan score's last report and the KIM's latest activity date."""
    db.session.expire_all()
    month = timeseries("76.02", months=1)[-1]
    score = scoring.compute(ids=[kim.id]).get(kim.id)
    return (month.activities, month.kim_active, score.last_on if score else None,
            db.session.get(Kim, kim.id).last_activity_on)


def test_a_waiting_report_counts_nowhere_until_complete(client, reporter):
    kim, member, headers = reporter
    before = _counted(kim)
    assert before == (0, 0, None, None)
    report = _announced(client, kim, headers, photos=1)
    assert _counted(kim) == before
    assert report["id"] not in _public_ids(client)  # not even in the author's default (published) feed
    _put_photo(client, report["id"], 1, headers, "k1")
    assert _counted(kim) == (1, 1, clock.today(), clock.today())


def test_a_waiting_report_is_never_published_half(client, reporter):
    """The database refuses a published report with photos still due, whatever path tries."""
    from sqlalchemy.exc import IntegrityError

    kim, member, headers = reporter
    report = _announced(client, kim, headers)
    activity = db.session.get(Activity, report["id"])
    activity.status = "published"
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.flush()
    db.session.expire_all()


def test_hidden_while_waiting_it_comes_back_waiting(client, reporter, make_user):
    kim, member, headers = reporter
    pembina = make_user(role="pembina", scope="76.02")
    report = _announced(client, kim, headers, photos=1)
    activity = db.session.get(Activity, report["id"])
    services.hide_activity(pembina, activity, "Periksa dulu isinya.")
    services.unhide_activity(pembina, activity)
    db.session.flush()
    assert activity.status == "draft" and activity.pending_action == "publish"


def test_the_author_may_publish_by_hand_with_the_photos_it_has(client, reporter):
    """A lost phone must not keep a report unpublished for ever: publishing it on the page
    publishes what arrived."""
    kim, member, headers = reporter
    report = _announced(client, kim, headers)
    _put_photo(client, report["id"], 1, headers, "k1")
    activity = db.session.get(Activity, report["id"])
    services.publish_activity(member, activity)
    db.session.flush()
    assert activity.status == "published" and activity.photos_complete and activity.photos_received == 1


@pytest.mark.parametrize("n", [0, 3, 7])
def test_a_photo_out_of_range_is_a_bad_request(client, reporter, n):
    kim, member, headers = reporter
    report = _announced(client, kim, headers)
    answer = _put_photo(client, report["id"], n, headers, "k")
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "bad_request"


def test_a_photo_without_its_key_is_a_bad_request(client, reporter):
    kim, member, headers = reporter
    report = _announced(client, kim, headers)
    assert _put_photo(client, report["id"], 1, headers, None).status_code == 400
    assert _put_photo(client, report["id"], 1, headers, "bukan kunci!").status_code == 400


def test_a_bad_image_is_a_field_error_and_stores_nothing(client, reporter):
    kim, member, headers = reporter
    report = _announced(client, kim, headers)
    answer = _put_photo(client, report["id"], 1, headers, "k1", data=b"ini bukan gambar")
    assert answer.status_code == 422 and "photo" in answer.get_json()["error"]["fields"]
    missing = client.put(f"/api/v1/activities/{report['id']}/photos/1", headers={**headers, "Idempotency-Key": "k1"},
                         data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "photo" in missing.get_json()["error"]["fields"]
    # The key stays free: the good photo goes under it afterwards.
    assert _put_photo(client, report["id"], 1, headers, "k1").status_code == 200


def test_a_photo_too_large_is_refused_with_413(client, reporter):
    kim, member, headers = reporter
    report = _announced(client, kim, headers)
    big = _jpeg() + b"\0" * services.PHOTO_MAX_BYTES
    with warnings.catch_warnings():  # the test client spools the body to a file it never closes
        warnings.simplefilter("ignore", ResourceWarning)
        answer = _put_photo(client, report["id"], 1, headers, "k1", data=big)
        status, body = answer.status_code, answer.get_json()
        del answer
        gc.collect()
    assert status == 413 and "photo" in body["error"]["fields"]


def test_photo_rights_follow_the_report(client, app, reporter, make_user):
    kim, member, headers = reporter
    report = _announced(client, kim, headers)
    colleague = make_user()
    db.session.add(Membership(user_id=colleague.id, kim_id=kim.id, role="anggota"))
    db.session.flush()
    # A member sees the draft but may not change another's report: 403.
    assert _put_photo(client, report["id"], 1, bearer(colleague), "k1").status_code == 403
    # Someone who may not see it: 404, as for a report that does not exist.
    assert _put_photo(client, report["id"], 1, bearer(make_user()), "k1").status_code == 404
    assert _put_photo(client, 999_999_999, 1, headers, "k1").status_code == 404
    assert _put_photo(app.test_client(), report["id"], 1, {}, "k1").status_code == 401
    # The KIM's admin may.
    admin = next(m.user for m in kim.memberships if m.role == "admin")
    assert _put_photo(client, report["id"], 1, bearer(admin), "k1").status_code == 200


def test_cookie_authenticated_writes_take_a_fresh_csrf_token(client, reporter):
    kim, member, headers = reporter
    assert client.get("/api/v1/me/csrf").status_code == 401
    login(client, member)
    without = client.post(f"/api/v1/kims/{kim.id}/activities", json=_body(),
                          headers={"Idempotency-Key": "k-cookie"})
    assert without.status_code == 400
    token = client.get("/api/v1/me/csrf").get_json()["csrf_token"]
    answer = client.post(f"/api/v1/kims/{kim.id}/activities", json=_body(photo_count=1),
                         headers={"Idempotency-Key": "k-cookie", "X-CSRFToken": token})
    assert answer.status_code == 201
    photo = client.put(f"/api/v1/activities/{answer.get_json()['id']}/photos/1", content_type="multipart/form-data",
                       headers={"Idempotency-Key": "p1", "X-CSRFToken": token},
                       data={"photo": (io.BytesIO(_jpeg()), "a.jpg")})
    assert photo.status_code == 200 and photo.get_json()["complete"] is True


def test_a_token_the_session_no_longer_holds_is_refused_as_stale_and_a_fresh_one_works(client, reporter):
    """Two answers crossing: the outbox fetched a token while another request of the same browser,
    started with the session as it was before, rendered a form and stored another token. The refusal
    says `csrf_failed` (the outbox then fetches a fresh token and sends again), not `bad_request`."""
    kim, member, headers = reporter
    login(client, member)
    before = client.get_cookie("session").value
    token = client.get("/api/v1/me/csrf").get_json()["csrf_token"]
    client.set_cookie("session", before)  # the other answer's cookie arrives last
    assert client.get(f"/kim/{kim.number}/lapor").status_code == 200
    stale = client.post(f"/api/v1/kims/{kim.id}/activities", json=_body(),
                        headers={"Idempotency-Key": "k-crossed", "X-CSRFToken": token})
    assert stale.status_code == 400 and stale.get_json()["error"]["code"] == "csrf_failed"
    fresh = client.get("/api/v1/me/csrf").get_json()["csrf_token"]
    answer = client.post(f"/api/v1/kims/{kim.id}/activities", json=_body(),
                         headers={"Idempotency-Key": "k-crossed", "X-CSRFToken": fresh})
    assert answer.status_code == 201


# --- what the offline app caches, and the author's view ------------------------------------------

def test_me_reporting_lists_kims_types_and_recent_reports(client, reporter):
    kim, member, headers = reporter
    waiting = _announced(client, kim, headers, photos=2)
    _put_photo(client, waiting["id"], 1, headers, "k1")
    done = _post(client, kim, headers, _body(title="Selesai"), str(uuid.uuid4())).get_json()
    answer = client.get("/api/v1/me/reporting", headers=headers)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["kims"] == [{"id": kim.id, "name": kim.name, "desa_code": DESA, "desa_name": "Binanga",
                             "report_url": f"/kim/{kim.public_ref}/lapor",
                             # the aspiration form of a verified KIM is kept for offline use too (issue 18)
                             "offline_pages": [f"/kim/{kim.public_ref}/aspirasi/baru"]}]
    assert {"slug": "diskusi", "label": "Diskusi"} in body["activity_types"]
    recent = body["recent_reports"]
    assert [r["id"] for r in recent] == [done["id"], waiting["id"]]
    assert recent[1] == {"id": waiting["id"], "title": waiting["title"], "activity_date": clock.today().isoformat(),
                         "status": "draft", "complete": False, "photos_expected": 2, "photos_received": 1,
                         "url": f"/kegiatan/{waiting['id']}"}
    assert recent[0]["complete"] is True and recent[0]["photos_expected"] == 0
    assert client.get("/api/v1/me/reporting").status_code == 401


def test_me_reporting_has_no_query_per_row(client, reporter):
    from tests.test_statement_counts import counting

    kim, member, headers = reporter

    def count() -> int:
        with counting() as statements:
            assert client.get("/api/v1/me/reporting", headers=headers).status_code == 200
        return len(statements)

    _announced(client, kim, headers, photos=1)
    few = count()
    for n in range(5):
        report = _announced(client, kim, headers, photos=1, title=f"Laporan {n}")
        _put_photo(client, report["id"], 1, headers, f"k{n}")
    assert count() == few


def test_the_report_page_shows_device_time_and_missing_photos_to_the_author(client, app, reporter):
    kim, member, headers = reporter
    written = "2026-03-04T09:15:00+07:00"
    report = _announced(client, kim, headers, photos=3, written_at=written)
    _put_photo(client, report["id"], 1, headers, "k1")
    login(client, member)
    page = client.get(f"/kegiatan/{report['id']}").get_data(as_text=True)
    assert "foto belum lengkap (1 dari 3)" in page
    assert "ditulis di perangkat" in page and "Diterima server" in page
    profile = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    assert "foto belum lengkap (1 dari 3)" in profile
    assert app.test_client().get(f"/kegiatan/{report['id']}").status_code == 404


# --- concurrency: real connections, real commits --------------------------------------------------

EMAIL = "relawan.sekali@example.id"


@pytest.fixture
def live(tmp_path):
    """An app on its own connections (nothing rolled back): requests in threads really race."""
    app = create_app({"TESTING": True, "UPLOAD_DIR": str(tmp_path / "uploads"), "MAIL_OUTBOX": str(tmp_path / "mail"),
                      "POST_LIMITS_ACCOUNT": "1000 per minute", "POST_LIMITS_ADDRESS": "1000 per minute"})
    with app.app_context():
        user = User(name="Relawan Sekali", email=EMAIL, password_hash=hash_password("ombak pantai barat"),
                    email_verified_at=utcnow())
        kim = Kim(name="KIM Sekali Kirim", slug="kim-sekali-kirim-test", desa_code=DESA,
                  point="SRID=4326;POINT(118.967345 -2.749192)", bidang=["literasi"], status="verified",
                  number="KIM-76.02-9101", join_code="SEKALIKR", socials={})
        db.session.add_all([user, kim])
        db.session.flush()
        db.session.add(Membership(user_id=user.id, kim_id=kim.id, role="ketua"))
        _, secret = create_api_token(user, "race")
        db.session.commit()
        kim_id, user_id = kim.id, user.id
    try:
        yield app, kim_id, user_id, {"Authorization": f"Bearer {secret}"}
    finally:
        with app.app_context():
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
            db.session.execute(delete(Kim).where(Kim.id == kim_id))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
            db.engine.dispose()


def _together(count, request):
    """Run `request(i)` in `count` threads released at the same instant; their answers."""
    barrier = threading.Barrier(count)
    answers = [None] * count

    def run(i):
        barrier.wait()
        answers[i] = request(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def test_concurrent_replays_create_one_report(live):
    app, kim_id, user_id, headers = live
    for attempt in range(4):
        key = str(uuid.uuid4())

        def send(i):
            response = app.test_client().post(f"/api/v1/kims/{kim_id}/activities", json=_body(title=f"Balapan {attempt}"),
                                              headers={**headers, "Idempotency-Key": key})
            return response.status_code, response.get_json().get("id"), response.headers.get("Idempotent-Replayed")

        answers = _together(3, send)
        assert [status for status, _, _ in answers] == [201, 201, 201], answers
        assert len({report_id for _, report_id, _ in answers}) == 1
        assert sorted(str(replayed) for _, _, replayed in answers) == ["None", "true", "true"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity).where(Activity.author_id == user_id)) == 4


def test_concurrent_uploads_of_one_photo_store_it_once_and_publish_once(live):
    app, kim_id, user_id, headers = live
    created = app.test_client().post(f"/api/v1/kims/{kim_id}/activities", json=_body(photo_count=2),
                                     headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
    report_id = created.get_json()["id"]

    def upload(n, key):
        def send(i):
            response = app.test_client().put(
                f"/api/v1/activities/{report_id}/photos/{n(i)}", headers={**headers, "Idempotency-Key": key(i)},
                data={"photo": (io.BytesIO(_jpeg()), "a.jpg")}, content_type="multipart/form-data")
            return response.status_code, response.get_json()
        return send

    # The same photo sent twice at once (a retry racing the original): stored once.
    same = _together(2, upload(lambda i: 1, lambda i: "foto-1"))
    assert [status for status, _ in same] == [200, 200], same
    # The last photo twice at once: still one photo, and the report published exactly once.
    last = _together(2, upload(lambda i: 2, lambda i: "foto-2"))
    assert [status for status, _ in last] == [200, 200], last
    assert all(body["complete"] for _, body in last)
    with app.app_context():
        photos = db.session.scalars(select(Photo).where(Photo.activity_id == report_id)).all()
        assert sorted(p.position for p in photos) == [0, 1]
        activity = db.session.get(Activity, report_id)
        assert activity.status == "published" and activity.pending_action is None
        publishes = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "activity.publish", AuditEntry.object_id == str(report_id)))
        assert publishes == 1
