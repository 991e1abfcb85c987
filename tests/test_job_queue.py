"""The job queue (issue 21): rows in PostgreSQL, ids in Redis (RQ), one worker.

Against the suite's real Redis (`redis_url`) and the real database. The worker runs in this
process (`queue.work(app, burst=True)`: RQ's SimpleWorker on the test's connection) where the
test's data is uncommitted, and as a real `flask jobs worker` process for the SIGKILL test, on
rows committed for that test and removed after it."""
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from kim_platform.activities.models import Activity, PendingPhoto, Photo
from kim_platform.config import PROJECT_ROOT
from kim_platform.core import clock, jobs, queue
from kim_platform.core.jobs import DailyTask, JobRun
from kim_platform.core.queue import BackgroundJob
from kim_platform.core.redis import connect
from kim_platform.core.storage import storage
from kim_platform.extensions import db
from tests.conftest import bearer, csrf_token
from tests.test_activities import jpeg, post_report

EFFECT_DAY = date(2000, 1, 1)
DEAD_REDIS = "redis://127.0.0.1:56469/0"  # h46's port range, nothing listens there
WAIT_S = 60  # safety nets only: every wait ends on an event or a state


def _reset_client(app) -> None:
    app.extensions.pop("kim_redis", None)  # core/redis.py caches the client (or None) per app


@pytest.fixture
def queued(app, redis_url, monkeypatch):
    """The app with the job queue on the suite's Redis, retries at once, and two test handlers:
    `test.effect` (a job_run row named by the payload) and `test.flaky` (fails `fail` times first)."""
    handlers = app.extensions["kim_job_handlers"]
    failures: dict[str, int] = {}

    def effect(payload):
        db.session.add(JobRun(name=payload["name"], day=EFFECT_DAY, summary="effect"))

    def flaky(payload):
        failures[payload["name"]] = failures.get(payload["name"], 0) + 1
        if failures[payload["name"]] <= payload["fail"]:
            raise ConnectionError(f"failure {failures[payload['name']]}")
        effect(payload)

    monkeypatch.setitem(handlers, "test.effect", queue.Handler("test.effect", effect))
    monkeypatch.setitem(handlers, "test.flaky", queue.Handler("test.flaky", flaky))
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.config, "JOB_RETRY_DELAYS", (0, 0, 0))
    _reset_client(app)
    redis = connect(redis_url)
    yield redis
    redis.close()
    _reset_client(app)


def rq_waiting(redis) -> int:
    return queue.rq_queue(redis).count


def effects(name: str) -> int:
    return db.session.scalar(select(func.count()).select_from(JobRun).where(JobRun.name == name))


def job_rows(kind: str | None = None) -> list[BackgroundJob]:
    statement = select(BackgroundJob).order_by(BackgroundJob.id)
    if kind:
        statement = statement.where(BackgroundJob.kind == kind)
    db.session.expire_all()
    return list(db.session.scalars(statement))


def work(app, redis) -> None:
    queue.work(app, burst=True, connection=redis)


def test_the_queue_is_off_without_redis(app):
    assert app.config["REDIS_URL"] is None and not queue.enabled()


def test_kim_jobs_inline_keeps_the_inline_behaviour_with_redis(app, queued, monkeypatch, make_user, client, outbox):
    monkeypatch.setitem(app.config, "JOBS", "inline")
    make_user(email="ada@example.id")
    client.post("/lupa-sandi", data={"email": "ada@example.id", "csrf_token": csrf_token(client)})
    assert not queue.enabled() and job_rows() == [] and [m["To"] for m in outbox.messages()] == ["ada@example.id"]


def test_a_job_enqueued_in_a_rolled_back_transaction_is_not_queued(queued):
    queue.enqueue("test.effect", {"name": "rolled-back"})
    db.session.rollback()
    assert job_rows() == [] and rq_waiting(queued) == 0


def test_a_committed_job_is_one_row_and_one_rq_job(queued):
    job_id = queue.enqueue("test.effect", {"name": "committed"})
    assert rq_waiting(queued) == 0  # nothing leaves before the commit
    db.session.commit()
    assert [(row.id, row.state, row.attempts) for row in job_rows()] == [(job_id, "queued", 0)]
    assert queue.rq_queue(queued).job_ids == [queue.rq_job_id(job_id)]


def test_the_same_work_enqueued_twice_is_one_job(app, queued):
    first = queue.enqueue("test.effect", {"name": "dedup"}, dedup_key="dedup-1")
    db.session.commit()
    second = queue.enqueue("test.effect", {"name": "dedup"}, dedup_key="dedup-1")
    db.session.commit()
    assert first == second and len(job_rows()) == 1 and rq_waiting(queued) == 1
    work(app, queued)
    assert effects("dedup") == 1


def test_a_handler_failing_twice_is_retried_and_done_with_its_effect_once(app, queued):
    job_id = queue.enqueue("test.flaky", {"name": "flaky", "fail": 2})
    db.session.commit()
    work(app, queued)
    row = db.session.get(BackgroundJob, job_id)
    db.session.refresh(row)
    assert (row.state, row.attempts, row.last_error, row.finished_at is not None) == ("done", 3, None, True)
    assert effects("flaky") == 1


def test_retries_wait_their_backoff_and_end_failed_with_the_error(app, queued, monkeypatch, runner):
    monkeypatch.setitem(app.config, "JOB_RETRY_DELAYS", (60,))
    job_id = queue.enqueue("test.flaky", {"name": "always", "fail": 10})
    db.session.commit()
    assert queue.run_job(job_id) == "retry"
    row = db.session.get(BackgroundJob, job_id)
    assert row.state == "queued" and row.run_after > clock.utcnow() + timedelta(seconds=50)
    assert queue.run_job(job_id) == "skipped"  # not due yet: a delivery before run_after does nothing
    row.run_after = clock.utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert queue.run_job(job_id) == "failed"
    db.session.refresh(row)
    assert (row.state, row.attempts, row.last_error) == ("failed", 2, "ConnectionError: failure 2")
    assert effects("always") == 0
    listed = runner.invoke(args=["jobs", "failed"])
    assert f"{job_id}  test.flaky  attempts=2" in listed.output and "failure 2" in listed.output
    retried = runner.invoke(args=["jobs", "retry", str(job_id)])
    assert retried.exit_code == 0, retried.output
    db.session.refresh(row)
    assert (row.state, row.attempts) == ("queued", 0) and rq_waiting(queued) >= 1
    assert runner.invoke(args=["jobs", "retry", str(job_id)]).exit_code == 1  # only failed jobs


def test_a_job_delivered_twice_has_its_effect_once(app, queued):
    job_id = queue.enqueue("test.effect", {"name": "twice"})
    db.session.commit()
    queue.push([job_id], queued)  # a second delivery of the same job, waiting beside the first
    assert rq_waiting(queued) == 2
    work(app, queued)
    assert queue.run_job(job_id) == "skipped"
    assert effects("twice") == 1 and db.session.get(BackgroundJob, job_id).attempts == 1


def test_redis_down_at_enqueue_loses_nothing_and_recovery_pushes_the_job(app, queued, monkeypatch, redis_url):
    monkeypatch.setitem(app.config, "REDIS_URL", DEAD_REDIS)
    _reset_client(app)
    job_id = queue.enqueue("test.effect", {"name": "redis-down"})
    db.session.commit()  # the push fails quietly: the row is committed and stays queued
    assert [(row.id, row.state) for row in job_rows()] == [(job_id, "queued")]
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    _reset_client(app)
    assert rq_waiting(queued) == 0
    assert queue.recover(queued) == 1
    assert queue.recover(queued) == 0  # already waiting in RQ: not pushed twice
    work(app, queued)
    assert effects("redis-down") == 1 and job_rows()[0].state == "done"


def test_a_request_that_mails_makes_one_job_and_the_worker_writes_the_mail_once(app, client, queued, make_user,
                                                                                 outbox, monkeypatch):
    from flask import has_request_context

    make_user(email="ada@example.id")
    inside, original = [], queue.enqueue
    monkeypatch.setattr(queue, "enqueue", lambda *a, **k: inside.append(has_request_context()) or original(*a, **k))
    response = client.post("/lupa-sandi", data={"email": "ada@example.id", "csrf_token": csrf_token(client)})
    assert response.status_code == 200
    # Enqueued after the response: the request did the same work as for an unknown address.
    assert inside == [False]
    rows = job_rows("mail")
    assert len(rows) == 1 and rows[0].payload["to"] == "ada@example.id" and rows[0].state == "queued"
    assert outbox.messages() == [] and rq_waiting(queued) == 1  # the request only enqueued it
    work(app, queued)
    queue.push([rows[0].id], queued)  # delivered again: nothing more is sent
    work(app, queued)
    messages = outbox.messages()
    assert [m["To"] for m in messages] == ["ada@example.id"] and "kata sandi baru" in messages[0].get_content()
    assert messages[0]["Message-ID"] == rows[0].dedup_key.removeprefix("mail:")
    row = job_rows("mail")[0]
    assert row.state == "done" and row.payload == {}  # the reset link does not stay in the table


def test_a_mail_job_whose_smtp_fails_is_retried_and_sent_once(app, queued, monkeypatch):
    from kim_platform.core import mail

    sent, refusals = [], []

    def smtp(message, config):
        if len(refusals) < 2:
            refusals.append(message["Message-ID"])
            raise ConnectionRefusedError("smtp down")
        sent.append(message["Message-ID"])

    monkeypatch.setattr(mail, "_send_smtp", smtp)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.invalid")
    mail.send_mail("ada@example.id", "Halo", "Isi")  # outside a request: enqueued and committed
    work(app, queued)
    assert len(sent) == 1 and refusals == sent * 2
    assert job_rows("mail")[0].attempts == 3


def test_a_rolled_back_request_mails_nothing(app, client, queued, make_user, kim_with_member):
    """A write answered with an error rolls back, and its mail jobs with it."""
    from tests.test_activities import REPORT
    from tests.conftest import bearer

    kim, member, _ = kim_with_member
    response = client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "title": ""}, headers=bearer(member))
    assert response.status_code == 422
    assert job_rows("mail") == [] and rq_waiting(queued) == 0


def test_the_daily_run_goes_to_the_worker_once_per_day(app, queued, runner, monkeypatch):
    ran = []
    monkeypatch.setitem(app.extensions, jobs.EXTENSION, {
        "test.daily": DailyTask("test.daily", 10, lambda day: ran.append(day) or "ok")})
    first = runner.invoke(args=["jobs", "daily", "--enqueue"])
    second = runner.invoke(args=["jobs", "daily", "--enqueue"])
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert first.output == second.output  # the same job
    assert ran == [] and len(job_rows(jobs.DAILY_JOB)) == 1
    work(app, queued)
    assert ran == [clock.today()] and job_rows(jobs.DAILY_JOB)[0].state == "done"
    assert db.session.scalar(select(JobRun.summary).where(JobRun.name == "test.daily")) == "ok"


def test_daily_enqueue_without_the_queue_says_so(runner):
    result = runner.invoke(args=["jobs", "daily", "--enqueue"])
    assert result.exit_code == 1 and "KIM_REDIS_URL" in result.output


def test_a_large_photo_is_acknowledged_then_reencoded_by_the_worker(app, client, queued, kim_with_member, monkeypatch):
    kim, member, _ = kim_with_member
    small, large = jpeg(400, 300), jpeg(2400, 1800)
    monkeypatch.setitem(app.config, "PHOTO_BACKGROUND_BYTES", len(small) + 1)
    response = post_report(client, member, kim, photos=[(large, "besar.jpg"), (small, "kecil.jpg")])
    assert response.status_code == 201, response.get_json()
    activity = db.session.get(Activity, response.get_json()["id"])
    # Acknowledged with the small photo; the large one is kept as received, never shown.
    assert [p.position for p in activity.photos] == [1]
    pending = db.session.scalars(select(PendingPhoto)).one()
    original = pending.original_key
    assert pending.position == 0 and storage().read(original) == large
    assert client.get(f"/foto/{original}").status_code == 404
    page = client.get(f"/kegiatan/{activity.id}").get_data(as_text=True)
    assert "Foto sedang diproses: 1" in page and original not in page
    assert len(job_rows("activities.photo")) == 1

    work(app, queued)
    db.session.expire_all()
    photos = db.session.scalars(select(Photo).where(Photo.activity_id == activity.id).order_by(Photo.position)).all()
    assert [p.position for p in photos] == [0, 1] and (photos[0].width, photos[0].height) == (1600, 1200)
    served = client.get(f"/foto/{photos[0].key}")
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert db.session.scalars(select(PendingPhoto)).all() == [] and not storage().exists(original)
    assert "Foto sedang diproses" not in client.get(f"/kegiatan/{activity.id}").get_data(as_text=True)


def test_a_bad_large_photo_is_still_refused_at_once(app, client, queued, kim_with_member, monkeypatch):
    kim, member, _ = kim_with_member
    monkeypatch.setitem(app.config, "PHOTO_BACKGROUND_BYTES", 10)
    response = post_report(client, member, kim, photos=[(b"GIF89a<?php echo 1; ?>" * 10, "x.jpg")])
    assert response.status_code == 422 and "photos" in response.get_json()["error"]["fields"]
    assert job_rows() == []


def _one_by_one(client, kim, headers, photos: int) -> dict:
    from tests.test_offline_reports import _announced

    return _announced(client, kim, headers, photos=photos)


def test_a_large_photo_sent_one_by_one_is_acknowledged_then_reencoded(app, client, queued, kim_with_member,
                                                                      monkeypatch):
    """The offline outbox's path (PUT .../photos/<n>): a large photo is received at once and held
    at its position; the last photo publishes the report; the worker makes the photo later."""
    from tests.test_offline_reports import _public_ids, _put_photo

    kim, member, _ = kim_with_member
    headers = bearer(member)
    small, large = jpeg(400, 300), jpeg(2400, 1800)
    monkeypatch.setitem(app.config, "PHOTO_BACKGROUND_BYTES", len(small) + 1)
    report = _one_by_one(client, kim, headers, photos=2)

    one = _put_photo(client, report["id"], 1, headers, "besar-1", data=large)
    assert one.status_code == 200, one.get_json()
    assert (one.get_json()["photos_received"], one.get_json()["complete"]) == (1, False)
    assert one.get_json()["activity"]["photos"] == []  # kept as received, never shown
    pending = db.session.scalars(select(PendingPhoto)).one()
    original = pending.original_key
    assert (pending.position, pending.client_key) == (0, "besar-1") and storage().read(original) == large
    assert client.get(f"/foto/{original}").status_code == 404
    # The answer was lost on the way back: the same key again stores nothing; another key is a conflict.
    again = _put_photo(client, report["id"], 1, headers, "besar-1", data=large)
    assert again.status_code == 200 and again.get_json()["photos_received"] == 1
    other = _put_photo(client, report["id"], 1, headers, "lain", data=large)
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_conflict"
    assert len(db.session.scalars(select(PendingPhoto)).all()) == 1 and len(job_rows("activities.photo")) == 1
    assert db.session.get(Activity, report["id"]).photos_with_worker == 1

    two = _put_photo(client, report["id"], 2, headers, "kecil-2", data=small)
    answer = two.get_json()
    assert (answer["photos_received"], answer["complete"], answer["activity"]["status"]) == (2, True, "published")
    anonymous = app.test_client()
    assert report["id"] in _public_ids(anonymous)
    public = anonymous.get(f"/api/v1/activities/{report['id']}").get_json()
    assert (public["photos_received"], len(public["photos"])) == (2, 1)
    listed = next(i for i in anonymous.get("/api/v1/activities?per_page=200").get_json()["items"]
                  if i["id"] == report["id"])
    assert listed["photos_received"] == 2  # the list's SQL counts as the model does
    assert "Foto sedang diproses: 1" in anonymous.get(f"/kegiatan/{report['id']}").get_data(as_text=True)

    work(app, queued)
    db.session.expire_all()
    photos = db.session.scalars(select(Photo).where(Photo.activity_id == report["id"])
                                .order_by(Photo.position)).all()
    assert [(p.position, p.client_key) for p in photos] == [(0, "besar-1"), (1, "kecil-2")]
    assert db.session.get(Activity, report["id"]).photos_with_worker == 0
    assert (photos[0].width, photos[0].height) == (1600, 1200)
    assert db.session.scalars(select(PendingPhoto)).all() == [] and not storage().exists(original)
    # Sent again after the job: still the one photo, answered as a replay.
    late = _put_photo(client, report["id"], 1, headers, "besar-1", data=large)
    assert late.status_code == 200 and late.get_json()["photos_received"] == 2
    assert len(db.session.scalars(select(Photo).where(Photo.activity_id == report["id"])).all()) == 2


def test_a_large_photo_sent_one_by_one_that_cannot_be_decoded_is_dropped_and_uncounted(app, client, queued,
                                                                                       kim_with_member, monkeypatch):
    from tests.test_activities import _truncated
    from tests.test_offline_reports import _put_photo

    kim, member, _ = kim_with_member
    headers = bearer(member)
    cut = _truncated()
    monkeypatch.setitem(app.config, "PHOTO_BACKGROUND_BYTES", len(cut) - 1)
    report = _one_by_one(client, kim, headers, photos=1)
    answer = _put_photo(client, report["id"], 1, headers, "rusak", data=cut)
    assert answer.status_code == 200, answer.get_json()  # its header passed: received
    assert (answer.get_json()["photos_received"], answer.get_json()["complete"]) == (1, True)
    work(app, queued)
    db.session.expire_all()
    activity = db.session.get(Activity, report["id"])
    assert (activity.photos, activity.photos_with_worker, activity.photos_received) == ([], 0, 0)
    assert activity.status == "published" and db.session.scalars(select(PendingPhoto)).all() == []


def test_a_report_edited_while_a_photo_waits_keeps_the_photo_count_and_order(app, client, queued, kim_with_member,
                                                                             monkeypatch):
    from kim_platform.activities.services import MAX_PHOTOS, ActivityError, update_activity

    kim, member, _ = kim_with_member
    small = jpeg(400, 300)
    monkeypatch.setitem(app.config, "PHOTO_BACKGROUND_BYTES", len(small) + 1)
    response = post_report(client, member, kim, photos=[(jpeg(2400, 1800), "besar.jpg"), (small, "kecil.jpg")])
    activity = db.session.get(Activity, response.get_json()["id"])
    with pytest.raises(ActivityError) as refused:  # the one with the worker counts toward the limit
        update_activity(member, activity, {}, new_photos=[small] * (MAX_PHOTOS - 1))
    assert "photos" in refused.value.fields
    update_activity(member, activity, {}, new_photos=[small])
    db.session.flush()
    work(app, queued)
    db.session.expire_all()
    positions = db.session.scalars(select(Photo.position).where(Photo.activity_id == activity.id)
                                   .order_by(Photo.position)).all()
    assert positions == [0, 1, 2]  # the added photo comes after both, never on the pending one's place


# --- a real worker process, killed with SIGKILL mid-job -----------------------------------------

@pytest.fixture
def committed(app):
    """A connection of its own, outside the test's rolled-back transaction: what it commits the
    worker process sees. The rows named by the test are removed after it."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)
    names: list[str] = []
    yield engine, names
    with engine.begin() as connection:
        for name in names:
            connection.execute(text("DELETE FROM job_run WHERE name = :name"), {"name": name})
            connection.execute(text("DELETE FROM background_job WHERE payload->>'name' = :name"), {"name": name})
    engine.dispose()


def _worker(database_url: str, redis_url: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "KIM_REDIS_URL": redis_url, "KIM_JOB_LEASE_SECONDS": "1", "KIM_JOB_POLL_SECONDS": "1",
           "PYTHONPATH": str(PROJECT_ROOT), "FLASK_APP": "tests.job_worker_app:create_app",
           "TEST_DATABASE_URL": database_url}
    return subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker", *args], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _row(engine, job_id: int):
    with engine.connect() as connection:
        return connection.execute(text("SELECT state, attempts, locked_until FROM background_job WHERE id = :id"),
                                  {"id": job_id}).one()


def _effects(engine, name: str) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM job_run WHERE name = :name"), {"name": name})


def test_a_worker_killed_mid_job_leaves_it_to_run_again_with_its_effect_once(committed, redis_url, tmp_path):
    engine, names = committed
    name = f"sigkill-{uuid.uuid4().hex[:8]}"
    names.append(name)
    attempts, release = tmp_path / "attempts", tmp_path / "release"
    payload = {"name": name, "attempts_file": str(attempts), "release_file": str(release)}
    with engine.begin() as connection:
        job_id = connection.execute(text(
            "INSERT INTO background_job (kind, payload, state, attempts, run_after, created_at) "
            "VALUES ('test.block', CAST(:payload AS jsonb), 'queued', 0, now(), now()) RETURNING id"),
            {"payload": json.dumps(payload)}).scalar_one()

    database_url = engine.url.render_as_string(hide_password=False)
    worker = _worker(database_url, redis_url)  # finds the row by its recovery at start (nothing was pushed)
    try:
        _wait(lambda: attempts.exists() and attempts.read_text().count("attempt") == 1, "the first attempt")
        state, tries, _ = _row(engine, job_id)
        assert (state, tries) == ("running", 1) and _effects(engine, name) == 0  # written, not committed
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(WAIT_S) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stdout.close()
    assert _row(engine, job_id)[0] == "running" and _effects(engine, name) == 0  # nothing half-done

    release.touch()
    _wait(lambda: _row(engine, job_id).locked_until < clock.utcnow(), "the lease to expire")
    again = _worker(database_url, redis_url, "--burst")
    output, _ = again.communicate(timeout=WAIT_S)
    assert again.returncode == 0, output.decode()
    state, tries, locked_until = _row(engine, job_id)
    assert (state, tries, locked_until) == ("done", 2, None)
    assert _effects(engine, name) == 1 and attempts.read_text().count("attempt") == 2


def test_a_report_deleted_before_its_photo_job_ran_leaves_nothing(app, client, queued, kim_with_member, monkeypatch):
    from kim_platform.activities.services import delete_activity

    kim, member, _ = kim_with_member
    monkeypatch.setitem(app.config, "PHOTO_BACKGROUND_BYTES", 1000)
    response = post_report(client, member, kim, photos=[(jpeg(2400, 1800), "besar.jpg")])
    activity = db.session.get(Activity, response.get_json()["id"])
    original = db.session.scalars(select(PendingPhoto.original_key)).one()
    delete_activity(member, activity)
    db.session.commit()
    assert not storage().exists(original)
    work(app, queued)  # the job finds no pending photo: done, nothing written
    assert job_rows("activities.photo")[0].state == "done" and db.session.scalars(select(Photo)).all() == []


def test_a_daily_tasks_mails_are_jobs_committed_with_it(app, queued, monkeypatch, outbox):
    def failing(day):
        raise RuntimeError("task failed")

    monkeypatch.setitem(app.extensions, jobs.EXTENSION, {
        "test.mails": DailyTask("test.mails", 10, lambda day: ("one mail", [("ada@example.id", "Pengingat", "Isi")])),
        "test.fails": DailyTask("test.fails", 20, lambda day: (failing(day), [("ada@example.id", "Tidak", "Isi")]))})
    with pytest.raises(RuntimeError):
        jobs.run_daily()
    assert [row.payload["subject"] for row in job_rows("mail")] == ["Pengingat"]  # none for the rolled-back task
    assert outbox.messages() == []
    work(app, queued)
    assert [m["Subject"] for m in outbox.messages()] == ["Pengingat"]
