"""KIM teladan: the score's properties on constructed data, rankings, next steps, recompute, privacy."""
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from kim_platform.activities.models import Activity, Photo
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Membership
from kim_platform.teladan import scoring
from kim_platform.teladan.models import KimScore, TeladanRun
from tests.conftest import bearer, login

TODAY = clock.today()
OTHER_DESA, OTHER_POINT = "73.71.01.1001", (-5.1326, 119.4135)


def report(kim, days_ago, type="diskusi", status="published", reach=10, photo=False, link=False):
    activity = Activity(kim_id=kim.id, title="Kegiatan", activity_date=TODAY - timedelta(days=days_ago), type=type,
                        desa_code=kim.desa_code, status=status, reach_offline=reach, reach_online=0,
                        links=["https://www.instagram.com/p/contoh"] if link else [])
    db.session.add(activity)
    db.session.flush()
    if photo:
        n = db.session.scalar(select(func.count()).select_from(Photo)) + 1
        db.session.add(Photo(activity_id=activity.id, key=f"p{activity.id}-{n}.jpg", thumb_key=f"t{activity.id}-{n}.jpg",
                             width=800, height=600))
        db.session.flush()
    return activity


def score_now(kim, as_of=None):
    return scoring.compute(as_of or TODAY, [kim.id])[kim.id]


def complete_profile(kim, make_user, members=3):
    kim.description = "KIM ini menyebarkan informasi pemerintah dan melawan hoaks bersama warga desa setiap pekan."
    kim.sk_number, kim.sk_date = "140/12/2025", TODAY - timedelta(days=200)
    kim.socials = {"instagram": "https://www.instagram.com/kimcontoh"}
    for _ in range(members):
        db.session.add(Membership(user_id=make_user().id, kim_id=kim.id, role="anggota"))
    db.session.flush()


def test_adding_reports_never_lowers_the_score(make_kim):
    types = ["diskusi", "diseminasi", "literasi-digital", "klarifikasi-hoaks", "pelatihan"]
    for seed in range(4):
        rng = random.Random(seed)
        kim = make_kim(name=f"Acak {seed}")
        previous = score_now(kim)
        for _ in range(25):
            report(kim, rng.randint(0, 240), type=rng.choice(types), reach=rng.randint(0, 3000),
                   photo=rng.random() < 0.3, link=rng.random() < 0.3)
            current = score_now(kim)
            assert current.score >= previous.score, (seed, previous, current)
            for name in scoring.COMPONENTS:
                assert getattr(current, name) >= getattr(previous, name), (seed, name)
            previous = current


def test_one_report_a_month_beats_thirty_on_one_day(make_kim):
    burst, steady = make_kim(name="Sekaligus"), make_kim(name="Rutin")
    for _ in range(30):
        report(burst, 3)
    for period in range(6):
        report(steady, 3 + period * 30)
    burst_score, steady_score = score_now(burst), score_now(steady)
    assert burst_score.regularity == pytest.approx(100 / 6, abs=0.1)
    assert steady_score.regularity == 100.0
    assert steady_score.score > burst_score.score


def test_hidden_and_draft_reports_count_for_nothing(make_kim):
    plain, noisy = make_kim(name="Biasa"), make_kim(name="Ramai")
    for kim in (plain, noisy):
        report(kim, 5)
        report(kim, 40)
    for days in (1, 70, 100):
        report(noisy, days, type="pelatihan", status="hidden", reach=5000, photo=True)
        report(noisy, days, type="pelatihan", status="draft", reach=5000, link=True)
    a, b = score_now(plain), score_now(noisy)
    assert [getattr(a, n) for n in (*scoring.COMPONENTS, "score")] == [getattr(b, n) for n in
                                                                     (*scoring.COMPONENTS, "score")]


def test_six_months_without_activity_cannot_be_teladan(make_kim, make_user):
    kim = make_kim()
    complete_profile(kim, make_user)
    for days in range(181, 400, 20):
        report(kim, days, reach=5000, photo=True)
    scoring.recompute([kim.id])
    stored = db.session.get(KimScore, kim.id)
    assert stored.eligible is False and stored.completeness == 100.0 and stored.score == 10.0
    assert not scoring.is_teladan(stored)
    assert scoring.compute(TODAY - timedelta(days=200), [kim.id])[kim.id].regularity > 0  # it was active then


def test_an_active_complete_kim_is_teladan_and_time_alone_lowers_it(make_kim, make_user):
    kim = make_kim()
    complete_profile(kim, make_user)
    for period, kind in zip(range(6), ["diskusi", "diseminasi", "pelatihan", "diskusi", "diseminasi", "pelatihan"],
                            strict=True):
        report(kim, 2 + period * 30, type=kind, reach=800, photo=True)
    report(kim, 10, type="literasi-digital", reach=10, link=True)
    now = score_now(kim)
    assert (now.regularity, now.recency, now.evidence, now.completeness, now.variety) == (100, 100, 100, 100, 100)
    assert now.score >= scoring.TELADAN_MIN_SCORE
    later = score_now(kim, TODAY + timedelta(days=60))
    assert later.score < now.score and later.recency < now.recency


def test_scores_are_reproducible(make_kim, make_user):
    for n in range(5):
        kim = make_kim(name=f"Ulang {n}")
        for days in range(0, 150, 17 + n):
            report(kim, days, reach=n * 100, photo=days % 2 == 0)
    scoring.recompute()
    first = [tuple(row) for row in db.session.execute(text(
        "SELECT kim_id, score, regularity, recency, variety, reach, evidence, completeness, eligible, "
        "score_90_days_ago FROM kim_score ORDER BY kim_id"))]
    scoring.recompute()
    second = [tuple(row) for row in db.session.execute(text(
        "SELECT kim_id, score, regularity, recency, variety, reach, evidence, completeness, eligible, "
        "score_90_days_ago FROM kim_score ORDER BY kim_id"))]
    assert first == second and len(first) == 5
    computed = scoring.compute(TODAY)
    assert [(k, computed[k].score) for k, *_ in first] == [(row[0], row[1]) for row in first]


def test_ranking_per_region_and_bidang(client, make_kim):
    strong = make_kim(name="Kuat Mamuju", bidang=("literasi",))
    weak = make_kim(name="Lemah Mamuju", bidang=("kesehatan",))
    makassar = make_kim(name="Kuat Makassar", desa_code=OTHER_DESA, point=OTHER_POINT, bidang=("literasi",))
    dormant = make_kim(name="Tidur")
    for days in range(2, 180, 30):
        report(strong, days, photo=True)
        report(makassar, days)
    report(weak, 50)
    report(dormant, 300)
    db.session.commit()  # the session hook scores the KIMs whose reports changed
    body = client.get("/api/v1/teladan").get_json()
    names = [item["name"] for item in body["items"]]
    assert names == ["Kuat Mamuju", "Kuat Makassar", "Lemah Mamuju"]  # the dormant KIM is not ranked
    assert body["items"][0]["components"]["regularity"] == 100.0 and body["total"] == 3
    assert [i["name"] for i in client.get("/api/v1/teladan?region=73").get_json()["items"]] == ["Kuat Makassar"]
    assert [i["name"] for i in client.get("/api/v1/teladan?region=76.02&bidang=kesehatan").get_json()["items"]] == [
        "Lemah Mamuju"]
    for bad in ("region=76.02.01", "bidang=sulap", "limit=0", "limit=101", "region=7x"):
        assert client.get(f"/api/v1/teladan?{bad}").status_code == 400, bad
    assert client.get("/api/v1/teladan?region=99").status_code == 404
    html = client.get("/teladan?wilayah=76").get_data(as_text=True)
    assert html.index("Kuat Mamuju") < html.index("Lemah Mamuju") and "Kuat Makassar" not in html
    assert "bukan peringkat resmi" in html
    assert client.get("/teladan?wilayah=76.02.01").status_code == 404


def test_next_steps_name_what_to_do(client, make_user, make_kim):
    admin = make_user()
    kim = make_kim(members=[(admin, "admin")])
    kim.sk_number, kim.sk_date = "140/1/2019", TODAY - timedelta(days=4 * 365)
    report(kim, 45, type="diskusi")
    db.session.commit()
    login(client, admin)
    html = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    steps = html.split('class="next-steps"')[1].split("</ol>")[0]
    assert "Belum ada kegiatan dalam 30 hari terakhir" in steps and f"/kim/{kim.public_ref}/lapor" in steps
    assert steps.count("<li>") == 3
    body = client.get(f"/api/v1/kims/{kim.id}/score", headers=bearer(admin)).get_json()
    keys = [step["key"] for step in body["next_steps"]]
    assert keys[0] == "report" and len(keys) == 3
    # an SK four years old is too old; with steps beyond the top three, ask for all of them
    from kim_platform.teladan.coaching import next_steps
    with client.application.test_request_context():
        everything = {step.key: step.message for step in next_steps(kim, db.session.get(KimScore, kim.id), limit=10)}
    assert "sk" in everything and "members" in everything and "description" in everything
    assert "SK sudah lebih dari 3 tahun" in str(everything["sk"])


def test_private_parts_stay_private(client, make_user, make_kim):
    member, outsider = make_user(), make_user()
    pembina, other_pembina = make_user(role="pembina", scope="76.02"), make_user(role="pembina", scope="73.71")
    kim = make_kim(members=[(member, "anggota")])
    report(kim, 3)
    db.session.commit()
    assert "next_steps" not in client.get(f"/api/v1/kims/{kim.id}/score").get_json()
    for user, sees in ((member, True), (pembina, True), (outsider, False), (other_pembina, False)):
        body = client.get(f"/api/v1/kims/{kim.id}/score", headers=bearer(user)).get_json()
        assert ("next_steps" in body) is sees, user.email
    html = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    assert "Skor platform" in html and "next-steps" not in html and "score-breakdown" not in html
    draft = make_kim(status="draft")
    assert client.get(f"/api/v1/kims/{draft.id}/score").status_code == 404


def test_pembina_sees_who_dropped_most(client, make_user, make_kim):
    pembina = make_user(role="pembina", scope="76.02")
    kim = make_kim(name="Dulu Rajin")
    for days in range(95, 270, 30):
        report(kim, days, photo=True)
    db.session.commit()
    stored = db.session.get(KimScore, kim.id)
    assert stored.score_90_days_ago > stored.score
    login(client, pembina)
    watch = client.get("/teladan").get_data(as_text=True).split('class="watch"')[1]
    assert "Dulu Rajin" in watch
    anonymous = client.application.test_client()
    assert 'class="watch"' not in anonymous.get("/teladan").get_data(as_text=True)


def test_recompute_command_and_session_hook(runner, make_kim):
    kim = make_kim()
    report(kim, 1)
    db.session.flush()
    assert db.session.get(KimScore, kim.id) is None  # nothing committed yet
    result = runner.invoke(args=["teladan", "recompute"])
    assert result.exit_code == 0 and "1 KIM scores recomputed" in result.output
    run = db.session.scalar(select(TeladanRun).order_by(TeladanRun.id.desc()))
    assert run.kims == 1
    first = db.session.get(KimScore, kim.id).score
    report(kim, 40, type="pelatihan", photo=True)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(KimScore, kim.id).score > first
    kim.status = "inactive"
    db.session.commit()
    assert db.session.get(KimScore, kim.id) is None  # only verified KIMs keep a score


def test_examples_and_method_pages(client, make_kim):
    kim = make_kim(name="Contoh Baik")
    with_photo = report(kim, 2, type="diskusi", photo=True, reach=120)
    report(kim, 1, type="diskusi", reach=5000)  # newer and wider, but without a photo
    report(kim, 3, type="pelatihan", status="hidden", photo=True)
    db.session.commit()
    gallery = client.get("/teladan/contoh?jenis=diskusi").get_data(as_text=True)
    section = gallery.split('id="diskusi"')[1]
    assert section.index(f"/kegiatan/{with_photo.id}") < section.index("/kegiatan/", section.index(
        f"/kegiatan/{with_photo.id}") + 1)
    everything = client.get("/teladan/contoh").get_data(as_text=True)
    assert "Belum ada laporan jenis ini" in everything.split('id="pelatihan"')[1].split("</section>")[0]
    method = client.get("/teladan/cara-penilaian").get_data(as_text=True)
    assert "Keteraturan" in method and f"{scoring.WEIGHTS['regularity']}%" in method and "bukan peringkat resmi" in method
