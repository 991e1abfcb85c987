"""The date-sensitive rules on the awkward days of the calendar, with the clock frozen.

Coverage windows, the monthly series, the teladan periods and the report date rules all count
from kim_platform.core.clock; each is run at the first and last day of a month, on 1 January,
on 29 February, and at moments when Jakarta's date is not the UTC date (or Papua's is not
Jakarta's). Every expectation is derived here from the frozen "today", never from a fixed date.
"""
from datetime import date, datetime, timedelta, timezone

import pytest

from kim_platform.activities.models import Activity
from kim_platform.activities.services import ActivityError, create_activity, refresh_last_activity
from kim_platform.core import clock
from kim_platform.coverage.queries import coverage_rows, direct_coverage_rows, direct_timeseries, timeseries
from kim_platform.extensions import db
from kim_platform.teladan.scoring import PERIOD_DAYS, PERIODS, compute

UTC = timezone.utc

# (UTC moment, Jakarta date it must be, Papua date it must be)
MOMENTS = {
    "first-of-month": (datetime(2027, 3, 1, 3, 0, tzinfo=UTC), date(2027, 3, 1), date(2027, 3, 1)),
    "last-of-31-day-month": (datetime(2027, 1, 31, 3, 0, tzinfo=UTC), date(2027, 1, 31), date(2027, 1, 31)),
    "last-of-30-day-month": (datetime(2027, 4, 30, 3, 0, tzinfo=UTC), date(2027, 4, 30), date(2027, 4, 30)),
    "new-year": (datetime(2027, 1, 1, 3, 0, tzinfo=UTC), date(2027, 1, 1), date(2027, 1, 1)),
    "leap-day": (datetime(2028, 2, 29, 3, 0, tzinfo=UTC), date(2028, 2, 29), date(2028, 2, 29)),
    "day-after-leap-day": (datetime(2028, 3, 1, 3, 0, tzinfo=UTC), date(2028, 3, 1), date(2028, 3, 1)),
    # 23:30 UTC on New Year's Eve: already 06:30 on 1 January in Jakarta.
    "jakarta-ahead-of-utc": (datetime(2027, 12, 31, 23, 30, tzinfo=UTC), date(2028, 1, 1), date(2028, 1, 1)),
    # 15:30 UTC on 28 February: 22:30 in Jakarta, but already 1 March in Papua.
    "papua-ahead-of-jakarta": (datetime(2027, 2, 28, 15, 30, tzinfo=UTC), date(2027, 2, 28), date(2027, 3, 1)),
}


@pytest.fixture(params=list(MOMENTS), ids=list(MOMENTS))
def today(request, frozen_clock):
    """The clock frozen at one awkward moment; the Jakarta date of that moment."""
    moment, jakarta, papua = MOMENTS[request.param]
    frozen_clock(moment)
    assert (clock.today(), clock.latest_today()) == (jakarta, papua)
    return jakarta


def report(kim, day, status="published"):
    db.session.add(Activity(kim_id=kim.id, kim=kim, title="Kegiatan", activity_date=day, type="diskusi",
                            desa_code=kim.desa_code, status=status))
    db.session.flush()
    refresh_last_activity(kim)


def month_start(day: date) -> date:
    return day.replace(day=1)


def test_report_date_rules(today, kim_with_member):
    kim, member, _ = kim_with_member
    latest = clock.latest_today()
    for day in (latest, today, today - timedelta(days=365)):
        assert create_activity(member, kim, {"title": "Rapat", "date": day.isoformat(), "type": "diskusi"})
    with pytest.raises(ActivityError) as future:
        create_activity(member, kim, {"title": "Rapat", "date": (latest + timedelta(days=1)).isoformat(),
                                      "type": "diskusi"})
    assert "date" in future.value.fields
    old = (today - timedelta(days=366)).isoformat()
    with pytest.raises(ActivityError) as late:
        create_activity(member, kim, {"title": "Rapat", "date": old, "type": "diskusi"})
    assert "late_reason" in late.value.fields
    assert create_activity(member, kim, {"title": "Rapat", "date": old, "type": "diskusi",
                                         "late_reason": "Laporan susulan"})


def test_report_form_offers_jakarta_today(today, client, kim_with_member):
    from tests.conftest import login

    kim, member, _ = kim_with_member
    db.session.commit()
    login(client, member)
    html = client.get(f"/kim/{kim.public_ref}/lapor").get_data(as_text=True)
    assert f'value="{today.isoformat()}"' in html


def test_coverage_window_edges(today, make_kim):
    window = 90
    inside = make_kim(name="Tepat di batas")
    outside = make_kim(name="Sehari di luar", desa_code="76.02.01.1003", point=(-2.714437, 118.95994))
    report(inside, today - timedelta(days=window))
    report(outside, today - timedelta(days=window + 1))
    report(outside, clock.latest_today() + timedelta(days=1), status="draft")  # never counts
    rows = {r.code: r for r in coverage_rows("kecamatan", "76.02", window_days=window)}
    mamuju = rows["76.02.01"]
    assert (mamuju.desa_covered, mamuju.desa_active, mamuju.kim_active) == (2, 1, 1)
    assert (mamuju.activities_window, mamuju.activities_previous) == (1, 1)
    direct = {r.code: r for r in direct_coverage_rows("kecamatan", "76.02", window_days=window)}
    assert rows == direct
    tomorrow = {r.code: r for r in coverage_rows("kecamatan", "76.02", window_days=window,
                                                 today=today + timedelta(days=1))}["76.02.01"]
    assert (tomorrow.desa_active, tomorrow.activities_window) == (0, 0)


def test_monthly_series_edges(today, client, make_kim):
    kim = make_kim()
    previous_month_end = month_start(today) - timedelta(days=1)
    report(kim, today)
    report(kim, month_start(today))
    report(kim, previous_month_end)
    series = timeseries("76.02", months=3)
    assert [p.month for p in series][-1] == month_start(today)
    assert series[-2].month == month_start(previous_month_end)
    assert [p.activities for p in series][-2:] == [1, 2]
    assert series == direct_timeseries("76.02", months=3)
    body = client.get("/api/v1/coverage/timeseries?region=76.02&months=3").get_json()
    assert body["items"][-1]["month"] == today.strftime("%Y-%m")
    assert body["items"][-1]["kim_active"] == 1 and body["items"][-2]["kim_active"] == 1
    months = [item["month"] for item in body["items"]]
    assert months == sorted(set(months)) and len(months) == 3


def test_teladan_period_edges(today, make_kim):
    kim = make_kim()
    days_back = [0, PERIOD_DAYS - 1, PERIOD_DAYS, PERIODS * PERIOD_DAYS - 1]
    for back in days_back:
        report(kim, today - timedelta(days=back))
    report(kim, today - timedelta(days=PERIODS * PERIOD_DAYS))  # just outside the six periods
    if clock.latest_today() > today:
        report(kim, clock.latest_today())  # Papua's today is Jakarta's tomorrow: not yet counted
    row = compute(ids=[kim.id])[kim.id]
    assert row.last_on == today and row.recency == 100.0
    assert row.months == len({back // PERIOD_DAYS for back in days_back}) == 3
    assert row.regularity == round(100 * 3 / PERIODS, 1)
    later = compute(as_of=today + timedelta(days=PERIODS * PERIOD_DAYS - 1), ids=[kim.id])[kim.id]
    assert later.months == 1 and later.last_on == clock.latest_today()  # only the latest are still inside
