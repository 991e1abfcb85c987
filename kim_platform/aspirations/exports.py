"""Exports for pembina and the directorate: the items the viewer may see (the queue's filters
apply) and the time-to-answer table, as CSV and XLSX.

No personal data, ever: the columns are read by name (never the whole row), so the resident's
name and contact, the description, the reporting member and any free text are not even fetched.
Items are read in keyset batches of EXPORT_BATCH by id: a CSV is streamed as it is read, an XLSX
is written row by row into a temporary file; there is no cap on the number of rows.
"""
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.orm import aliased

from kim_platform.aspirations.models import Aspiration
from kim_platform.aspirations.queries import list_query
from kim_platform.core.clock import WIB, utcnow
from kim_platform.extensions import db
from kim_platform.regions.codes import LEVEL_WIDTH
from kim_platform.regions.models import Region

EXPORT_BATCH = 500
ITEM_COLUMNS = ("id", "kind", "topic", "desa_code", "desa_name", "kabupaten_code", "kabupaten_name", "state",
                "created_at", "due_at", "answered_at", "answered_in_time", "escalation_level", "verdict", "agency")
PERFORMANCE_COLUMNS = ("code", "name", "level", "received", "answered", "median_hours", "answered_in_time",
                       "in_time_share", "overdue", "escalated", "escalated_national")


def _wib(moment: datetime | None) -> str | None:
    """A moment as ISO 8601 in WIB with its offset (spreadsheets take no time zones)."""
    return moment.astimezone(WIB).isoformat(timespec="minutes") if moment else None


def item_rows(viewer, batch: int = EXPORT_BATCH, **filters) -> Iterator[tuple]:
    """The rows of the items export, in id order, read `batch` at a time (keyset on id).

    The statement, with the viewer's visibility rule, is built now, inside the request; a
    streamed response reads the batches after the view has returned."""
    desa, kabupaten = aliased(Region), aliased(Region)
    columns = (Aspiration.id, Aspiration.kind, Aspiration.topic, Aspiration.desa_code, desa.name,
               kabupaten.code, kabupaten.name, Aspiration.state, Aspiration.created_at, Aspiration.due_at,
               Aspiration.answered_at, Aspiration.answered_in_time, Aspiration.escalation_level,
               Aspiration.verdict, Aspiration.agency)
    base = (list_query(viewer, now=utcnow(), **filters).with_only_columns(*columns)
            .outerjoin(desa, desa.code == Aspiration.desa_code)
            .outerjoin(kabupaten, kabupaten.code == func.left(Aspiration.desa_code, LEVEL_WIDTH["kabupaten"]))
            .order_by(Aspiration.id).limit(batch))
    return _batches(base, batch)


def _batches(base, batch: int) -> Iterator[tuple]:
    last = 0
    while True:
        rows = db.session.execute(base.where(Aspiration.id > last)).all()
        for row in rows:
            (ident, kind, topic, desa_code, desa_name, kab_code, kab_name, state, created, due, answered,
             in_time, level, verdict, agency) = row
            yield (ident, kind, topic, desa_code, desa_name, kab_code, kab_name, state, _wib(created), _wib(due),
                   _wib(answered), in_time, level, verdict, agency)
        if len(rows) < batch:
            return
        last = rows[-1][0]


def performance_rows(result) -> Iterator[tuple]:
    """The time-to-answer table's rows, then its total."""
    for row in [*result.rows, result.total]:
        data = row.as_dict()
        if row.code is None:
            data["name"] = "Total"
        yield tuple(data[c] for c in PERFORMANCE_COLUMNS)
