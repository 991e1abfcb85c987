"""`flask storage …` commands."""
import click
from flask.cli import AppGroup

from kim_platform.core.storage import sweep_orphans
from kim_platform.extensions import db

storage_cli = AppGroup("storage", help="Uploaded files.")


@storage_cli.command("sweep")
@click.option("--older-than", default=3600, show_default=True, help="seconds; younger files may be mid-transaction")
def sweep_command(older_than: int) -> None:
    """Delete uploaded files that no row refers to (left by a worker killed before its commit)."""
    removed = sweep_orphans(db.session, older_than)
    click.echo(f"{len(removed)} orphan files removed")
