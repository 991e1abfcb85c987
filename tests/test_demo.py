"""The demo data generator: deterministic, marked, removable."""
from sqlalchemy import func, select, text

from kim_platform.activities.models import Activity
from kim_platform.demo import _cache as demo_flag_cache
from kim_platform.demo.generator import clear, generate
from kim_platform.extensions import db
from kim_platform.kims.models import Kim


def snapshot():
    return db.session.execute(text(
        "SELECT k.desa_code, k.status, k.number, k.bidang, ST_AsText(k.point), "
        "(SELECT count(*) FROM activity a WHERE a.kim_id = k.id) FROM kim k WHERE k.is_demo ORDER BY k.desa_code, k.id"
    )).all()


def test_generation_is_deterministic_marked_and_removable(client):
    connection = db.session.connection()
    report = generate(connection, kims=60, activities=600, seed=7, regions="sample", photos=3)
    assert (report.kims, report.activities, report.photos) == (60, 600, 3)
    first = snapshot()
    assert all(row[0][:2] in ("73", "76") for row in first)
    statuses = {row[1] for row in first}
    assert "verified" in statuses
    assert all((row[2] is not None) == (row[1] in ("verified", "inactive")) for row in first)
    assert db.session.scalar(select(func.count()).where(Activity.is_demo)) == 600
    # Heavy tail: the busiest KIM reports far more than the median one.
    counts = sorted(row[5] for row in first if row[1] in ("verified", "inactive"))
    assert counts[-1] > 5 * max(1, counts[len(counts) // 2])
    # Every report is written by a member of its own KIM.
    strangers = db.session.scalar(text(
        "SELECT count(*) FROM activity a WHERE a.is_demo AND NOT EXISTS (SELECT 1 FROM kim_membership m "
        "WHERE m.kim_id = a.kim_id AND m.user_id = a.author_id)"))
    assert strangers == 0
    # last_activity_on follows the published reports.
    mismatched = db.session.scalar(text(
        "SELECT count(*) FROM kim k WHERE k.is_demo AND k.last_activity_on IS DISTINCT FROM "
        "(SELECT max(activity_date) FROM activity a WHERE a.kim_id = k.id AND a.status = 'published')"))
    assert mismatched == 0
    demo_flag_cache["at"] = 0.0
    assert 'class="demo-banner"' in client.get("/").get_data(as_text=True)

    removed = clear(connection)
    assert removed["kims"] == 60 and removed["activities"] == 600 and removed["photos"] == 3
    assert db.session.scalar(select(func.count()).where(Kim.is_demo)) == 0
    demo_flag_cache["at"] = 0.0
    assert 'class="demo-banner"' not in client.get("/").get_data(as_text=True)
    generate(connection, kims=60, activities=600, seed=7, regions="sample", photos=0)
    second = snapshot()
    # The same rows again; only the numbers are new, because numbers are never reused.
    same = lambda rows: [(r[0], r[1], r[3], r[4], r[5]) for r in rows]  # noqa: E731
    assert same(second) == same(first)


def test_cli_refuses_a_second_set_and_clears(runner):
    assert runner.invoke(args=["demo", "generate", "--kims", "10", "--activities", "20", "--regions", "sample",
                               "--photos", "0"]).exit_code == 0
    again = runner.invoke(args=["demo", "generate", "--kims", "10", "--regions", "sample"])
    assert again.exit_code == 1 and "demo clear" in again.output
    skip = runner.invoke(args=["demo", "generate", "--if-empty", "--regions", "sample"])
    assert skip.exit_code == 0 and "nothing to do" in skip.output
    cleared = runner.invoke(args=["demo", "clear"])
    assert cleared.exit_code == 0 and "10 kims" in cleared.output


def test_printed_demo_logins_exist_and_see_their_data(runner):
    """`make run` used to print pembina.76.02.s1, a pembina of a kabupaten without demo KIMs (so
    without an account); the logins now come from the generated rows."""
    from kim_platform.accounts.services import authenticate
    from kim_platform.demo.generator import demo_logins

    result = runner.invoke(args=["demo", "generate", "--kims", "30", "--activities", "60", "--regions", "sample",
                                 "--photos", "0", "--seed", "5"])
    assert result.exit_code == 0, result.output
    logins = demo_logins(db.session.connection())
    assert [who.split()[0] for who, _, _ in logins] == ["direktorat", "pembina", "pembina", "ketua"]
    for who, email, password in logins:
        assert f"{who}: {email} / {password}" in result.output
        assert authenticate(email, password) is not None, email
    kabupaten = logins[1][0].split()[-1]
    assert logins[2][0].split()[-1] == kabupaten[:2]
    verified_there = db.session.scalar(text(
        "SELECT count(*) FROM kim WHERE is_demo AND status = 'verified' AND desa_code LIKE :p"),
        {"p": kabupaten + ".%"})
    assert verified_there > 0
    assert db.session.scalar(text("SELECT count(*) FROM kim WHERE number = :n AND desa_code LIKE :p"),
                             {"n": logins[3][0].split()[-1], "p": kabupaten + ".%"}) == 1
    # A second `make run` (--if-empty) prints the same logins.
    again = runner.invoke(args=["demo", "generate", "--if-empty", "--regions", "sample"])
    assert all(f"{email} / {password}" in again.output for _, email, password in logins)


def test_demo_join_codes_are_random_and_not_derived_from_the_id(client):
    from kim_platform.kims.services import JOIN_CODE_ALPHABET, random_join_codes

    report = generate(db.session.connection(), kims=60, activities=0, seed=7, regions="sample", photos=0)
    assert report.kims == 60
    rows = db.session.execute(select(Kim.id, Kim.join_code).where(Kim.is_demo)).all()
    codes = [code for _, code in rows]
    assert len(set(codes)) == len(codes) == 60
    # The format of real codes: 8 letters of the unambiguous alphabet (no digits 0/1, so no id inside).
    assert all(len(code) == 8 and set(code) <= set(JOIN_CODE_ALPHABET) for code in codes)
    assert not any(f"{kim_id:08d}"[-6:] in code for kim_id, code in rows)
    assert not any(code.startswith("D0") for code in codes)
    # A second set with the same seed gets other codes: nobody can recompute them from the seed.
    clear(db.session.connection())
    generate(db.session.connection(), kims=60, activities=0, seed=7, regions="sample", photos=0)
    again = set(db.session.scalars(select(Kim.join_code).where(Kim.is_demo)))
    assert not again & set(codes)
    # The bulk helper never repeats a code nor reuses one already taken.
    taken = set(random_join_codes(1000))
    fresh = random_join_codes(5000, taken=taken)
    assert len(set(fresh)) == 5000 and not set(fresh) & taken


def test_demo_places_nothing_in_retired_desa():
    """After a Kepmendagri the retired desa codes take no new KIM (and so no report)."""
    connection = db.session.connection()
    retired = connection.execute(text(
        "UPDATE region SET retired_on = DATE '2027-01-02' WHERE level = 'desa' AND code NOT LIKE '76.02.%' "
        "RETURNING code")).scalars().all()
    assert retired
    generate(connection, kims=40, activities=200, seed=3, regions="sample", photos=0)
    placed = connection.execute(text(
        "SELECT desa_code FROM kim WHERE is_demo UNION SELECT desa_code FROM activity WHERE is_demo")).scalars().all()
    assert placed and all(code.startswith("76.02.") for code in placed)
