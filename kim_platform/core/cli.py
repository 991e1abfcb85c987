"""`flask storage …` and `flask static …` commands."""
import click
from flask import current_app
from flask.cli import AppGroup

from kim_platform.core.assets import export_static
from kim_platform.core.storage import sweep_orphans
from kim_platform.extensions import db

storage_cli = AppGroup("storage", help="Uploaded files.")


@storage_cli.command("sweep")
@click.option("--older-than", default=3600, show_default=True, help="seconds; younger files may be mid-transaction")
def sweep_command(older_than: int) -> None:
    """Delete uploaded files that no row refers to (left by a worker killed before its commit)."""
    removed = sweep_orphans(db.session, older_than)
    click.echo(f"{len(removed)} orphan files removed")


static_cli = AppGroup("static", help="Static files.")


@static_cli.command("export")
@click.argument("target", type=click.Path(file_okay=False))
def export_command(target: str) -> None:
    """Write static/ under its hashed names (with .gz copies) for nginx to serve itself."""
    written = export_static(current_app.extensions["static_manifest"], target,
                            current_app.config["COMPRESS_MIMETYPES"], current_app.config["COMPRESS_MIN_SIZE"])
    click.echo(f"{written} static files written to {target}")
