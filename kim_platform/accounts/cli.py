"""`flask users …` commands."""
import sys

import click
from flask.cli import AppGroup

from kim_platform import permissions
from kim_platform.accounts import services
from kim_platform.core.transaction import cli_transaction

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--name", help="Display name (default: the part of the email before @).")
def create_admin_command(email: str, name: str | None) -> None:
    """Create the first directorate account, or give an existing account the directorate role.

    The password is prompted for, or read from standard input when it is not a terminal."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    with cli_transaction():  # an AccountError ends the command with its message
        # Bootstrap: nobody is logged in on the command line, so the system actor appoints.
        user, created = services.create_admin(permissions.SYSTEM, email, password, name)
    verb = "Created" if created else "Granted the direktorat role to existing account"
    click.echo(f"{verb} {user.email} (id {user.id}).")
