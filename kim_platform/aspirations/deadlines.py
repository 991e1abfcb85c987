"""Deadlines in Indonesian working days.

A working day is a weekday that is neither a national holiday (the `holidays` package's
`Indonesia` calendar, Islamic dates included) nor a cuti bersama day. Cuti bersama come from the
same package's "government" category (the joint leave days of the SKB 3 Menteri) unless
KIM_CUTI_BERSAMA (comma-separated ISO dates) is set, which then replaces that list.

Days are counted in Asia/Jakarta (WIB, UTC+7): the national calendar is decreed for the whole
country, and one zone keeps a deadline the same for the KIM in Papua and the pembina in Jakarta.
A step taken on day D is due at the end of the N-th working day after D (not counting D
itself): stored as the next midnight WIB, in UTC.
"""
import functools
from datetime import date, datetime, time, timedelta

import holidays
from flask import current_app, has_app_context

from kim_platform.core.clock import WIB

TRIAGE_DAYS = 3
ANSWER_DAYS = 5  # information requests, complaints, aspirations
HOAX_ANSWER_DAYS = 3
FORWARDED_DAYS = 14
ESCALATION_DAYS = 3  # overdue this many working days more: the directorate


@functools.lru_cache(maxsize=64)
def _national(year: int) -> frozenset[date]:
    return frozenset(holidays.Indonesia(years=year))


@functools.lru_cache(maxsize=64)
def _package_cuti_bersama(year: int) -> frozenset[date]:
    return frozenset(holidays.Indonesia(years=year, categories=("government",)))


def parse_dates(text: str) -> frozenset[date]:
    """`2026-12-24, 2026-12-31` into dates; a bad entry is a configuration error (ValueError)."""
    return frozenset(date.fromisoformat(part.strip()) for part in (text or "").split(",") if part.strip())


def _configured_cuti() -> frozenset[date] | None:
    if not has_app_context():
        return None
    return current_app.config.get("CUTI_BERSAMA")


def is_working_day(day: date) -> bool:
    if day.weekday() >= 5 or day in _national(day.year):
        return False
    configured = _configured_cuti()
    cuti = configured if configured is not None else _package_cuti_bersama(day.year)
    return day not in cuti


def add_working_days(start: date, days: int) -> date:
    """The N-th working day after `start` (start itself not counted)."""
    day, left = start, days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


def due_after(moment: datetime, days: int) -> datetime:
    """The end (next midnight WIB) of the N-th working day after the WIB day of `moment`, in UTC."""
    last = add_working_days(moment.astimezone(WIB).date(), days)
    return datetime.combine(last + timedelta(days=1), time(0), WIB).astimezone(moment.tzinfo or WIB)


def extend(due_at: datetime, days: int) -> datetime:
    """A deadline N working days after an earlier one: counted from the last day of `due_at`
    (it is stored as the next midnight), so no working day is lost in between."""
    return due_after(due_at - timedelta(seconds=1), days).astimezone(due_at.tzinfo)


def answer_days(kind: str) -> int:
    return HOAX_ANSWER_DAYS if kind == "hoaks" else ANSWER_DAYS
