"""One pagination helper for HTML pages and the API alike, and the one parser of whole-number
query parameters for pages.

Pages clamp a numeric parameter into its range (`?page=99999999999999999999` is the last
allowed page, `-3` and `abc` are page 1); the API refuses the same values with 400 naming the
field (marshmallow `Range` in `kim_platform.api.schemas`), using the same bounds.
"""
import math
from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import Select, func, select

from kim_platform.extensions import db

MAX_PER_PAGE = 200
# Far beyond any list here, and (page - 1) * MAX_PER_PAGE stays well inside a bigint OFFSET.
MAX_PAGE = 1_000_000
# Longer digit strings are "huge" without ever being turned into an int.
_MAX_DIGITS = 18


def clamp_int(raw: str | None, default: int, low: int, high: int) -> int:
    """A whole number from query text, clamped into [low, high]; `default` when it is not one.

    Only ASCII digits with an optional sign count (not "1e3", "٣" or "1_000"); a number too
    long to matter is the nearest bound without being converted.
    """
    text = (raw or "").strip()
    negative = text.startswith("-")
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not digits or not (digits.isascii() and digits.isdigit()):
        return default
    if len(digits) > _MAX_DIGITS:
        return low if negative else high
    value = -int(digits) if negative else int(digits)
    return max(low, min(value, high))


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """The query parameter `name` of this request as a clamped whole number (pages only)."""
    return clamp_int(request.args.get(name), default, low, high)


def page_arg(name: str = "page") -> int:
    """?page= of a page: 1 to MAX_PAGE whatever was typed."""
    return int_arg(name, 1, 1, MAX_PAGE)


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(stmt: Select, page: int, per_page: int, scalars: bool = True) -> Page:
    """Run `stmt` for one page plus a count of all rows; `stmt` must carry its ORDER BY."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    paged = stmt.limit(per_page).offset((page - 1) * per_page)
    result = db.session.execute(paged)
    items = list(result.scalars() if scalars else result)
    return Page(items=items, page=page, per_page=per_page, total=total or 0)


def paginate_counted_over(stmt: Select, page: int, per_page: int) -> Page:
    """`paginate` in one statement where the query reads every match anyway (a ranked search sorts
    them all): the total comes with the page as `count(*) OVER ()`. Only a page past the end, which
    has no row to carry it, counts on its own."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    rows = db.session.execute(stmt.add_columns(func.count().over()).limit(per_page)
                              .offset((page - 1) * per_page)).all()
    if rows:
        return Page(items=[row[0] for row in rows], page=page, per_page=per_page, total=rows[0][-1])
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return Page(items=[], page=page, per_page=per_page, total=total or 0)
