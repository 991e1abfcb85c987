"""`flask regions …` commands."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from kim_platform.core.transaction import cli_read_only, cli_transaction
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


DATASET = click.Path(file_okay=False, exists=True, path_type=Path)
MAPPING = click.Path(dir_okay=False, exists=True, path_type=Path)


def echo_plan(plan, echo=click.echo) -> None:
    """The plan as `flask regions diff` prints it (and `apply` before it writes)."""
    from kim_platform.regions.references import references

    def touched(code):
        counts = plan.counts.get(code, {})
        parts = [f"{ref.name} {counts[ref.name]}" for ref in references() if counts.get(ref.name)]
        return f"  [touches {', '.join(parts)}]" if parts else ""

    sections = (
        ("New codes", [c for c in plan.of_kind("new")], lambda c: f"{c.new_code}  {c.new_name}"),
        ("Removed codes", plan.of_kind("remove"), lambda c: f"{c.old_code}  {c.old_name}{touched(c.old_code)}"),
        ("Renamed", [c for c in plan.of_kind("rename") if c.old_code == c.new_code],
         lambda c: f"{c.old_code}  {c.old_name} -> {c.new_name}{touched(c.old_code)}"),
    )
    for title, changes, line in sections:
        echo(f"{title}: {len(changes)}")
        for change in changes:
            echo(f"  {line(change)}")
    for kind in ("rename", "move", "merge", "split"):
        rows = [c for c in plan.of_kind(kind, derived=False) if c.old_code != c.new_code]
        title = {"rename": "Re-coded (rename)", "move": "Moves", "merge": "Merges", "split": "Splits"}[kind]
        echo(f"{title}: {len(rows)}")
        for change in rows:
            subtree = sum(1 for c in plan.changes if c.derived and c.root == change.old_code and c.new_code)
            below = f" (+{subtree} below)" if subtree else ""
            echo(f"  {change.old_code} {change.old_name} -> {change.new_code} {change.new_name}{below}"
                 f"{touched(change.old_code)}")
    echo(f"Waiting to be placed by hand: {len(plan.waiting)}")
    for code, candidates in sorted(plan.waiting.items()):
        echo(f"  {code} -> one of {', '.join(candidates) if candidates else '(no successor)'}")


@regions_cli.command("diff")
@click.argument("path", type=DATASET)
@click.option("--mapping", "mapping", type=MAPPING, help="CSV old_code,new_code,kind (rename|move|split|merge).")
def diff_command(path: Path, mapping: Path | None) -> None:
    """Compare a new official dataset with the loaded regions; writes nothing."""
    from kim_platform.regions.changes import RegionChangeError, plan_changes

    try:
        with cli_read_only() as session:  # a diff leaves the database as it found it
            plan = plan_changes(session.connection(), path, mapping)
    except RegionChangeError as error:
        raise click.ClickException(str(error)) from None
    echo_plan(plan)
