"""`flask regions …` commands."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from kim_platform.core.transaction import cli_transaction
from kim_platform.regions.loader import RegionDataError, load_regions

regions_cli = AppGroup("regions", help="Manage the official region data (wilayah).")


@regions_cli.command("load")
@click.option("--sample", is_flag=True, help="Load the two-province sample (Sulawesi Selatan and Barat).")
@click.option(
    "--path",
    "path",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory with provinces/regencies/districts/villages .csv (and .geojson).",
)
def load_command(sample: bool, path: Path | None) -> None:
    """Load or update regions from CSV and GeoJSON; safe to run again."""
    data_dir = path or Path(current_app.config["REGIONS_DATA_DIR"])
    if sample and not path:
        data_dir = data_dir / "sample"
    click.echo(f"Loading regions from {data_dir}")
    try:
        with cli_transaction() as session:
            report = load_regions(session.connection(), data_dir, echo=click.echo)
    except RegionDataError as error:  # rolled back: the data is kept as it was
        raise click.ClickException(str(error)) from None
    total = sum(level.rows for level in report.levels)
    click.echo(
        f"Done in {report.seconds:.1f} s: {total} regions, {report.changed} changed"
        + (f", {report.kept_not_in_data} kept that the data no longer lists" if report.kept_not_in_data else "")
    )
