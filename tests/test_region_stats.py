"""The trigger-kept counts of verified KIMs and covered desa equal a direct count, always."""
import random

from sqlalchemy import text

from kim_platform.extensions import db
from kim_platform.kims.models import Kim

DESA = ["76.02.01.1002", "76.02.01.1003", "76.04.01.1001", "73.71.01.1001", "73.71.01.1002"]
POINTS = {"76.02.01.1002": (-2.749192, 118.967345), "76.02.01.1003": (-2.714437, 118.95994),
          "76.04.01.1001": (-3.50506, 119.02194)}


def direct_counts() -> dict:
    rows = db.session.execute(text("""
        SELECT code, sum(n)::int, count(*) FILTER (WHERE n > 0)::int FROM (
            SELECT desa_code, count(*) AS n FROM kim WHERE status = 'verified' GROUP BY desa_code) d,
        LATERAL unnest(ARRAY[d.desa_code, left(d.desa_code, 2), left(d.desa_code, 5), left(d.desa_code, 8)]) code
        GROUP BY code""")).all()
    return {code: (verified, covered) for code, verified, covered in rows}


def kept_counts() -> dict:
    rows = db.session.execute(text(
        "SELECT code, kim_verified, desa_covered FROM region_kim_stats WHERE kim_verified <> 0 OR desa_covered <> 0"
    )).all()
    return {code: (verified, covered) for code, verified, covered in rows}


def test_random_histories_keep_the_counts_exact(make_kim):
    rng = random.Random(20261122)
    kims: list[Kim] = []
    for step in range(150):
        action = rng.choice(["create", "create", "status", "status", "move", "delete"])
        if action == "create" or not kims:
            desa = rng.choice(DESA)
            point = POINTS.get(desa, (-5.13, 119.42))
            kims.append(make_kim(name=f"KIM Acak {step}", desa_code=desa, point=point,
                                 status=rng.choice(["draft", "submitted", "verified", "rejected"])))
        elif action == "status":
            kim = rng.choice(kims)
            kim.status = rng.choice(["draft", "submitted", "verified", "rejected", "inactive"])
        elif action == "move":
            kim = rng.choice(kims)
            kim.desa_code = rng.choice(DESA)
        else:
            kim = kims.pop(rng.randrange(len(kims)))
            db.session.delete(kim)
        db.session.flush()
        if step % 10 == 0:
            assert kept_counts() == direct_counts(), f"after step {step}"
    assert kept_counts() == direct_counts()
    # The same totals after a full rebuild (what bulk loads use).
    before = kept_counts()
    db.session.execute(text("SELECT kim_stats_rebuild()"))
    assert kept_counts() == before


def test_a_desa_with_two_kims_is_covered_once(make_kim):
    first = make_kim(name="Satu")
    make_kim(name="Dua")
    counts = kept_counts()
    assert counts["76.02.01.1002"] == (2, 1) and counts["76.02"] == (2, 1) and counts["76"] == (2, 1)
    first.status = "inactive"
    db.session.flush()
    assert kept_counts()["76.02"] == (1, 1)
