"""Fixtures: the real PostGIS test database, one rolled-back transaction per test."""
import contextlib
import contextvars
import email
import email.policy
import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

from kim_platform import create_app
from kim_platform.accounts.models import RoleGrant, User
from kim_platform.accounts.passwords import hash_password
from kim_platform.accounts.services import create_api_token
from kim_platform.activities.cli import load_activity_types
from kim_platform.config import PROJECT_ROOT, database_url_for_tests
from kim_platform.core.auth import limiter
from kim_platform.core.clock import utcnow
from kim_platform.extensions import db
from kim_platform.kims.cli import load_bidang
from kim_platform.maps.prepare import prepare_region_geoms
from kim_platform.regions.loader import load_regions

SAMPLE_DIR = PROJECT_ROOT / "seed_data" / "wilayah" / "sample"
FULL_DIR = PROJECT_ROOT / "seed_data" / "wilayah"


def _compile_translations() -> None:
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "compile", "-d", str(PROJECT_ROOT / "kim_platform" / "translations")],
                   check=True, capture_output=True)


def pytest_configure(config):
    """Compile the catalogue once, before any test; under pytest-xdist (`-n 2`) each worker gets
    its own database, TEST_DATABASE_URL's name (else the derived one) + `_gw0`, `_gw1`, ...

    The catalogue is compiled by the controlling process before the workers start (they only read
    it: a worker compiling while another loads it could read a half-written file). A worker points
    TEST_DATABASE_URL at its own database, creating it when missing; `app` then migrates and loads
    it exactly as the single-process run does with its one database.
    """
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is None:
        _compile_translations()
        return
    url = make_url(database_url_for_tests())
    url = url.set(database=f"{url.database}_{worker}")
    _ensure_database(url)
    os.environ["TEST_DATABASE_URL"] = url.render_as_string(hide_password=False)


def pytest_collection_modifyitems(items):
    """Give every item a node id of its own: schemathesis names its items after the operation
    (`test_anonymous[GET /api/v1/kims]`) but leaves them all one node id, and pytest-xdist, which
    hands tests to its processes by node id, then ran one operation per test function."""
    from _pytest.nodeid import coerce_node_id  # pytest 9 keeps the id structured, in `_id`

    for item in items:
        if item.name != item.originalname and not item.nodeid.endswith("]"):
            item._id = coerce_node_id(item.nodeid + item.name[len(item.originalname):])


def _ensure_database(url) -> None:
    """Create `url`'s database with PostGIS and pg_trgm unless it exists (as scripts/db.sh does).

    Creating a database and the PostGIS extension take privileges the app's role ("kim") has not:
    the user of the URL is tried first, then the cluster's superuser (KIM_PG_SUPERUSER, default
    "postgres", which scripts/db.sh's trust authentication lets in from 127.0.0.1)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", url.database or ""):
        raise RuntimeError(f"bad test database name: {url.database!r}")
    probe = create_engine(url, poolclass=NullPool)
    try:
        with probe.connect():
            return
    except OperationalError as error:
        if "does not exist" not in str(error):
            raise
    finally:
        probe.dispose()
    superuser = url.set(username=os.environ.get("KIM_PG_SUPERUSER", "postgres"), password=None)
    _run_privileged([url.set(database="postgres"), superuser.set(database="postgres")],
                    f'CREATE DATABASE "{url.database}" OWNER "{url.username}"')
    _run_privileged([url, superuser], "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pg_trgm")


def _run_privileged(urls, statement: str) -> None:
    """Run `statement` as the first of `urls` whose user may."""
    for n, url in enumerate(urls, 1):
        engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
            return
        except (OperationalError, ProgrammingError) as error:
            if n == len(urls):
                raise
            if "permission denied" not in str(error) and "must be" not in str(error):
                raise
        finally:
            engine.dispose()


class IsolatedClient(FlaskClient):
    """Runs every request in its own app context and closes its response, as a server does.

    Without this, requests made while a test holds an app context share its `g`
    (cached locale, logged-in user), which production never does. Closing (buffered) runs the
    response's `call_on_close` work, e.g. the mail sent after the response, before `open` returns.
    """

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)



@pytest.fixture
def steady_demo_flag(app, monkeypatch):
    """The demo banner asks the database at most once a minute; a minute ending between two
    counted requests would add one statement to one of them (seen on a loaded machine). Modules
    that compare statement counts hold it steady with `pytest.mark.usefixtures`."""
    import time

    from kim_platform import demo

    monkeypatch.setitem(app.config, "DEMO_FLAG_TTL", 10**9)
    monkeypatch.setattr(demo, "_cache", {"at": time.monotonic(), "value": False})


@contextlib.contextmanager
def counting():
    """Count every statement sent on the test's connection (the app's engine in tests)."""
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)

@pytest.fixture(scope="session")
def app():
    """The app on the test database, migrated to head with the two-province sample loaded."""
    app = create_app({"TESTING": True})
    app.test_client_class = IsolatedClient
    # Sessions bound to a connection already in a transaction (the tests' one, below) work in
    # savepoints; a session bound to an engine, as in production, has no transaction to join.
    db.session.session_factory.configure(join_transaction_mode="create_savepoint")
    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
        # Rows left by an interrupted run would make counts wrong; only regions are kept.
        others = [t.name for t in db.metadata.sorted_tables if t.name != "region"]
        db.session.execute(text(f"TRUNCATE {', '.join(others)} RESTART IDENTITY CASCADE"))
        load_regions(db.session.connection(), SAMPLE_DIR)
        load_bidang()
        load_activity_types()
        prepare_region_geoms(db.session.connection())
        db.session.commit()
        db.session.remove()
    return app


@contextlib.contextmanager
def rolled_back_transaction(app):
    """Everything written inside, through the app or directly, is rolled back at the end.

    Flask-SQLAlchemy picks the engine per mapper and ignores a session-level bind, so the
    app's default "engine" is swapped for one connection holding an open transaction; the
    sessions join it with savepoints (`join_transaction_mode`, set once in `app`), so code that
    commits (services, CLI commands) behaves as in production while the test still leaves
    nothing behind.

    `db.session` itself is never replaced: it is one object for the whole process, shared by
    every app in it, and the live servers of the browser tests answer from other threads. A
    request still running there when a test ended used to open its session from the registry of
    that test's scoped session and end it, in its teardown, on the next test's (`db.session`
    read anew): the first session kept its connection checked out inside a transaction, "idle in
    transaction" with no thread holding it, until the live server's pool (15) ran dry.
    """
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.engine.connect()  # a Connection's .engine when nested
        outer = connection.begin()
        engines[None] = connection
        try:
            yield connection
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def transaction(app):
    """Each test runs inside `rolled_back_transaction`."""
    with rolled_back_transaction(app) as connection:
        yield connection


@pytest.fixture
def another_test_transaction(app):
    """`with another_test_transaction():` does what the fixture does around one test, so a test
    can play the end of one test and the start of the next."""
    return functools.partial(rolled_back_transaction, app)


@pytest.fixture(autouse=True)
def fresh_rate_limits(app):
    """Rate-limit counters live in memory across tests; each test starts from zero."""
    limiter.reset()


@pytest.fixture(autouse=True)
def outbox(app, tmp_path):
    """Mail goes to a per-test folder; the fixture reads it back."""
    folder = tmp_path / "mail"
    previous = app.config["MAIL_OUTBOX"], app.config["UPLOAD_DIR"]
    app.config["MAIL_OUTBOX"] = str(folder)
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield Outbox(folder)
    app.config["MAIL_OUTBOX"], app.config["UPLOAD_DIR"] = previous


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
def frozen_clock():
    """Freeze Python's clock (datetime.now, date.today, time.time) at a UTC moment.

    `frozen_clock(datetime(2028, 2, 29, 3, tzinfo=timezone.utc))`; the clock stands still until
    the test ends. Every date the code derives goes through kim_platform.core.clock, so this fixes
    "today" in Jakarta and in Papua alike. PostgreSQL's now() is not frozen: code under test must
    take its dates from Python, as it does."""
    travellers = []

    def freeze(moment):
        traveller = time_machine.travel(moment, tick=False)
        traveller.start()
        travellers.append(traveller)

    yield freeze
    for traveller in reversed(travellers):
        traveller.stop()


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


DESA = "76.02.01.1002"  # Kel. Binanga, Kec. Mamuju, Kab. Mamuju, Sulawesi Barat
DESA_POINT = (-2.749192, 118.967345)


@pytest.fixture
def make_kim():
    """Factory: a KIM in a real desa of Kabupaten Mamuju, with members by role."""
    from kim_platform.kims.models import Kim, Membership
    from kim_platform.kims.services import _new_join_code, next_number

    counter = iter(range(1, 10_000))

    def make(name=None, status="verified", desa_code=DESA, point=DESA_POINT, bidang=("literasi",),
             members=(), **fields):
        n = next(counter)
        kim = Kim(name=name or f"KIM Uji {n}", slug=f"kim-uji-{n}-{id(counter)}", desa_code=desa_code,
                  point=f"SRID=4326;POINT({point[1]} {point[0]})", bidang=list(bidang), status=status,
                  join_code=_new_join_code(), socials={}, **fields)
        if status in ("verified", "inactive"):
            kim.number = next_number(desa_code[:5])
            kim.verified_at = utcnow()
        if status == "submitted":
            kim.submitted_at = utcnow()
        db.session.add(kim)
        db.session.flush()
        for user, role in members:
            db.session.add(Membership(user_id=user.id, kim_id=kim.id, role=role))
        db.session.flush()
        db.session.refresh(kim)
        return kim

    return make


@pytest.fixture
def kim_with_member(make_user, make_kim):
    """A verified KIM in Mamuju with an anggota (who reports) and an admin."""
    member = make_user(name="Relawan Pelapor")
    admin = make_user(name="Admin KIM")
    kim = make_kim(members=[(member, "anggota"), (admin, "admin")])
    return kim, member, admin


@pytest.fixture
def redis_url():
    """An emptied database of the suite's own Redis (scripts/redis.sh, started by `make test`):
    one per test process (pytest-xdist worker gw0 → database 1, gw1 → 2, one process → 1)."""
    import redis

    base = os.environ.get("KIM_TEST_REDIS_URL")
    if not base:
        pytest.fail("KIM_TEST_REDIS_URL is unset: run the suite with `make test` (it starts Redis), "
                    "or start scripts/redis.sh and export KIM_TEST_REDIS_URL=redis://127.0.0.1:56379")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    url = f"{base.rstrip('/')}/{1 + int(worker.removeprefix('gw') or 0)}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def make_node(app, transaction, tmp_path):
    """Factory: another app node (its own create_app(), as on another machine) with `overrides`
    (REDIS_URL, RATELIMIT_STORAGE_URI, …), reading and writing in this test's transaction.

    Flask-Limiter has one storage per process, set by the last init_app: the nodes of a test share
    it whatever their configuration, so a test that shows limits shared across nodes must show the
    counts surviving a new storage object (a node started later); the session app's own storage is
    put back at the end."""
    storage, strategy = limiter._storage, limiter._limiter
    nodes = []

    def make(**overrides):
        node = create_app({"TESTING": True, "UPLOAD_DIR": str(tmp_path / "uploads"),
                           "MAIL_OUTBOX": str(tmp_path / "mail"), **overrides})
        node.test_client_class = IsolatedClient
        with node.app_context():
            nodes.append((node, db.engines[None]))
            db.engines[None] = transaction
        return node

    yield make
    for node, engine in nodes:
        with node.app_context():
            db.engines[None] = engine
            engine.dispose()
        client = node.extensions.get("kim_redis")
        if client is not None:
            client.close()
    limiter._storage, limiter._limiter = storage, strategy


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own, on a free port, that the test stops and starts again."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if self.process.poll() is not None:
                    pytest.fail("redis-server exited at start")
                import time

                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not answer")
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path):
    """A started PrivateRedis (Debian's redis-server, as `make test` uses), stopped at the end."""
    import shutil

    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


class S3Server:
    """The project's S3-compatible store (scripts/s3.sh: SeaweedFS) on a port and folder of its own."""

    ACCESS_KEY, SECRET_KEY, BUCKET, REGION = "kim-test", "kim-test-secret", "kim", "us-east-1"

    def __init__(self, port: int, directory: Path):
        self.port, self.directory = port, directory
        self.endpoint = f"http://127.0.0.1:{port}"

    def _script(self, command: str) -> None:
        env = {**os.environ, "KIM_S3_PORT": str(self.port), "KIM_S3_DIR": str(self.directory),
               "KIM_S3_BUCKET": self.BUCKET, "KIM_S3_ACCESS_KEY_ID": self.ACCESS_KEY,
               "KIM_S3_SECRET_ACCESS_KEY": self.SECRET_KEY, "KIM_S3_REGION": self.REGION}
        result = subprocess.run([str(Path(__file__).resolve().parents[1] / "scripts" / "s3.sh"), command], env=env,
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            pytest.fail(f"scripts/s3.sh {command} failed: {result.stdout}{result.stderr}")

    def start(self) -> "S3Server":
        self._script("start")
        return self

    def stop(self) -> None:
        self._script("stop")

    def config(self, prefix: str = "") -> dict:
        """App settings storing files in this server's bucket under `prefix` (`t-…/`)."""
        return {"STORAGE": "s3", "S3_ENDPOINT_URL": self.endpoint, "S3_BUCKET": self.BUCKET,
                "S3_ACCESS_KEY_ID": self.ACCESS_KEY, "S3_SECRET_ACCESS_KEY": self.SECRET_KEY,
                "S3_REGION": self.REGION, "S3_PREFIX": prefix}


def free_s3_port(offset: int = 0) -> int:
    """A base port whose range scripts/s3.sh takes (the port, the next eight, and +10008) is free:
    KIM_TEST_S3_PORT + `offset` when set, else a random one (test processes and CI runs side by side)."""
    import random
    import socket

    if os.environ.get("KIM_TEST_S3_PORT"):
        return int(os.environ["KIM_TEST_S3_PORT"]) + offset
    for _ in range(100):
        base = random.randrange(20000, 29990)
        try:
            for port in [*range(base, base + 9), base + 10008]:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range for the S3 server")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The suite's S3 server (SeaweedFS, started through scripts/s3.sh, stopped at the end)."""
    server = S3Server(free_s3_port(), tmp_path_factory.mktemp("s3"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_app(app, s3_server, monkeypatch):
    """The test app storing files in the suite's S3 server, under a prefix of this test alone."""
    import secrets as random_names

    for name, value in s3_server.config(f"t-{random_names.token_hex(6)}/").items():
        monkeypatch.setitem(app.config, name, value)
    return app
