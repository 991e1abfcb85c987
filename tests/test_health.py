"""KIM health (issue 19): the daily state at its boundaries, SK reminders sent once, the pembina's
"Perlu perhatian" scoped to their region, contact notes, the yearly confirmation, the list filter,
the SK history and pengurus, and `flask jobs daily` doing the day's work once."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from kim_platform import permissions
from kim_platform.audit.models import AuditEntry
from kim_platform.core import clock
from kim_platform.core.jobs import JobRun, daily_task, run_daily
from kim_platform.core.storage import storage
from kim_platform.extensions import db
from kim_platform.health import queries, services
from kim_platform.health.models import ContactNote, HealthDigest, KimHealth, SkReminder
from kim_platform.kims import services as kims
from kim_platform.kims.models import KimSkVersion
from tests.conftest import bearer, counting, csrf_token, login

pytestmark = pytest.mark.usefixtures("steady_demo_flag")


MAKASSAR = ("73.71.01.1001", (-5.162181, 119.404252))
NOON_WIB = datetime(2027, 6, 15, 5, tzinfo=timezone.utc)  # 12:00 in Jakarta


@pytest.fixture
def healthy_kim(make_user, make_kim):
    """A verified KIM with nothing to flag but what a test changes: three members naming the three
    pengurus, a recorded SK valid for a year, data confirmed now, a report today."""

    def make(report_days_ago=0, desa_code="76.02.01.1002", point=(-2.749192, 118.967345), **fields):
        today = clock.today()
        members = [(make_user(name=f"Pengurus {p}"), role) for p, role in
                   (("ketua", "ketua"), ("sekretaris", "admin"), ("bendahara", "anggota"))]
        values = {"sk_number": "141/12/2026", "sk_date": today - timedelta(days=30),
                  "sk_valid_until": today + timedelta(days=365), "data_confirmed_at": clock.utcnow(),
                  "last_activity_on": today - timedelta(days=report_days_ago), **fields}
        kim = make_kim(desa_code=desa_code, point=point, members=members, **values)
        for membership, position in zip(sorted(kim.memberships, key=lambda m: m.id),
                                        ("ketua", "sekretaris", "bendahara")):
            membership.position = position
        db.session.flush()
        return kim

    return make


def _state(kim):
    health = db.session.get(KimHealth, kim.id, populate_existing=True)
    return (health.state, list(health.reasons)) if health else None


@pytest.mark.parametrize("days, state, reasons", [
    (0, "aktif", []),
    (89, "aktif", []),
    (90, "perlu_pendampingan", ["no_report_90"]),
    (179, "perlu_pendampingan", ["no_report_90"]),
    (180, "vakum", ["no_report_180"]),
    (400, "vakum", ["no_report_180"]),
])
def test_the_state_at_the_report_boundaries(healthy_kim, frozen_clock, days, state, reasons):
    frozen_clock(NOON_WIB)
    kim = healthy_kim(report_days_ago=days)
    services.compute_daily()
    assert _state(kim) == (state, reasons)
    assert db.session.get(KimHealth, kim.id).last_report_on == clock.today() - timedelta(days=days)


def test_an_sk_ending_today_is_valid_and_expired_the_day_after(healthy_kim, frozen_clock):
    frozen_clock(NOON_WIB)
    today = clock.today()
    ends_today = healthy_kim(sk_valid_until=today)
    ended = healthy_kim(sk_valid_until=today - timedelta(days=1))
    services.compute_daily()
    assert _state(ends_today) == ("aktif", [])
    assert _state(ended) == ("perlu_pendampingan", ["sk_expired"])


def test_missing_pengurus_few_members_no_sk_and_stale_data_are_flags(healthy_kim, make_user, frozen_clock):
    frozen_clock(NOON_WIB)
    no_secretary = healthy_kim()
    next(m for m in no_secretary.memberships if m.position == "sekretaris").position = None
    few = healthy_kim()
    few.memberships.remove(next(m for m in few.memberships if m.position == "bendahara"))
    no_sk = healthy_kim(sk_number=None, sk_date=None, sk_valid_until=None)
    stale = healthy_kim(data_confirmed_at=clock.utcnow() - timedelta(days=400))
    fresh_enough = healthy_kim(data_confirmed_at=clock.utcnow() - timedelta(days=380))  # 12.5 months
    db.session.flush()
    services.compute_daily()
    assert _state(no_secretary) == ("perlu_pendampingan", ["pengurus_missing"])
    assert _state(few) == ("perlu_pendampingan", ["pengurus_missing", "few_members"])
    assert _state(no_sk) == ("perlu_pendampingan", ["sk_missing"])
    assert _state(stale) == ("perlu_pendampingan", ["unconfirmed"])
    assert _state(fresh_enough) == ("aktif", [])


def test_the_states_are_computed_set_based_and_kept_only_for_verified_kims(healthy_kim, make_kim):
    """The same few statements for 3 KIMs or 30: never a query per KIM."""
    first = healthy_kim()
    draft = make_kim(status="draft")
    with counting() as few:
        services.compute_daily()
    for _ in range(30):
        healthy_kim(report_days_ago=200)
    with counting() as many:
        services.compute_daily()
    assert len(many) == len(few) <= 3
    assert _state(draft) is None and _state(first) == ("aktif", [])
    kims.change_status(permissions.SYSTEM, first, "deactivate")
    services.compute_daily()
    assert _state(first) is None  # deactivated: no longer followed


def test_a_state_change_is_dated_and_remembers_the_state_before(healthy_kim, frozen_clock):
    frozen_clock(NOON_WIB)
    kim = healthy_kim(report_days_ago=88)
    services.compute_daily()
    assert db.session.get(KimHealth, kim.id).state_since == clock.today()
    frozen_clock(NOON_WIB + timedelta(days=3))
    services.compute_daily()
    health = db.session.get(KimHealth, kim.id, populate_existing=True)
    assert (health.state, health.previous_state, health.state_since) == ("perlu_pendampingan", "aktif", clock.today())


# --- SK reminders ------------------------------------------------------------------------------

def test_sk_reminders_go_60_and_14_days_before_to_the_admins_once(healthy_kim, frozen_clock, outbox):
    frozen_clock(NOON_WIB)
    kim = healthy_kim(sk_valid_until=clock.today() + timedelta(days=60))
    admins = sorted(m.user.email for m in kim.memberships if m.role in ("ketua", "admin"))
    first = services.send_sk_reminders()
    assert sorted(to for to, _subject, _body in first) == admins
    assert services.send_sk_reminders() == []  # a rerun the same day sends nothing
    frozen_clock(NOON_WIB + timedelta(days=1))
    assert services.send_sk_reminders() == []  # 59 days before: the 60-day one was sent
    frozen_clock(NOON_WIB + timedelta(days=46))
    second = services.send_sk_reminders()
    assert len(second) == len(admins) and "14" in second[0][2]
    assert services.send_sk_reminders() == []
    kim.sk_valid_until = clock.today() + timedelta(days=400)  # a new SK: its own reminders later
    db.session.flush()
    assert services.send_sk_reminders() == []


def test_an_sk_entered_late_gets_only_the_14_day_reminder(healthy_kim, frozen_clock):
    frozen_clock(NOON_WIB)
    kim = healthy_kim(sk_valid_until=clock.today() + timedelta(days=10))
    healthy_kim(sk_valid_until=clock.today() - timedelta(days=1))  # expired: no reminder
    sent = services.send_sk_reminders()
    assert len(sent) == 2  # ketua and admin of the first, once, the 14-day reminder
    assert db.session.scalars(select(SkReminder.days_before).where(SkReminder.kim_id == kim.id)).all() == [14]


# --- "Perlu perhatian" ---------------------------------------------------------------------------

def test_a_pembina_sees_exactly_the_kims_of_their_region_needing_attention(app, client, healthy_kim, make_user,
                                                                           frozen_clock):
    frozen_clock(NOON_WIB)
    dormant = healthy_kim(report_days_ago=200, name="KIM Tidur Panjang")
    expired = healthy_kim(sk_valid_until=clock.today() - timedelta(days=3), name="KIM SK Lewat")
    healthy_kim(name="KIM Sehat Walafiat")
    healthy_kim(report_days_ago=200, name="KIM Makassar Vakum", desa_code=MAKASSAR[0], point=MAKASSAR[1])
    services.compute_daily()
    pembina = make_user(role="pembina", scope="76.02")
    assert [k.id for k, _h in queries.attention_list(pembina).rows] == [dormant.id, expired.id]
    national = make_user(role="direktorat")
    assert len(queries.attention_list(national).rows) == 3

    login(client, pembina)
    html = client.get("/pembina/perlu-perhatian").get_data(as_text=True)
    assert "KIM Tidur Panjang" in html and "KIM SK Lewat" in html
    assert "KIM Sehat Walafiat" not in html and "KIM Makassar Vakum" not in html
    assert "SK kedaluwarsa" in html and "vakum" in html.lower()
    admin_email = next(m.user.email for m in dormant.memberships if m.role == "ketua")
    assert admin_email in html  # the region's pembina sees the contact whole

    answer = client.get("/api/v1/health/attention?per_page=1", headers=bearer(pembina)).get_json()
    assert answer["total"] == 2 and [i["kim_id"] for i in answer["items"]] == [dormant.id]
    assert answer["items"][0]["reasons"] == ["no_report_180"] and answer["next_cursor"] == dormant.id
    rest = client.get(f"/api/v1/health/attention?per_page=1&cursor={answer['next_cursor']}",
                      headers=bearer(pembina)).get_json()
    assert [i["kim_id"] for i in rest["items"]] == [expired.id] and rest["next_cursor"] is None
    assert rest["items"][0]["sk_expired"] is True


def test_a_contact_note_is_audited_and_seen_by_the_next_pembina(app, client, healthy_kim, make_user, frozen_clock):
    frozen_clock(NOON_WIB)
    kim = healthy_kim(report_days_ago=200)
    services.compute_daily()
    first, second = make_user(role="pembina", scope="76.02"), make_user(role="pembina", scope="76")
    login(client, first)
    response = client.post(f"/kim/{kim.public_ref}/sudah-dihubungi",
                           data={"body": "Ditelepon ketua; rapat ulang bulan depan.",
                                 "csrf_token": csrf_token(client), "next": "/pembina/perlu-perhatian"})
    assert response.status_code == 302 and response.headers["Location"] == "/pembina/perlu-perhatian"
    note = db.session.scalar(select(ContactNote).where(ContactNote.kim_id == kim.id))
    assert note.author_id == first.id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "kim.contacted"))
    assert entry.actor_id == first.id and entry.after["body"].startswith("Ditelepon")
    empty = client.post(f"/kim/{kim.public_ref}/sudah-dihubungi", data={"body": " ", "csrf_token": csrf_token(client)})
    assert empty.status_code == 302 and db.session.scalar(select(func.count()).select_from(ContactNote)) == 1

    answer = client.get(f"/api/v1/health/kims/{kim.id}", headers=bearer(second)).get_json()
    assert [n["body"] for n in answer["notes"]] == ["Ditelepon ketua; rapat ulang bulan depan."]
    outsider = make_user(role="pembina", scope="73.71")
    refused = client.post(f"/api/v1/health/kims/{kim.id}/notes", json={"body": "Saya hubungi."},
                          headers=bearer(outsider))
    assert refused.status_code == 403 and "error" in refused.get_json()
    invalid = client.post(f"/api/v1/health/kims/{kim.id}/notes", json={"body": "x"}, headers=bearer(second))
    assert invalid.status_code == 422 and "body" in invalid.get_json()["error"]["fields"]
    assert app.test_client().get(f"/api/v1/health/kims/{kim.id}").get_json().get("notes") is None  # anonymous


# --- the yearly confirmation, the profile, the list filter ----------------------------------------------

def test_admins_confirm_the_data_and_the_flag_goes_at_once(client, healthy_kim, frozen_clock):
    frozen_clock(NOON_WIB)
    kim = healthy_kim(data_confirmed_at=clock.utcnow() - timedelta(days=500))
    services.compute_daily()
    assert _state(kim) == ("perlu_pendampingan", ["unconfirmed"])
    admin = next(m.user for m in kim.memberships if m.role == "admin")
    login(client, admin)
    page = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    assert f"/kim/{kim.public_ref}/data-benar" in page
    response = client.post(f"/kim/{kim.public_ref}/data-benar", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert _state(kim) == ("aktif", [])
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "kim.data_confirmed")).actor_id == admin.id


def test_the_profile_shows_sk_kedaluwarsa_and_when_it_was_updated(client, healthy_kim, make_user, frozen_clock):
    frozen_clock(NOON_WIB)
    kim = healthy_kim(sk_valid_until=clock.today() - timedelta(days=1))
    services.compute_daily()
    html = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    assert "SK kedaluwarsa" in html and "diperbarui" in html and "perlu pendampingan" in html
    assert kim.status == "verified"  # nothing is deactivated automatically


def test_the_kim_list_and_the_api_filter_by_health(client, healthy_kim, frozen_clock):
    frozen_clock(NOON_WIB)
    dormant = healthy_kim(report_days_ago=300, name="KIM Filter Vakum")
    healthy_kim(name="KIM Filter Aktif")
    services.compute_daily()
    html = client.get("/kim?kesehatan=vakum").get_data(as_text=True)
    assert "KIM Filter Vakum" in html and "KIM Filter Aktif" not in html
    items = client.get("/api/v1/kims?health=vakum").get_json()["items"]
    assert [item["id"] for item in items] == [dormant.id]
    assert client.get("/api/v1/kims?health=sehat").status_code == 400


# --- SK versions and pengurus, through the one KIM parser -----------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_a_new_sk_is_a_new_version_and_the_old_file_stays(client, healthy_kim):
    kim = healthy_kim()
    ketua = next(m.user for m in kim.memberships if m.role == "ketua")
    valid_until = (clock.today() + timedelta(days=3 * 365)).isoformat()  # after the fixture's SK date, any day
    kims.update_kim(ketua, kim, {"sk_number": "1/2025", "sk_valid_until": valid_until})
    kims.set_sk_file(ketua, kim, PDF)
    old_key = kim.sk_file_key
    kims.update_kim(ketua, kim, {"sk_number": "2/2026"})
    kims.set_sk_file(ketua, kim, PDF + b" ")
    versions = db.session.scalars(select(KimSkVersion).where(KimSkVersion.kim_id == kim.id)
                                  .order_by(KimSkVersion.id)).all()
    assert [(v.sk_number, v.file_key == old_key) for v in versions] == [("1/2025", True), ("2/2026", False)]
    assert versions[0].valid_until.isoformat() == valid_until
    db.session.commit()
    assert storage().exists(old_key)  # private history: kept, served to nobody publicly
    assert client.get(f"/berkas/logo/{old_key}").status_code == 404


def test_pengurus_and_sk_end_through_the_api_as_through_the_page(client, healthy_kim, make_user):
    kim = healthy_kim()
    ketua = next(m.user for m in kim.memberships if m.role == "ketua")
    member = next(m for m in kim.memberships if m.role == "anggota")
    stranger = make_user()
    headers = bearer(ketua)
    valid_until = (clock.today() + timedelta(days=4 * 365)).isoformat()
    answer = client.patch(f"/api/v1/kims/{kim.id}", json={"pengurus": {"ketua": member.user_id},
                                                          "sk_valid_until": valid_until}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["pengurus"]["ketua"] == member.user_id and body["sk_valid_until"] == valid_until
    db.session.expire_all()
    assert sorted((m.position or "") for m in kim.memberships) == ["", "ketua", "sekretaris"]
    refused = client.patch(f"/api/v1/kims/{kim.id}", json={"pengurus": {"bendahara": stranger.id}}, headers=headers)
    assert refused.status_code == 422 and "pengurus.bendahara" in refused.get_json()["error"]["fields"]
    sk_date = clock.today() - timedelta(days=60)
    late = client.patch(f"/api/v1/kims/{kim.id}", json={"sk_date": sk_date.isoformat(),
                                                        "sk_valid_until": (sk_date - timedelta(days=365)).isoformat()},
                        headers=headers)
    assert late.status_code == 422 and "sk_valid_until" in late.get_json()["error"]["fields"]
    assert client.get(f"/api/v1/kims/{kim.id}").get_json()["pengurus"] is None  # not public

    login(client, ketua)
    page = client.post(f"/kim/{kim.public_ref}/ubah", data={
        "csrf_token": csrf_token(client), "name": kim.name, "bidang": "literasi",
        "lat": "-2.749192", "lon": "118.967345", "pengurus_sekretaris": str(stranger.id)})
    assert page.status_code == 422 and "anggota KIM" in page.get_data(as_text=True)


# --- monthly digest and `flask jobs daily` -------------------------------------------------------------------

def test_the_monthly_digest_tells_each_pembina_the_changes_once_a_month(healthy_kim, make_user, frozen_clock):
    frozen_clock(NOON_WIB)
    kim = healthy_kim(report_days_ago=85, name="KIM Mulai Sepi")
    pembina = make_user(role="pembina", scope="76")
    services.compute_daily()
    frozen_clock(NOON_WIB + timedelta(days=10))
    services.compute_daily()  # 95 days: perlu pendampingan
    frozen_clock(datetime(2027, 7, 1, 5, tzinfo=timezone.utc))
    mails = [mail for mail in services.send_monthly_digests() if mail[0] == pembina.email]
    assert len(mails) == 1 and "KIM Mulai Sepi" in mails[0][2] and kim.number in mails[0][2]
    assert services.send_monthly_digests() == []  # the same month: nothing again
    assert db.session.scalar(select(HealthDigest.month).where(HealthDigest.user_id == pembina.id)).day == 1


def test_jobs_daily_runs_each_task_once_and_resumes_after_an_interruption(app, runner, healthy_kim, frozen_clock,
                                                                          outbox):
    frozen_clock(NOON_WIB)
    healthy_kim(sk_valid_until=clock.today() + timedelta(days=14))
    db.session.commit()
    calls = []
    tasks = app.extensions["kim_daily_tasks"]

    def flaky(day):
        calls.append(day)
        if len(calls) == 1:
            raise RuntimeError("the server went down")
        return "ok"

    daily_task(app, "test.flaky", 25, flaky)
    try:
        with pytest.raises(RuntimeError):
            run_daily()
        finished = set(db.session.scalars(select(JobRun.name).where(JobRun.day == clock.today())))
        assert finished == {"health.states", "health.sk_reminders"}
        reminders = len(outbox.messages())
        assert reminders == 2  # ketua and admin, mailed after the commit of their task
        result = runner.invoke(args=["jobs", "daily"])
        assert result.exit_code == 0, result.output
        assert "health.states" not in result.output and "test.flaky: ok" in result.output
        assert "campaigns.close_ended" in result.output and "teladan.recompute" in result.output
        assert len(outbox.messages()) == reminders  # the reminders were not sent again
        again = runner.invoke(args=["jobs", "daily"])
        assert "nothing to do" in again.output and len(calls) == 2
    finally:
        tasks.pop("test.flaky")


def test_the_daily_tasks_run_in_order_whatever_the_packages_init_order(app):
    with app.app_context():
        from kim_platform.core.jobs import daily_tasks

        names = [task.name for task in daily_tasks()]
    assert names.index("health.states") < names.index("health.sk_reminders") < names.index("health.monthly_digest") \
        < names.index("campaigns.close_ended") < names.index("campaigns.send_digests") \
        < names.index("campaigns.sweep_visits") < names.index("teladan.recompute") \
        < names.index("aspirations.escalate") < names.index("aspirations.purge_personal") < names.index("storage.sweep")
    with pytest.raises(ValueError):
        daily_task(app, "health.states", 1, lambda day: None)
