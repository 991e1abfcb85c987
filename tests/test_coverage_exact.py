"""The trigger-kept coverage figures equal a direct count over the raw tables after random
sequences of registrations, verifications, rejections, moves, reports (new, hidden, redated,
deleted) and the window moving with time; and again after a rebuild."""
import random
from datetime import timedelta

import pytest
from sqlalchemy import text

from kim_platform.activities.models import Activity
from kim_platform.activities.services import refresh_last_activity
from kim_platform.core import clock
from kim_platform.core.clock import utcnow
from kim_platform.coverage import aggregates, queries
from kim_platform.extensions import db
from kim_platform.kims.models import Kim

TODAY = clock.today()
VIEWS = [("provinsi", None), ("kabupaten", "76"), ("kabupaten", "73"), ("kecamatan", "76.02"), ("desa", "76.02.01")]
SERIES = [None, "76", "76.02", "76.02.01", "73"]


def _desa_pool():
    rows = db.session.execute(text("""
        (SELECT code FROM region WHERE level = 'desa' AND code LIKE '76.02.01.%' ORDER BY code LIMIT 3)
        UNION ALL (SELECT code FROM region WHERE level = 'desa' AND code LIKE '76.02.02.%' ORDER BY code LIMIT 2)
        UNION ALL (SELECT code FROM region WHERE level = 'desa' AND code LIKE '73.71.%' ORDER BY code LIMIT 2)
    """)).scalars().all()
    assert len(rows) == 7
    return rows


def _assert_exact(days_later=(0, 45, 91, 200)):
    for later in days_later:
        today = TODAY + timedelta(days=later)
        for level, parent in VIEWS:
            kept = [r.as_dict() for r in queries.coverage_rows(level, parent, today=today)]
            direct = [r.as_dict() for r in queries.direct_coverage_rows(level, parent, today=today)]
            assert kept == direct, (level, parent, today)
        for window in (7, 30):
            assert ([r.as_dict() for r in queries.coverage_rows("kabupaten", "76", window, today)]
                    == [r.as_dict() for r in queries.direct_coverage_rows("kabupaten", "76", window, today)])
    for region in SERIES:
        assert queries.timeseries(region, 15) == queries.direct_timeseries(region, 15), region


class World:
    def __init__(self, rng):
        self.rng = rng
        self.desa = _desa_pool()
        self.kims: list[Kim] = []
        self.reports: list[Activity] = []
        self.registered = 0

    def register(self):
        desa = self.rng.choice(self.desa)
        self.registered += 1
        n = self.registered
        kim = Kim(name=f"KIM Acak {n}", slug=f"kim-acak-{n}",
                  desa_code=desa, point="SRID=4326;POINT(118.9 -2.7)", bidang=["literasi"],
                  status=self.rng.choice(["draft", "submitted", "verified"]), join_code=f"J{n:07d}",
                  socials={})
        if kim.status == "verified":
            kim.verified_at = utcnow() - timedelta(days=self.rng.randint(0, 400))
        db.session.add(kim)
        db.session.flush()
        self.kims.append(kim)

    def change_status(self):
        if self.kims:
            kim = self.rng.choice(self.kims)
            kim.status = self.rng.choice(["submitted", "verified", "rejected", "inactive"])
            if kim.status == "verified":
                kim.verified_at = utcnow() - timedelta(days=self.rng.randint(0, 400))
            db.session.flush()

    def move(self):
        if self.kims:
            self.rng.choice(self.kims).desa_code = self.rng.choice(self.desa)
            db.session.flush()

    def report(self):
        if self.kims:
            kim = self.rng.choice(self.kims)
            activity = Activity(kim_id=kim.id, title="Kegiatan", type="diskusi",
                                activity_date=TODAY - timedelta(days=self.rng.randint(0, 420)),
                                desa_code=self.rng.choice([kim.desa_code, *self.desa]),
                                status=self.rng.choice(["published"] * 4 + ["draft"]))
            db.session.add(activity)
            db.session.flush()
            refresh_last_activity(kim)
            db.session.flush()
            self.reports.append(activity)

    def edit_report(self):
        if self.reports:
            activity = self.rng.choice(self.reports)
            choice = self.rng.random()
            if choice < 0.4:
                activity.status = "hidden" if activity.status == "published" else "published"
            elif choice < 0.7:
                activity.activity_date = TODAY - timedelta(days=self.rng.randint(0, 420))
            elif choice < 0.85:
                activity.desa_code = self.rng.choice(self.desa)
            else:
                self.reports.remove(activity)
                db.session.delete(activity)
            db.session.flush()
            refresh_last_activity(db.session.get(Kim, activity.kim_id))
            db.session.flush()

    def delete_kim(self):
        drafts = [k for k in self.kims if k.status in ("draft", "verified")]
        if drafts:
            kim = self.rng.choice(drafts)
            self.kims.remove(kim)
            self.reports = [r for r in self.reports if r.kim_id != kim.id]
            db.session.delete(kim)
            db.session.flush()
            db.session.expire_all()

    def compact(self):
        aggregates.compact(db.session.connection())


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_keep_every_figure_exact(seed):
    rng = random.Random(seed)
    world = World(rng)
    actions = [world.register] * 3 + [world.change_status] * 3 + [world.move, world.delete_kim, world.compact] \
        + [world.report] * 8 + [world.edit_report] * 4
    for _ in range(5):
        world.register()
    for step in range(120):
        rng.choice(actions)()
        if step % 40 == 39:
            _assert_exact()
    _assert_exact()
    aggregates.rebuild(db.session.connection())
    _assert_exact(days_later=(0, 91))


def test_compaction_folds_the_log_and_changes_no_figure(make_kim):
    kim = make_kim()
    for days in (3, 40, 100):
        db.session.add(Activity(kim_id=kim.id, title="Kegiatan", type="diskusi", desa_code=kim.desa_code,
                                activity_date=TODAY - timedelta(days=days), status="published"))
    db.session.flush()
    refresh_last_activity(kim)
    db.session.flush()
    before = [r.as_dict() for r in queries.coverage_rows("kabupaten", "76")]
    pending = db.session.scalar(text("SELECT count(*) FROM coverage_delta"))
    assert pending > 0
    assert aggregates.compact(db.session.connection()) > 0
    assert db.session.scalar(text("SELECT count(*) FROM coverage_delta")) == 0
    after = [r.as_dict() for r in queries.coverage_rows("kabupaten", "76")]
    assert before == after
    mamuju = next(r for r in after if r["code"] == "76.02")
    assert (mamuju["activities_window"], mamuju["activities_previous"], mamuju["kim_active"]) == (2, 1, 1)
