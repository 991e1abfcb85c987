"""What a web worker loads (issue 20: worker RSS): Alembic and Flask-Migrate only when used."""
import subprocess
import sys

from kim_platform.config import PROJECT_ROOT


def test_a_web_worker_does_not_import_alembic():
    """create_app() leaves Flask-Migrate and Alembic (8.5 MB of every worker) unimported."""
    probe = ("import sys; from kim_platform import create_app; create_app(); "
             "print(sorted(m for m in ('alembic', 'flask_migrate') if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
                           check=True, timeout=120)
    assert found.stdout.strip().splitlines()[-1] == "[]"


def test_flask_db_still_works(app, runner):
    """`flask db …` attaches Flask-Migrate on use: its options, commands and config are its own."""
    listed = runner.invoke(args=["db", "--help"])
    assert listed.exit_code == 0 and "upgrade" in listed.output and "--directory" in listed.output
    heads = runner.invoke(args=["db", "heads"])
    assert heads.exit_code == 0, heads.output  # (Alembic prints the heads to its own stdout)
    from flask_migrate import Migrate

    assert isinstance(app.extensions["migrate"].migrate, Migrate)
    assert app.extensions["migrate"].directory == str(PROJECT_ROOT / "migrations")
