"""`flask bidang …` commands."""
import csv
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from kim_platform.config import PROJECT_ROOT
from kim_platform.extensions import db
from kim_platform.kims.models import Bidang

bidang_cli = AppGroup("bidang", help="The taxonomy of KIM fields (bidang).")
DEFAULT_FILE = PROJECT_ROOT / "seed_data" / "bidang.csv"


def load_bidang(path: Path = DEFAULT_FILE) -> tuple[int, int]:
    """Insert new and update changed rows from the CSV; rows added by the directorate stay."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    existing = {b.slug: b for b in db.session.scalars(select(Bidang))}
    added = updated = 0
    for row in sorted(rows, key=lambda r: bool(r["parent_slug"])):  # parents first
        values = {"parent_slug": row["parent_slug"] or None, "name_id": row["name_id"], "name_en": row["name_en"],
                  "sort": int(row["sort"])}
        current = existing.get(row["slug"])
        if current is None:
            db.session.add(Bidang(slug=row["slug"], **values))
            db.session.flush()
            added += 1
        elif any(getattr(current, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(current, key, value)
            updated += 1
    db.session.flush()
    return added, updated


@bidang_cli.command("load")
@click.option("--path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=DEFAULT_FILE)
def load_command(path: Path) -> None:
    """Load or update the bidang taxonomy from seed_data/bidang.csv; safe to run again."""
    added, updated = load_bidang(path)
    db.session.commit()
    click.echo(f"bidang: {added} added, {updated} updated")
