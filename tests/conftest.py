"""Fixtures: the real PostGIS test database, one rolled-back transaction per test."""
import contextvars
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade

from kim_platform import create_app
from kim_platform.config import PROJECT_ROOT
from kim_platform.extensions import db
from kim_platform.regions.loader import load_regions

SAMPLE_DIR = PROJECT_ROOT / "seed_data" / "wilayah" / "sample"
FULL_DIR = PROJECT_ROOT / "seed_data" / "wilayah"


def _compile_translations() -> None:
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "compile", "-d", str(PROJECT_ROOT / "kim_platform" / "translations")],
                   check=True, capture_output=True)


class IsolatedClient(FlaskClient):
    """Runs every request in its own app context, as a server does.

    Without this, requests made while a test holds an app context share its `g`
    (cached locale, logged-in user), which production never does.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app():
    """The app on the test database, migrated to head with the two-province sample loaded."""
    _compile_translations()
    app = create_app({"TESTING": True})
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
        load_regions(db.session.connection(), SAMPLE_DIR)
        db.session.commit()
        db.session.remove()
    return app


@pytest.fixture(autouse=True)
def transaction(app):
    """Everything a test writes, through the app or directly, is rolled back afterwards.

    The session joins an outer transaction with savepoints, so code that commits (services,
    CLI commands) behaves as in production while the test still leaves nothing behind.
    """
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        session = db._make_scoped_session({"bind": connection, "join_transaction_mode": "create_savepoint"})
        original = db.session
        db.session = session
        try:
            yield connection
        finally:
            session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
