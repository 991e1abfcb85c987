"""`flask maps …` commands."""
import time

import click
from flask.cli import AppGroup

from kim_platform.extensions import db
from kim_platform.maps.prepare import prepare_region_geoms

maps_cli = AppGroup("maps", help="Map layers.")


@maps_cli.command("prepare")
def prepare_command() -> None:
    """Reproject and simplify region outlines for the tiles (after `flask regions load`)."""
    started = time.perf_counter()
    changed = prepare_region_geoms(db.session.connection())
    db.session.commit()
    click.echo(f"region outlines for tiles: {changed} written in {time.perf_counter() - started:.1f} s")
