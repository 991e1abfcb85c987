"""`flask demo …` commands."""
import click
from flask.cli import AppGroup

from kim_platform.core.transaction import cli_transaction
from kim_platform.demo import _cache
from kim_platform.demo.generator import clear, demo_logins, demo_present, generate
from kim_platform.extensions import db
from kim_platform.teladan.scoring import recompute_all

demo_cli = AppGroup("demo", help="Synthetic demo data (marked as demo, removable).")


@demo_cli.command("generate")
@click.option("--kims", default=5000, show_default=True, type=click.IntRange(0, 500_000))
@click.option("--activities", default=50_000, show_default=True, type=click.IntRange(0, 20_000_000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--regions", type=click.Choice(["all", "sample"]), default="all", show_default=True)
@click.option("--photos", default=300, show_default=True, type=click.IntRange(0, 10_000),
              help="How many recent reports get a generated photo.")
@click.option("--if-empty", is_flag=True, help="Do nothing when demo data is already present.")
def generate_command(kims, activities, seed, regions, photos, if_empty):
    """Generate deterministic demo users, KIMs and activity reports on the real regions."""
    connection = db.session.connection()
    if demo_present(connection):
        if if_empty:
            click.echo("Demo data present already; nothing to do (flask demo clear removes it).")
            _echo_logins(connection)
            return
        raise click.ClickException("Demo data present already: run `flask demo clear` first.")
    try:
        with cli_transaction():  # the rows and their scores land together, or nothing does
            report = generate(connection, kims, activities, seed=seed, regions=regions, photos=photos,
                              echo=click.echo)
            scored, scoring_seconds = recompute_all()  # COPY bypasses the session hook that scores KIMs
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    _cache["at"] = 0.0
    click.echo(f"Teladan scores of {scored} verified KIMs in {scoring_seconds:.1f} s.")
    click.echo(f"Generated {report.users} users, {report.kims} KIMs, {report.activities} activities and "
               f"{report.photos} photos in {report.seconds['total']:.1f} s "
               f"(users {report.seconds['users']:.1f} s, KIMs {report.seconds['kims']:.1f} s, "
               f"activities {report.seconds['activities']:.1f} s, aggregates {report.seconds['aggregates']:.1f} s).")
    _echo_logins(db.session.connection())


def _echo_logins(connection) -> None:
    """Logins taken from the demo rows themselves, so every one printed exists."""
    logins = demo_logins(connection)
    if logins:
        click.echo("Demo logins (email / password):")
        for who, email, password in logins:
            click.echo(f"  {who}: {email} / {password}")


@demo_cli.command("clear")
def clear_command():
    """Remove every demo row and demo photo."""
    with cli_transaction() as session:
        counts = clear(session.connection())
    _cache["at"] = 0.0
    click.echo("Removed " + ", ".join(f"{n} {what}" for what, n in counts.items()))
