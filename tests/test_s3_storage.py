"""Stored files on the local disk and in an S3 bucket (issue 21): the same behaviour from both
backends, tested against the project's S3-compatible server (scripts/s3.sh: SeaweedFS), and the
app's faces with KIM_STORAGE=s3: a second node reads what the first stored, private files stay
private, and a store that is away answers 503 with nothing saved."""
import io
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kim_platform import create_app
from kim_platform.activities.models import Activity, Photo
from kim_platform.core import storage as storage_module
from kim_platform.core.storage import (KEY_RE, LocalStorage, S3Storage, StorageUnavailable, delete_after_commit,
                                       s3_client, save_in_transaction, storage, sweep_orphans)
from kim_platform.extensions import db
from tests.conftest import IsolatedClient, S3Server, bearer, csrf_token, free_s3_port, login
from tests.test_activities import REPORT, TODAY, jpeg

PUBLIC = "public, max-age=31536000, immutable"
PRIVATE = "private, no-store"


@pytest.fixture(params=["local", "s3"])
def store(request, app):
    """The configured store, once on the local disk (a per-test folder) and once in the bucket."""
    if request.param == "s3":
        request.getfixturevalue("s3_app")
    chosen = storage()
    assert isinstance(chosen, {"local": LocalStorage, "s3": S3Storage}[request.param])
    return chosen


def objects(app) -> list[str]:
    """Every object under the test's prefix, straight from the S3 server."""
    listed = s3_client(app).list_objects_v2(Bucket=app.config["S3_BUCKET"], Prefix=app.config["S3_PREFIX"])
    return sorted(item["Key"] for item in listed.get("Contents", ()))


# --- one interface, two backends -------------------------------------------------------

def test_save_read_exists_delete(store):
    key = store.save(b"RIFF-photo", ".webp")
    assert KEY_RE.match(key) and store.exists(key) and store.read(key) == b"RIFF-photo"
    assert store.save(b"RIFF-photo", ".webp") != key  # random, never reused
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(FileNotFoundError):
        store.read(key)
    store.delete(key)  # deleting what is gone is no error
    assert not store.exists("../../secret_key") and not store.exists("a" * 32 + ".webp")
    with pytest.raises(ValueError):
        store.save(b"<script>", ".html")


def test_a_rollback_deletes_the_files_of_the_transaction(store):
    kept = save_in_transaction(db.session, b"RIFF-kept", ".webp")
    db.session.commit()
    db.session.execute(select(1))  # a request's transaction has begun before it stores a file
    dropped = save_in_transaction(db.session, b"RIFF-dropped", ".webp")
    assert store.exists(dropped)
    db.session.rollback()
    assert not store.exists(dropped) and store.exists(kept)


def test_files_doomed_by_a_transaction_go_only_when_it_commits(store):
    key = store.save(b"RIFF-old-logo", ".webp")
    delete_after_commit(db.session, key)
    db.session.rollback()
    assert store.exists(key)
    delete_after_commit(db.session, key)
    db.session.commit()
    assert not store.exists(key)


def test_the_sweep_removes_old_orphans_and_keeps_young_and_referenced_files(store, make_kim):
    """Age comes from the store (mtime, or the object's LastModified): `now` stands for a later
    clock instead of a test that waits an hour."""
    logo, orphan = store.save(b"RIFF-logo", ".webp"), store.save(b"orphan of a killed worker", ".jpg")
    make_kim(logo_key=logo)
    assert sweep_orphans(db.session, 3600) == []  # young: its transaction may still be open
    assert store.exists(orphan)
    assert sweep_orphans(db.session, 3600, now=time.time() + 7200) == [orphan]
    assert store.exists(logo) and not store.exists(orphan)
    assert sorted(store.keys()) == [logo]


def test_the_sweep_removes_a_part_file_left_by_a_killed_local_write(app, make_kim):
    store = storage()
    key = store.save(b"RIFF", ".webp")
    part = Path(app.config["UPLOAD_DIR"]) / key[:2] / (key + ".part")
    part.write_bytes(b"RIF")  # a worker died between open() and the rename
    make_kim(logo_key=key)
    assert sweep_orphans(db.session, 3600, now=time.time() + 7200) == [part.name]
    assert not part.exists() and store.exists(key)


def test_s3_objects_are_laid_out_like_the_folder_with_their_content_type(s3_app):
    store = storage()
    photo, scan = store.save(b"RIFF", ".webp"), store.save(b"%PDF-1.4", ".pdf")
    prefix = s3_app.config["S3_PREFIX"]
    assert objects(s3_app) == sorted([f"{prefix}{photo[:2]}/{photo}", f"{prefix}{scan[:2]}/{scan}"])
    client, bucket = s3_client(s3_app), s3_app.config["S3_BUCKET"]
    assert client.head_object(Bucket=bucket, Key=f"{prefix}{photo[:2]}/{photo}")["ContentType"] == "image/webp"
    assert client.head_object(Bucket=bucket, Key=f"{prefix}{scan[:2]}/{scan}")["ContentType"] == "application/pdf"


def test_s3_listing_is_paginated(s3_app, monkeypatch):
    """keys_older_than asks the service page by page (list_objects_v2 continuation tokens), never
    for the whole bucket at once: counted as the requests botocore sends."""
    monkeypatch.setattr(storage_module, "S3_LIST_PAGE", 3)
    store = storage()
    saved = {store.save(b"x", ".jpg") for _ in range(8)}
    requests = []
    handler = lambda **kwargs: requests.append(kwargs["params"])  # noqa: E731
    s3_client(s3_app).meta.events.register("before-call.s3.ListObjectsV2", handler)
    try:
        listed = set(store.keys_older_than(-60))
    finally:
        s3_client(s3_app).meta.events.unregister("before-call.s3.ListObjectsV2", handler)
    assert listed == saved and len(requests) == 3


def test_the_s3_server_refuses_unsigned_and_wrongly_signed_requests(s3_app, s3_server):
    """The server we test against checks AWS signatures (moto's server does not): a wrong secret
    is refused, so the tests would catch a client that signs wrongly."""
    import boto3
    from botocore.exceptions import ClientError

    key = storage().save(b"RIFF", ".webp")
    wrong = boto3.session.Session().client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                                           aws_access_key_id=S3Server.ACCESS_KEY, aws_secret_access_key="wrong")
    with pytest.raises(ClientError) as refused:
        wrong.get_object(Bucket=S3Server.BUCKET, Key=f"{s3_app.config['S3_PREFIX']}{key[:2]}/{key}")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


@pytest.mark.parametrize("settings, message", [
    ({"STORAGE": "ftp"}, "KIM_STORAGE must be"),
    ({"STORAGE": "s3"}, "needs KIM_S3_BUCKET"),
    ({"STORAGE": "s3", "S3_BUCKET": "kim", "S3_PREFIX": "/kim"}, "KIM_S3_PREFIX must"),
])
def test_storage_settings_are_checked_at_start(settings, message):
    with pytest.raises(RuntimeError, match=message):
        create_app({"TESTING": True, **settings})


# --- the app on S3 ---------------------------------------------------------------------

def post_report(client, kim, member, title="Laporan dengan foto"):
    payload = {**REPORT, "title": title, "photos": [(io.BytesIO(jpeg(800, 600)), "kamera.jpg")]}
    return client.post(f"/api/v1/kims/{kim.id}/activities", data=payload, headers=bearer(member),
                       content_type="multipart/form-data")


def photos_of(title: str) -> list[Photo]:
    return db.session.scalars(select(Photo).join(Activity).where(Activity.title == title)).all()


@pytest.fixture
def node_b(s3_app, transaction, tmp_path):
    """A second app instance ("node B"): its own upload folder and boto3 client, the same bucket,
    and the test's database connection (it sees what the test's node A wrote)."""
    other = create_app({"TESTING": True, "UPLOAD_DIR": str(tmp_path / "node-b"), "MAIL_OUTBOX": str(tmp_path / "mail-b"),
                        **{name: s3_app.config[name] for name in (
                            "STORAGE", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
                            "S3_REGION", "S3_PREFIX")}})
    other.test_client_class = IsolatedClient
    with other.app_context():
        engines = db.engines
        engine = engines[None]
        engines[None] = transaction
        try:
            yield other
        finally:
            engines[None] = engine
            engine.dispose()


def test_a_report_posted_through_one_node_shows_its_photos_through_another(s3_app, client, kim_with_member, node_b):
    kim, member, _ = kim_with_member
    response = post_report(client, kim, member)
    assert response.status_code == 201, response.get_json()
    (photo,) = photos_of("Laporan dengan foto")
    assert not Path(s3_app.config["UPLOAD_DIR"]).exists()  # nothing on node A's own disk
    assert len(objects(s3_app)) == 2  # the photo and its thumbnail, in the bucket
    for key in (photo.key, photo.thumb_key):
        answer = node_b.test_client().get(f"/foto/{key}")
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == PUBLIC
        assert answer.mimetype == "image/webp" and answer.get_data() == storage().read(key)
    assert not Path(node_b.config["UPLOAD_DIR"]).exists()


def test_a_hidden_reports_photo_stays_private_on_s3(s3_app, client, kim_with_member, node_b):
    kim, member, _ = kim_with_member
    assert post_report(client, kim, member).status_code == 201
    (photo,) = photos_of("Laporan dengan foto")
    photo.activity.status, photo.activity.hidden_reason = "hidden", "Alasan moderasi."
    db.session.flush()
    for node in (s3_app, node_b):
        anonymous = node.test_client().get(f"/foto/{photo.key}")
        assert anonymous.status_code == 404 and b"RIFF" not in anonymous.get_data()
    insider = node_b.test_client()
    login(insider, member)
    answer = insider.get(f"/foto/{photo.key}")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == PRIVATE


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_photo_row_without_its_file_is_a_404_not_a_500(request, app, client, kim_with_member, backend):
    if backend == "s3":
        request.getfixturevalue("s3_app")
    kim, member, _ = kim_with_member
    assert post_report(client, kim, member).status_code == 201
    (photo,) = photos_of("Laporan dengan foto")
    storage().delete(photo.key)
    assert client.get(f"/foto/{photo.key}").status_code == 404
    assert client.get(f"/foto/{photo.thumb_key}").status_code == 200


@pytest.fixture
def lone_s3(app, tmp_path, monkeypatch):
    """An S3 server of this test alone, which the test stops and starts again."""
    server = S3Server(free_s3_port(offset=10), tmp_path / "lone-s3").start()
    for name, value in server.config().items():
        monkeypatch.setitem(app.config, name, value)
    try:
        yield server
    finally:
        server.stop()


def activity_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Activity))


def test_with_s3_down_uploads_and_photos_answer_503_and_nothing_is_lost(app, client, kim_with_member, lone_s3):
    kim, member, _ = kim_with_member
    assert post_report(client, kim, member, title="Sebelum gangguan").status_code == 201
    (photo,) = photos_of("Sebelum gangguan")
    stored = objects(app)
    lone_s3.stop()
    before = activity_count()
    answer = post_report(client, kim, member, title="Saat gangguan")
    assert answer.status_code == 503 and answer.get_json()["error"]["code"] == "unavailable"
    page = app.test_client()
    login(page, member)
    form = page.post(f"/kim/{kim.number}/lapor", data={
        "title": "Saat gangguan", "date": TODAY, "type": "diskusi", "csrf_token": csrf_token(page), "action": "publish",
        "photos": [(io.BytesIO(jpeg(800, 600)), "kamera.jpg")]}, content_type="multipart/form-data")
    assert form.status_code == 503 and "Layanan sementara tidak tersedia" in form.get_data(as_text=True)
    assert activity_count() == before and photos_of("Saat gangguan") == []
    for key in (photo.key, photo.thumb_key):
        assert client.get(f"/foto/{key}").status_code == 503
    with pytest.raises(StorageUnavailable):
        storage().read(photo.key)
    lone_s3.start()  # back, with its data: nothing stored before the outage is lost, nothing half-written
    assert objects(app) == stored
    assert client.get(f"/foto/{photo.key}").status_code == 200
