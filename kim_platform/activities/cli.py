"""`flask activities …` commands."""
from pathlib import Path

import click
from flask.cli import AppGroup

from kim_platform.activities.models import ActivityType
from kim_platform.config import PROJECT_ROOT
from kim_platform.core.seed import upsert_from_csv
from kim_platform.core.transaction import cli_transaction

activities_cli = AppGroup("activities", help="Activity reports.")
DEFAULT_FILE = PROJECT_ROOT / "seed_data" / "activity_types.csv"


def load_activity_types(path: Path = DEFAULT_FILE) -> tuple[int, int]:
    """Insert new and update changed activity types from the CSV (idempotent)."""
    return upsert_from_csv(
        ActivityType, path, "slug",
        lambda row: {"adinda": row["adinda"] or None, "name_id": row["name_id"], "name_en": row["name_en"],
                     "sort": int(row["sort"])},
    )


@activities_cli.command("load-types")
@click.option("--path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=DEFAULT_FILE)
def load_types_command(path: Path) -> None:
    """Load or update the activity types from seed_data/activity_types.csv; safe to run again."""
    with cli_transaction():
        added, updated = load_activity_types(path)
    click.echo(f"activity types: {added} added, {updated} updated")
