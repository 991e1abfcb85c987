"""`flask coverage …` commands."""
import time

import click
from flask.cli import AppGroup

from kim_platform.coverage import aggregates
from kim_platform.extensions import db

coverage_cli = AppGroup("coverage", help="Coverage figures.")


@coverage_cli.command("rebuild")
def rebuild_command() -> None:
    """Recompute every coverage aggregate from the raw KIM and report tables."""
    started = time.perf_counter()
    aggregates.rebuild(db.session.connection())
    db.session.commit()
    click.echo(f"coverage aggregates rebuilt in {time.perf_counter() - started:.1f} s")


@coverage_cli.command("compact")
def compact_command() -> None:
    """Fold pending changes into the running totals (writers do it every 200 report changes)."""
    started = time.perf_counter()
    folded = aggregates.compact(db.session.connection())
    db.session.commit()
    click.echo(f"{folded} pending (region, day) changes folded in {time.perf_counter() - started:.2f} s")
