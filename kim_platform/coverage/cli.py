"""`flask coverage …` commands."""
import time

import click
from flask.cli import AppGroup

from kim_platform.core.transaction import cli_transaction
from kim_platform.coverage import aggregates

coverage_cli = AppGroup("coverage", help="Coverage figures.")


@coverage_cli.command("rebuild")
def rebuild_command() -> None:
    """Recompute every coverage aggregate from the raw KIM and report tables."""
    started = time.perf_counter()
    with cli_transaction() as session:
        aggregates.rebuild(session.connection())
    click.echo(f"coverage aggregates rebuilt in {time.perf_counter() - started:.1f} s")


@coverage_cli.command("compact")
def compact_command() -> None:
    """Fold pending changes into the running totals (writers do it every 200 report changes)."""
    started = time.perf_counter()
    with cli_transaction() as session:
        folded = aggregates.compact(session.connection())
    click.echo(f"{folded} pending (region, day) changes folded in {time.perf_counter() - started:.2f} s")
