"""The KIM directory file built in the background (core/exports.py, kims/exports.py): asked for on
a page or through the API, built by a job, shared by everyone asking for the same file, public data only."""
import io
import json
from datetime import timedelta

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import func, select

from kim_platform.core import clock, queue
from kim_platform.core import exports as core_exports
from kim_platform.core.exports import DataExport, build_export, request_export
from kim_platform.core.jobs import run_daily
from kim_platform.core.storage import storage
from kim_platform.extensions import db
from kim_platform.kims.exports import KIND
from tests.conftest import DESA, csrf_token


def _build(export_id):
    """The job's work and its commit (a flush in the test's transaction)."""
    summary = build_export(export_id)
    db.session.flush()
    return summary


@pytest.fixture
def directory(make_kim, make_user):
    """Public KIMs (verified, inactive) and ones the public never sees (draft, rejected) in Mamuju,
    and a verified KIM in the other province of the sample."""
    member = make_user()
    shown = [make_kim(name="KIM Binanga", members=[(member, "ketua")], whatsapp="081234567890"),
             make_kim(name="=HYPERLINK(\"http://x\")", status="inactive")]
    hidden = [make_kim(name="KIM Draf", status="draft"), make_kim(name="KIM Ditolak", status="rejected")]
    return shown, hidden


def _ask(client, **form):
    return client.post("/kim/ekspor", data={"csrf_token": csrf_token(client), **form})


@pytest.fixture
def queued(app, redis_url, monkeypatch):
    """The job queue on (the suite's Redis): builds wait for the worker."""
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.config, "JOB_RETRY_DELAYS", ())
    app.extensions.pop("kim_redis", None)
    yield redis_url
    app.extensions.pop("kim_redis", None)


def test_one_node_builds_the_file_after_the_answer(client, directory):
    response = _ask(client, region="76", format="geojson")
    assert response.status_code == 302
    export = db.session.scalars(select(DataExport)).one()
    db.session.refresh(export)
    assert export.state == "ready" and export.rows == 2  # built once the response was sent
    assert client.get(response.headers["Location"] + "/unduh").status_code == 200


def test_the_page_asks_for_a_file_and_says_when_it_is_ready(app, client, directory, queued):
    shown, hidden = directory
    response = _ask(client, region="76", format="geojson")
    assert response.status_code == 302
    status_url = response.headers["Location"]
    export = db.session.scalars(select(DataExport)).one()
    assert status_url.endswith(f"/kim/ekspor/{export.id}")
    assert export.state == "queued" and export.params == {"region": "76"}
    job = db.session.scalars(select(queue.BackgroundJob).where(queue.BackgroundJob.kind == "exports.build")).one()
    assert job.payload == {"export_id": export.id} and job.state == "queued"

    page = client.get(status_url)
    assert page.status_code == 200 and page.headers["Refresh"] == "5"
    assert "Sedang disiapkan" in page.get_data(as_text=True) or "disiapkan" in page.get_data(as_text=True)
    assert client.get(f"{status_url}/unduh").status_code == 302  # not ready: back to the status

    assert queue.work(app, burst=True) == 1  # the worker, in this process
    db.session.expire_all()
    assert export.state == "ready"
    page = client.get(status_url)
    assert "Refresh" not in page.headers
    assert f"/kim/ekspor/{export.id}/unduh" in page.get_data(as_text=True)
    download = client.get(f"{status_url}/unduh")
    assert download.status_code == 200
    assert download.mimetype == "application/geo+json"
    assert 'filename=direktori-kim-76.geojson' in download.headers["Content-Disposition"]
    body = json.loads(download.get_data())
    names = {f["properties"]["name"] for f in body["features"]}
    assert names == {k.name for k in shown}  # no draft, no rejected KIM
    feature = next(f for f in body["features"] if f["properties"]["name"] == "KIM Binanga")
    assert feature["geometry"]["type"] == "Point"
    assert feature["properties"]["desa_code"] == DESA
    assert feature["properties"]["kabupaten_kota"] and feature["properties"]["provinsi"]
    assert feature["properties"]["url"].startswith(app.config["BASE_URL"] + "/kim/")
    assert "members" not in feature["properties"] and "pengurus" not in feature["properties"]


def test_the_spreadsheet_has_every_public_kim_and_never_runs_a_formula(client, directory):
    shown, _ = directory
    export, _ = request_export(KIND, "xlsx", {"region": None})
    _build(export.id)
    download = client.get(f"/kim/ekspor/{export.id}/unduh")
    sheet = load_workbook(io.BytesIO(download.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0].startswith("Direktori KIM Indonesia")
    header = rows[1]
    names = [row[header.index("name")] for row in rows[2:]]
    assert sorted(names) == sorted(k.name for k in shown)
    cell = next(c for c in sheet.iter_rows(min_row=3) for c in c if c.value == shown[1].name)
    assert cell.data_type == "s"  # "=HYPERLINK(...)" stays text
    assert export.rows == 2


def test_the_same_file_asked_for_again_within_the_hour_is_shared(client, directory):
    first, created = request_export(KIND, "geojson", {"region": "76"})
    again, created_again = request_export(KIND, "geojson", {"region": "76"})
    other, created_other = request_export(KIND, "xlsx", {"region": "76"})
    assert created and not created_again and again.id == first.id
    assert created_other and other.id != first.id
    _build(first.id)
    with time_machine.travel(clock.utcnow() + timedelta(minutes=61), tick=False):
        fresh, created_fresh = request_export(KIND, "geojson", {"region": "76"})
    assert created_fresh and fresh.id != first.id


def test_a_build_delivered_twice_builds_once(client, directory):
    export, _ = request_export(KIND, "geojson", {"region": None})
    _build(export.id)
    key = export.storage_key
    assert _build(export.id) == "already ready"
    assert export.storage_key == key and storage().exists(key)


def test_a_build_that_fails_leaves_no_file_and_the_export_to_be_built_again(app, client, directory, monkeypatch):
    export, _ = request_export(KIND, "geojson", {"region": None})
    db.session.commit()  # the request's commit (a savepoint here)
    files_before = set(storage().keys_older_than(-1))

    def broken(params, out):
        out.write(b"half a file")
        raise RuntimeError("disk full")

    kind = core_exports.export_kinds()[KIND]
    monkeypatch.setitem(kind.writers, "geojson", broken)
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            _build(export.id)
    db.session.refresh(export)
    assert export.state == "queued" and export.storage_key is None
    assert set(storage().keys_older_than(-1)) == files_before
    core_exports.mark_failed(export.id, "disk full")
    db.session.flush()
    page = client.get(f"/kim/ekspor/{export.id}")
    assert "Refresh" not in page.headers and "/kim/ekspor\"" in page.get_data(as_text=True)


def test_a_build_the_queue_gives_up_on_shows_as_failed(app, client, directory, queued, monkeypatch):
    def broken(params, out):
        raise RuntimeError("disk full")

    monkeypatch.setitem(core_exports.export_kinds()[KIND].writers, "xlsx", broken)
    response = client.post("/api/v1/kims/exports", json={"format": "xlsx"})
    assert response.status_code == 202
    export_id = response.get_json()["id"]
    queue.work(app, burst=True)
    status = client.get(f"/api/v1/kims/exports/{export_id}").get_json()
    assert status["state"] == "failed" and status["download_url"] is None
    page = client.get(f"/kim/ekspor/{export_id}")
    assert "Refresh" not in page.headers and "Gagal dibuat" in page.get_data(as_text=True)


def test_bad_input_is_refused_with_a_message_and_nothing_recorded(client, directory):
    response = _ask(client, region="99.99", format="geojson")
    assert response.status_code == 422
    assert "Tidak ada wilayah dengan kode ini" in response.get_data(as_text=True)
    response = _ask(client, region="", format="pdf")
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(DataExport)) == 0
    assert client.get("/kim/ekspor/999999").status_code == 404


def test_the_api_answers_202_then_the_status_with_its_download(client, directory):
    response = client.post("/api/v1/kims/exports", json={"format": "xlsx", "region": "76"})
    assert response.status_code == 202
    body = response.get_json()
    assert body["state"] == "queued" and body["download_url"] is None and body["region"] == "76"
    _build(body["id"])
    status = client.get(body["status_url"])
    assert status.status_code == 200
    ready = status.get_json()
    assert ready["state"] == "ready" and ready["rows"] == 2
    assert client.get(ready["download_url"]).status_code == 200
    again = client.post("/api/v1/kims/exports", json={"format": "xlsx", "region": "76"})
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]


@pytest.mark.parametrize("body", [{"format": "pdf"}, {}, {"format": "xlsx", "region": "99.99"},
                                  {"format": "xlsx", "region": "x" * 40}])
def test_the_api_refuses_bad_input_with_a_json_error(client, body):
    response = client.post("/api/v1/kims/exports", json=body)
    assert response.status_code in (400, 422)
    assert response.get_json()["error"]["code"]
    assert db.session.scalar(select(func.count()).select_from(DataExport)) == 0


def test_the_api_status_of_an_unknown_export_is_404(client):
    response = client.get("/api/v1/kims/exports/424242")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_old_exports_go_with_their_files(app, client, directory):
    export, _ = request_export(KIND, "geojson", {"region": None})
    _build(export.id)
    key = export.storage_key
    db.session.commit()
    later = clock.utcnow() + timedelta(days=app.config["EXPORT_KEEP_DAYS"] + 1)
    with time_machine.travel(later, tick=False):
        run_daily(only=("exports.purge",))
    assert db.session.get(DataExport, export.id) is None
    assert not storage().exists(key)
