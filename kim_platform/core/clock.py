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


WITA = timezone(timedelta(hours=8), "WITA")
# Provinces (the first segment of a region code) by their time zone; every other province keeps WIB.
_WITA_PROVINCES = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
_WIT_PROVINCES = {"81", "82", "91", "92", "93", "94", "95", "96", "97"}


def zone_of(code: str | None) -> timezone:
    """The time zone of a region (by its province's code): WITA for Bali, Nusa Tenggara, South,
    East and North Kalimantan and Sulawesi; WIT for Maluku and Papua; WIB elsewhere."""
    province = (code or "")[:2]
    return WIT if province in _WIT_PROVINCES else WITA if province in _WITA_PROVINCES else WIB


def local_today(code: str | None) -> date:
    """Today where the region lies (a KIM's own date, e.g. for a report it writes today)."""
    return datetime.now(zone_of(code)).date()
