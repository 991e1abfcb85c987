"""`flask maps …` commands."""
import time

import click
from flask.cli import AppGroup

from kim_platform.core.transaction import cli_transaction
from kim_platform.maps.prepare import prepare_region_geoms

maps_cli = AppGroup("maps", help="Map layers.")


@maps_cli.command("prepare")
def prepare_command() -> None:
    """Reproject and simplify region outlines for the tiles (after `flask regions load`)."""
    started = time.perf_counter()
    with cli_transaction() as session:
        changed = prepare_region_geoms(session.connection())
    click.echo(f"region outlines for tiles: {changed} written in {time.perf_counter() - started:.1f} s")
