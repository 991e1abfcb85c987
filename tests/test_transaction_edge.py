"""One transaction per request, at the edge (core/transaction.py), and per CLI command.

What a request wrote is checked from a fresh session after it ended: a commit releases the
request's savepoint (conftest), a rollback throws it away, so a row exists afterwards exactly
when the edge committed it."""
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kim_platform.accounts import services as account_services
from kim_platform.accounts import views as account_views
from kim_platform.accounts.models import ApiToken, User
from kim_platform.accounts.services import AccountError, create_api_token
from kim_platform.activities import services as activity_services
from kim_platform.activities.models import Activity, Photo
from kim_platform.activities.services import ActivityError
from kim_platform.core import transaction as edge
from kim_platform.core.domain import DomainError
from kim_platform.extensions import db
from kim_platform.kims import services as kim_services
from kim_platform.kims.models import Bidang, Kim, KimInvitation
from kim_platform.kims.services import KimError
from kim_platform.teladan.models import KimScore
from tests.conftest import bearer, csrf_token, login
from tests.test_activities import REPORT, TODAY, jpeg

ROOT = Path(__file__).resolve().parents[1] / "kim_platform"


@pytest.fixture
def fresh(transaction):
    """A session that did not take part in the request: it sees only what the edge committed."""
    with Session(bind=transaction) as session:
        yield session


def stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def report_page(client, kim, title="Diskusi warga"):
    return client.post(f"/kim/{kim.number}/lapor", data={
        "title": title, "date": TODAY, "type": "diskusi", "csrf_token": csrf_token(client), "action": "publish",
        "photos": [(io.BytesIO(jpeg(800, 600)), "kamera.jpg")]}, content_type="multipart/form-data")


def report_api(client, kim, member, title="Sosialisasi cek fakta"):
    payload = {**REPORT, "title": title, "photos": [(io.BytesIO(jpeg(800, 600)), "kamera.jpg")]}
    return client.post(f"/api/v1/kims/{kim.id}/activities", data=payload, headers=bearer(member),
                       content_type="multipart/form-data")


def form(client, path, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client)})


# --- commit on success ---------------------------------------------------------------

@pytest.mark.parametrize("face", ["page", "api"])
def test_a_successful_report_is_committed_with_its_photo_and_its_score(app, client, kim_with_member, fresh, face):
    """The write, its stored files and the teladan rescoring hook all land with the one commit."""
    kim, member, _ = kim_with_member
    assert fresh.get(KimScore, kim.id) is None
    if face == "page":
        login(client, member)
        response = report_page(client, kim, title="Laporan tersimpan")
        assert response.status_code == 302
    else:
        response = report_api(client, kim, member, title="Laporan tersimpan")
        assert response.status_code == 201, response.get_json()
    activity = fresh.scalar(select(Activity).where(Activity.title == "Laporan tersimpan"))
    assert activity is not None and activity.status == "published"
    photo = fresh.scalar(select(Photo).where(Photo.activity_id == activity.id))
    assert {p.name for p in stored_files(app)} == {photo.key, photo.thumb_key}
    assert fresh.get(KimScore, kim.id) is not None  # rescored in the commit (teladan's before_commit)


def test_the_next_request_sees_a_page_write(client, kim_with_member, fresh):
    kim, _, admin = kim_with_member
    login(client, admin)
    old_code = kim.join_code
    assert form(client, f"/kim/{kim.public_ref}/kode-gabung").status_code == 302
    new_code = fresh.get(Kim, kim.id).join_code
    assert new_code != old_code
    assert new_code in client.get(f"/kim/{kim.public_ref}/anggota").get_data(as_text=True)


# --- rollback on error answers, exceptions, discards -----------------------------------

def _write_then(original, error):
    """A service that does its real work (rows flushed, files stored), then fails."""

    def service(*args, **kwargs):
        original(*args, **kwargs)
        db.session.flush()
        raise error

    return service


@pytest.mark.parametrize("face", ["page", "api"])
def test_a_refusal_after_writing_leaves_no_row_and_no_file(app, client, kim_with_member, fresh, monkeypatch,
                                                          face):
    """A 4xx answer rolls back what the service had already flushed and stored."""
    kim, member, _ = kim_with_member
    refusal = ActivityError("Some fields need attention.", fields={"title": "Not like this."})
    monkeypatch.setattr(activity_services, "create_activity",
                        _write_then(activity_services.create_activity, refusal))
    if face == "page":
        login(client, member)
        response = report_page(client, kim, title="Tidak tersimpan")
        assert response.status_code == 422 and "Not like this." in response.get_data(as_text=True)
    else:
        response = report_api(client, kim, member, title="Tidak tersimpan")
        assert response.status_code == 422
        assert response.get_json() == {"error": {"code": "validation_error", "message": "Some fields need attention.",
                                                 "fields": {"title": "Not like this."}}}
    assert count(fresh, Activity, Activity.title == "Tidak tersimpan") == 0
    assert stored_files(app) == []


@pytest.mark.parametrize("face", ["page", "api"])
def test_an_exception_after_writing_leaves_no_row_and_no_file(app, client, kim_with_member, fresh, monkeypatch,
                                                             face):
    kim, member, _ = kim_with_member
    monkeypatch.setattr(activity_services, "create_activity",
                        _write_then(activity_services.create_activity, RuntimeError("a bug")))
    if face == "page":
        login(client, member)
        response = report_page(client, kim, title="Tidak tersimpan")
        assert response.status_code == 500 and "Traceback" not in response.get_data(as_text=True)
    else:
        response = report_api(client, kim, member, title="Tidak tersimpan")
        assert response.status_code == 500 and response.get_json()["error"]["code"] == "internal_error"
    assert count(fresh, Activity, Activity.title == "Tidak tersimpan") == 0
    assert stored_files(app) == []


def test_a_view_that_flashes_and_redirects_discards_the_partial_write(client, kim_with_member, fresh, monkeypatch):
    """A 302 after a refusal commits nothing: the view said `transaction.discard()`."""
    kim, _, admin = kim_with_member

    def half_done(actor, target, action, reason=None):
        target.description = "setengah jadi"
        db.session.flush()
        raise KimError("Not now.", status=409)

    monkeypatch.setattr(kim_services, "change_status", half_done)
    login(client, admin)
    response = form(client, f"/kim/{kim.public_ref}/status/deactivate")
    assert response.status_code == 302
    assert fresh.get(Kim, kim.id).description != "setengah jadi"
    assert "Not now." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_get_never_commits(client, make_user, fresh, monkeypatch):
    user = make_user(name="Nama Asli")
    original = account_views.queries.live_api_tokens

    def writing_read(viewer):
        viewer.name = "Diubah oleh GET"
        db.session.flush()
        return original(viewer)

    monkeypatch.setattr(account_views.queries, "live_api_tokens", writing_read)
    login(client, user)
    page = client.get("/akun")
    assert page.status_code == 200 and "Diubah oleh GET" in page.get_data(as_text=True)
    assert fresh.get(User, user.id).name == "Nama Asli"


def test_the_mailed_confirmation_link_commits_although_it_is_a_get(client, make_user, fresh):
    user = make_user(verified=False)
    assert client.get(f"/verifikasi/{account_services.email_verification_token(user)}").status_code == 302
    assert fresh.get(User, user.id).email_verified_at is not None


def test_a_session_rolled_back_midway_never_answers_success(client, kim_with_member, fresh, monkeypatch):
    kim, _, admin = kim_with_member
    original = kim_services.new_join_code

    def then_recover(actor, target):
        original(actor, target)
        edge.recover_session()

    monkeypatch.setattr(kim_services, "new_join_code", then_recover)
    login(client, admin)
    response = form(client, f"/kim/{kim.public_ref}/kode-gabung")
    assert response.status_code == 503
    assert fresh.get(Kim, kim.id).join_code == kim.join_code


# --- a commit that fails ---------------------------------------------------------------

@pytest.fixture(params=["at the commit", "in the view"])
def conflicting_revoke(request, monkeypatch, make_user):
    """Revoking a token also (wrongly) takes another account's email: the unique index refuses it,
    in the edge's commit (not flushed before) or in the view (flushed there)."""
    other = make_user()

    def revoke(user, token_id):
        user.email = other.email
        if request.param == "in the view":
            db.session.flush()
        return True

    monkeypatch.setattr(account_services, "revoke_api_token", revoke)
    return other


def test_a_conflicting_commit_answers_409_page_without_the_success_flash(client, make_user, fresh,
                                                                        conflicting_revoke):
    user = make_user()
    token, _ = create_api_token(user, "HP")
    db.session.flush()
    login(client, user)
    response = form(client, f"/akun/token/{token.id}/cabut")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Konflik" in html and "Tidak ada yang disimpan" in html and "Traceback" not in html
    assert fresh.get(User, user.id).email == user.email
    assert "Token telah dicabut" not in client.get("/akun").get_data(as_text=True)


def test_a_conflicting_commit_answers_409_json(client, make_user, fresh, conflicting_revoke):
    user = make_user()
    token, _ = create_api_token(user, "HP")
    headers = bearer(user)
    response = client.delete(f"/api/v1/auth/tokens/{token.id}", headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert fresh.get(User, user.id).email == user.email
    assert fresh.get(ApiToken, token.id).revoked_at is None


def test_a_lost_database_at_commit_answers_503_and_drops_the_mail(client, kim_with_member, fresh, outbox,
                                                                 monkeypatch):
    kim, _, admin = kim_with_member
    headers = bearer(admin)

    def commit():
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(db.session, "commit", commit)
    response = client.post(f"/api/v1/kims/{kim.id}/members", json={"email": "baru@example.id"}, headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.get_json()["error"]["code"] == "unavailable"
    assert count(fresh, KimInvitation, KimInvitation.kim_id == kim.id) == 0
    assert outbox.messages() == []  # the invitation mail spoke of something never saved


def test_the_same_invitation_without_the_failure_is_saved_and_mailed(client, kim_with_member, fresh, outbox):
    kim, _, admin = kim_with_member
    response = client.post(f"/api/v1/kims/{kim.id}/members", json={"email": "baru@example.id"},
                           headers=bearer(admin))
    assert response.status_code == 202
    assert count(fresh, KimInvitation, KimInvitation.kim_id == kim.id) == 1
    assert [m["To"] for m in outbox.messages()] == ["baru@example.id"]


# --- one error type per domain -----------------------------------------------------------

def test_every_domain_error_shares_one_base():
    assert issubclass(KimError, DomainError) and issubclass(AccountError, DomainError)
    # One error type per domain: a report's refusal is no KIM's, so only `except DomainError` catches both.
    assert issubclass(ActivityError, DomainError) and not issubclass(ActivityError, KimError)
    assert not issubclass(KimError, ActivityError) and not issubclass(AccountError, KimError)
    error = AccountError("Taken.", field="email", status=409)
    assert (error.field, error.field_messages(), error.status) == ("email", {"email": "Taken."}, 409)


def test_an_account_error_from_the_api_is_the_standard_body(client, make_user):
    manager = make_user(role="direktorat")
    target = make_user()
    response = client.post(f"/api/v1/users/{target.id}/roles", json={"role": "pembina", "scope": "99"},
                           headers=bearer(manager))
    assert 400 <= response.status_code < 500
    body = response.get_json()["error"]
    assert set(body) <= {"code", "message", "fields"} and body["message"]


def test_a_refusal_no_page_catches_is_the_error_page_with_its_status(client, kim_with_member, fresh,
                                                                     monkeypatch):
    kim, _, admin = kim_with_member

    def refuse(actor, target):
        target.join_code = "BELUMSIMPAN"
        db.session.flush()
        raise KimError("Not this time.", status=409)

    monkeypatch.setattr(kim_services, "new_join_code", refuse)
    login(client, admin)
    response = form(client, f"/kim/{kim.public_ref}/kode-gabung")
    assert response.status_code == 409 and "Not this time." in response.get_data(as_text=True)
    assert fresh.get(Kim, kim.id).join_code == kim.join_code


@pytest.mark.parametrize("status", [200, 302, 500, None])
@pytest.mark.parametrize("face", ["page", "json"])
def test_a_refusal_always_answers_4xx(client, kim_with_member, monkeypatch, status, face):
    """A service slip (a DomainError with a non-4xx status) is still a client error on both faces,
    never a success, a redirect or a 500."""
    kim, _, admin = kim_with_member

    def refuse(actor, target):
        raise KimError("Not this time.", status=status)

    monkeypatch.setattr(kim_services, "new_join_code", refuse)
    login(client, admin)
    headers = {"Accept": "application/json"} if face == "json" else {}
    response = client.post(f"/kim/{kim.public_ref}/kode-gabung", data={"csrf_token": csrf_token(client)},
                           headers=headers)
    assert response.status_code == 422
    if face == "json":
        assert response.get_json()["error"] == {"code": "validation_error", "message": "Not this time."}
    else:
        assert "Not this time." in response.get_data(as_text=True)


@pytest.mark.parametrize("face", ["page", "api"])
def test_a_report_refusal_is_an_activity_error_on_both_faces(client, kim_with_member, make_user, face):
    """Refusals of a report (who may write, the daily cap, a misplaced point) are ActivityErrors,
    which the pages and the API translate through DomainError, not through `except KimError`."""
    kim, _, _ = kim_with_member
    outsider = make_user()
    with pytest.raises(ActivityError) as refused:
        activity_services.create_activity(outsider, kim, dict(REPORT))
    assert refused.value.status == 403
    if face == "page":
        login(client, outsider)
        response = client.post(f"/kim/{kim.number}/lapor", data={
            "title": "Diskusi", "date": TODAY, "type": "diskusi", "csrf_token": csrf_token(client),
            "action": "publish"})
    else:
        response = client.post(f"/api/v1/kims/{kim.id}/activities", json=dict(REPORT), headers=bearer(outsider))
    assert response.status_code == 403


# --- the CLI edge ------------------------------------------------------------------------

def test_a_cli_command_commits_its_work(runner, fresh, tmp_path):
    csv = tmp_path / "bidang.csv"
    csv.write_text("slug,parent_slug,name_id,name_en,sort\nuji-edge,,Uji Tepi,Edge Test,99\n", encoding="utf-8")
    result = runner.invoke(args=["bidang", "load", "--path", str(csv)])
    assert result.exit_code == 0, result.output
    assert fresh.get(Bidang, "uji-edge").name_en == "Edge Test"


def test_a_refused_cli_command_leaves_nothing(runner, fresh, monkeypatch):
    original = account_services.create_admin

    def create_then_refuse(actor, email, password, name=None):
        original(actor, email, password, name)
        db.session.flush()
        raise AccountError("Refused after writing.")

    monkeypatch.setattr(account_services, "create_admin", create_then_refuse)
    result = runner.invoke(args=["users", "create-admin", "kepala@example.id"], input="kopi-tubruk-di-mamuju\n")
    assert result.exit_code == 1 and "Refused after writing." in result.output
    assert count(fresh, User, User.email == "kepala@example.id") == 0


def test_the_cli_edge_rolls_back_on_any_exception(app, fresh):
    with app.app_context():
        with pytest.raises(RuntimeError):
            with edge.cli_transaction() as session:
                session.add(Bidang(slug="uji-gagal", name_id="Gagal", name_en="Failed", sort=1))
                session.flush()
                raise RuntimeError("boom")
        assert fresh.get(Bidang, "uji-gagal") is None


def test_nothing_outside_the_edges_commits_or_rolls_back():
    """Views, API modules, services and CLI commands leave the transaction to the edges."""
    call = re.compile(r"\.(commit|rollback)\(\)")
    offenders = [f"{path.relative_to(ROOT)}:{n}" for path in ROOT.rglob("*.py")
                 if path.name != "transaction.py"
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if call.search(line)]
    assert offenders == []
