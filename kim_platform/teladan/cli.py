"""`flask teladan …` commands."""
import click
from flask.cli import AppGroup

from kim_platform.core.transaction import cli_transaction
from kim_platform.teladan.scoring import recompute_all

teladan_cli = AppGroup("teladan", help="KIM teladan scores.")


@teladan_cli.command("recompute")
def recompute_command() -> None:
    """Recompute every verified KIM's score as of today (run daily: recency decays with time)."""
    with cli_transaction():
        written, seconds = recompute_all()
    click.echo(f"{written} KIM scores recomputed in {seconds:.1f} s")
