"""Fixtures: the real PostGIS test database, one rolled-back transaction per test."""
import contextvars
import functools
import email
import email.policy
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from kim_platform import create_app
from kim_platform.accounts.models import RoleGrant, User
from kim_platform.accounts.passwords import hash_password
from kim_platform.accounts.services import create_api_token, utcnow
from kim_platform.core.auth import limiter
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
        # Rows left by an interrupted run would make counts wrong; only regions are kept.
        others = [t.name for t in db.metadata.sorted_tables if t.name != "region"]
        db.session.execute(text(f"TRUNCATE {', '.join(others)} RESTART IDENTITY CASCADE"))
        load_regions(db.session.connection(), SAMPLE_DIR)
        db.session.commit()
        db.session.remove()
    return app


@pytest.fixture(autouse=True)
def transaction(app):
    """Everything a test writes, through the app or directly, is rolled back afterwards.

    Flask-SQLAlchemy picks the engine per mapper and ignores a session-level bind, so the
    app's default "engine" is swapped for one connection holding an open transaction; the
    sessions join it with savepoints, so code that commits (services, CLI commands) behaves
    as in production while the test still leaves nothing behind.
    """
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        session = db._make_scoped_session({"join_transaction_mode": "create_savepoint"})
        original = db.session
        db.session = session
        try:
            yield connection
        finally:
            session.remove()
            db.session = original
            engines[None] = engine
            outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def fresh_rate_limits(app):
    """Rate-limit counters live in memory across tests; each test starts from zero."""
    limiter.reset()


@pytest.fixture(autouse=True)
def outbox(app, tmp_path):
    """Mail goes to a per-test folder; the fixture reads it back."""
    folder = tmp_path / "mail"
    previous = app.config["MAIL_OUTBOX"]
    app.config["MAIL_OUTBOX"] = str(folder)
    yield Outbox(folder)
    app.config["MAIL_OUTBOX"] = previous


class Outbox:
    def __init__(self, folder: Path):
        self.folder = folder

    def messages(self) -> list:
        if not self.folder.exists():
            return []
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in sorted(self.folder.glob("*.eml"))]

    def last_link(self, to: str, path_fragment: str) -> str:
        """The last link containing `path_fragment` mailed to `to`, as a local path."""
        for message in reversed(self.messages()):
            if message["To"] == to:
                for match in re.findall(r"https?://[^\s]+", message.get_content()):
                    if path_fragment in match:
                        return "/" + match.split("/", 3)[3]
        raise AssertionError(f"no mail to {to} with a link to {path_fragment}")


@pytest.fixture
def client(app):
    return app.test_client()


PASSWORD = "kopi-tubruk-di-mamuju"


@functools.lru_cache(maxsize=8)
def _hash_once(password: str) -> str:
    """argon2id is deliberately slow; test users share one hash per password."""
    return hash_password(password)


@pytest.fixture
def make_user():
    """Factory: a verified, active user, optionally with a role."""
    counter = iter(range(1, 10_000))

    def make(name=None, email=None, password=PASSWORD, role=None, scope=None, verified=True, active=True):
        n = next(counter)
        user = User(
            name=name or f"Pengguna {n}",
            email=(email or f"user{n}@example.id").lower(),
            password_hash=_hash_once(password),
            email_verified_at=utcnow() if verified else None,
            is_active=active,
        )
        db.session.add(user)
        db.session.flush()
        if role:
            db.session.add(RoleGrant(user_id=user.id, role=role, scope_code=scope))
            db.session.flush()
            db.session.refresh(user)
        return user

    return make


def csrf_token(client, path=None) -> str:
    """A valid CSRF token for this client's session (any form page gives the same secret)."""
    html = client.get("/lupa-sandi").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def login(client, user, password=PASSWORD):
    response = client.post("/masuk", data={"email": user.email, "password": password,
                                           "csrf_token": csrf_token(client, "/masuk")})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def bearer(user) -> dict:
    _, secret = create_api_token(user, "test")
    db.session.flush()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
