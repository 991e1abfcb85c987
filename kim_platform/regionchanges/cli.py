"""`flask regions apply`: added to the `regions` group (regions/cli.py) by the app factory."""
from datetime import date
from pathlib import Path

import click

from kim_platform import permissions
from kim_platform.core.transaction import cli_transaction
from kim_platform.regionchanges.services import apply_decree
from kim_platform.regions.cli import DATASET, MAPPING, echo_plan


@click.command("apply")
@click.argument("path", type=DATASET)
@click.option("--mapping", "mapping", type=MAPPING, help="CSV old_code,new_code,kind (rename|move|split|merge).")
@click.option("--decree", required=True, help='The decree, e.g. "Kepmendagri 300.2.2-2138/2025".')
@click.option("--effective", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The day the new codes take effect (YYYY-MM-DD).")
def apply_command(path: Path, mapping: Path | None, decree: str, effective) -> None:
    """Apply a new official dataset in one transaction: regions, history, references, aggregates, audit."""
    effective_on: date = effective.date()
    with cli_transaction():
        result = apply_decree(permissions.SYSTEM, path, mapping, decree, effective_on)
    echo_plan(result.plan)
    remapped = ", ".join(f"{name} {rows}" for name, rows in result.remapped.items() if rows) or "nothing"
    click.echo(f"Applied {decree} (effective {effective_on}): {result.history} changes recorded, "
               f"{result.retired} codes retired, re-coded: {remapped}.")


def add_commands(group) -> None:
    group.add_command(apply_command)
