"""Loading small reference tables (taxonomies) from CSV files in seed_data/."""
import csv
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from kim_platform.extensions import db


def upsert_from_csv(model, path: Path, key: str, values: Callable[[dict], dict], order=None) -> tuple[int, int]:
    """Insert new rows and update changed ones by `key`; rows only in the database stay.

    Returns (added, updated). `order` sorts the CSV rows first (e.g. parents before children)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if order:
        rows.sort(key=order)
    existing = {getattr(item, key): item for item in db.session.scalars(select(model))}
    added = updated = 0
    for row in rows:
        new = values(row)
        current = existing.get(row[key])
        if current is None:
            db.session.add(model(**{key: row[key]}, **new))
            db.session.flush()
            added += 1
        elif any(getattr(current, field) != value for field, value in new.items()):
            for field, value in new.items():
                setattr(current, field, value)
            updated += 1
    db.session.flush()
    return added, updated
