"""`flask bidang …` commands."""
from pathlib import Path

import click
from flask.cli import AppGroup

from kim_platform.config import PROJECT_ROOT
from kim_platform.core.seed import upsert_from_csv
from kim_platform.core.transaction import cli_transaction
from kim_platform.kims.models import Bidang

bidang_cli = AppGroup("bidang", help="The taxonomy of KIM fields (bidang).")
DEFAULT_FILE = PROJECT_ROOT / "seed_data" / "bidang.csv"


def load_bidang(path: Path = DEFAULT_FILE) -> tuple[int, int]:
    """Insert new and update changed bidang from the CSV; rows added by the directorate stay."""
    return upsert_from_csv(
        Bidang, path, "slug",
        lambda row: {"parent_slug": row["parent_slug"] or None, "name_id": row["name_id"],
                     "name_en": row["name_en"], "sort": int(row["sort"])},
        order=lambda row: bool(row["parent_slug"]),  # parents first
    )


@bidang_cli.command("load")
@click.option("--path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=DEFAULT_FILE)
def load_command(path: Path) -> None:
    """Load or update the bidang taxonomy from seed_data/bidang.csv; safe to run again."""
    with cli_transaction():
        added, updated = load_bidang(path)
    click.echo(f"bidang: {added} added, {updated} updated")
