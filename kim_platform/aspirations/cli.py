"""`flask aspirations …` commands (the daily job runs them)."""
import click
from flask.cli import AppGroup

from kim_platform.core.transaction import cli_transaction

aspirations_cli = AppGroup("aspirations", help="Aspirations and hoax reports.")


@aspirations_cli.command("escalate")
def escalate_command() -> None:
    """Flag overdue items for the province's pembina, then the directorate, and mail each recipient
    one digest of them a day (after the commit); safe to run again."""
    from kim_platform.aspirations.services import escalate_overdue, send_escalation_digests
    from kim_platform.core.mail import send_mail

    outgoing: list = []
    with cli_transaction():
        done = escalate_overdue()
        sent = send_escalation_digests(send=lambda *mail: outgoing.append(mail))
    for mail in outgoing:  # only what was committed is told
        send_mail(*mail)
    click.echo(f"aspirations escalated: {done[1]} to the province, {done[2]} to the directorate; "
               f"{sent} escalation digests")


@aspirations_cli.command("purge-personal")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="days after closing (default KIM_ASPIRATION_PERSONAL_DAYS)")
def purge_personal_command(days) -> None:
    """Delete residents' names and contacts of items closed long enough ago; safe to run again."""
    from kim_platform.aspirations.services import purge_personal

    with cli_transaction():
        count = purge_personal(days=days)
    click.echo(f"aspirations: personal data deleted from {count} items")
