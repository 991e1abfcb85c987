"""Dates as Indonesia sees them, whatever the server's time zone, and the moment in UTC.

Every "now" and "today" the code takes comes from here (tests freeze it with `frozen_clock`).
Indonesia keeps no daylight saving, so fixed offsets are exact and need no tz database."""
from datetime import date, datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7), "WIB")
WIT = timezone(timedelta(hours=9), "WIT")


def utcnow() -> datetime:
    """This moment, time-zone aware in UTC: what timestamps are stored as and compared with."""
    return datetime.now(timezone.utc)


def today() -> date:
    """Today in Jakarta: the date every national figure is counted up to."""
    return datetime.now(WIB).date()


def latest_today() -> date:
    """Today in Papua, the first to reach a new date: no report dated today anywhere in the
    country is "in the future"."""
    return datetime.now(WIT).date()
