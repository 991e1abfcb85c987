"""`flask campaigns …` commands (cron runs them daily)."""
import click
from flask.cli import AppGroup

from kim_platform.core.transaction import cli_transaction

campaigns_cli = AppGroup("campaigns", help="Dissemination campaigns.")


@campaigns_cli.command("send-digests")
def send_digests_command() -> None:
    """Send each person one mail with the day's campaigns for their KIMs; safe to run again."""
    from kim_platform.campaigns.services import send_digests
    from kim_platform.core.mail import send_mail

    outgoing = []
    with cli_transaction():
        sent = send_digests(send=lambda *mail: outgoing.append(mail))
    for mail in outgoing:  # only what was committed is told
        send_mail(*mail)
    click.echo(f"campaign digests: {sent} sent")


@campaigns_cli.command("close-ended")
def close_ended_command() -> None:
    """Store `closed` on published campaigns past their end date; safe to run again."""
    from kim_platform.campaigns.services import close_ended_campaigns

    with cli_transaction():
        closed = close_ended_campaigns()
    click.echo(f"campaigns closed: {closed}")


@campaigns_cli.command("sweep-visits")
def sweep_visits_command() -> None:
    """Delete the share links' visitor hashes of past days (the counters stay); safe to run again."""
    from kim_platform.campaigns.services import sweep_share_visits

    with cli_transaction():
        swept = sweep_share_visits()
    click.echo(f"share-link visitor hashes deleted: {swept}")
