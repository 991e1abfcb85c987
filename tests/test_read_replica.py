"""Reads on a real streaming replica (core/replica.py): routing, read-your-writes, lag, fallback.

A small primary and its hot standby (scripts/db.sh start, replica-start) are made for this file
under the checkout's instance/test-replica/<worker>/, on ports derived from the pytest-xdist
worker (KIM_TEST_REPLICA_PORT + 2 × worker, default 25470: below Linux's ephemeral range, 32768-60999,
where a client socket of the busy suite could hold the port as its own end), migrated with the
sample regions, and removed at the end. What the tests write is COMMITTED on that primary (a rolled-back transaction
is never replicated) and deleted after each test. Replay is held with pg_wal_replay_pause() on the
standby, which gives a replica behind the primary without waiting for anything.
"""
import contextlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from flask.views import MethodView
from sqlalchemy import create_engine, delete, event, select, text
from sqlalchemy.pool import NullPool

from kim_platform import create_app
from kim_platform.accounts.models import ApiToken, LoginSession, User
from kim_platform.activities.cli import load_activity_types
from kim_platform.config import PROJECT_ROOT
from kim_platform.core import replica
from kim_platform.core.auth import limiter
from kim_platform.core.clock import utcnow
from kim_platform.extensions import REPLICA_BIND, db
from kim_platform.kims.cli import load_bidang
from kim_platform.maps.prepare import prepare_region_geoms
from kim_platform.regions.loader import load_regions
from tests.conftest import PASSWORD, SAMPLE_DIR, IsolatedClient, _hash_once, csrf_token

PG_BIN = Path(os.environ.get("KIM_PG_BIN", "/usr/lib/postgresql/15/bin"))
pytestmark = pytest.mark.skipif(not (PG_BIN / "pg_ctl").exists(), reason="PostgreSQL 15 is not installed")

EMAIL_PREFIX = "replica-test-"
PUBLIC_READ = "/api/v1/regions?level=provinsi"
CHECK_STATEMENTS = ("pg_is_in_recovery", "pg_current_wal_flush_lsn")


def _db_sh(*args, data: Path, port: int, primary_port: int | None = None) -> None:
    env = {**os.environ, "KIM_PG_DATA": str(data), "KIM_PG_PORT": str(port)}
    if primary_port is not None:
        env["KIM_PG_PRIMARY_PORT"] = str(primary_port)
    done = subprocess.run([str(PROJECT_ROOT / "scripts" / "db.sh"), *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"db.sh {' '.join(args)} failed: {done.stderr or done.stdout}")


def _stop_if_running(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        as_owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        subprocess.run([*as_owner, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)


class Pair:
    """The primary, its standby and an app reading on it, with the controls the tests need."""

    def __init__(self, root: Path, primary_port: int):
        self.root, self.primary_port, self.replica_port = root, primary_port, primary_port + 1
        self.primary_dir, self.replica_dir = root / "primary", root / "replica"
        self.app = None

    def superuser(self, port: int):
        return create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{port}/kim", poolclass=NullPool,
                             isolation_level="AUTOCOMMIT")

    def on_standby(self, sql: str):
        engine = self.superuser(self.replica_port)
        try:
            with engine.connect() as connection:
                result = connection.execute(text(sql))
                return result.all() if result.returns_rows else []
        finally:
            engine.dispose()

    def pause(self) -> None:
        self.on_standby("SELECT pg_wal_replay_pause()")

    def resume(self) -> None:
        self.on_standby("SELECT pg_wal_replay_resume()")

    def wait_replayed(self) -> None:
        """Until the standby has replayed everything the primary flushed so far (a wait, not an
        assertion). Flushed: WAL written but not yet flushed (a running-xacts record on an idle
        primary) is not sent to the standby until the next flush, seconds later."""
        primary = self.superuser(self.primary_port)
        with primary.connect() as connection:
            position = connection.execute(text("SELECT pg_current_wal_flush_lsn()")).scalar()
        primary.dispose()
        self._wait_for(f"SELECT pg_last_wal_replay_lsn() >= '{position}'::pg_lsn", "replay")

    def wait_received(self) -> None:
        """Until the standby has received (not necessarily replayed) what the primary wrote so far."""
        primary = self.superuser(self.primary_port)
        with primary.connect() as connection:
            position = connection.execute(text("SELECT pg_current_wal_flush_lsn()")).scalar()
        primary.dispose()
        self._wait_for(f"SELECT pg_last_wal_receive_lsn() >= '{position}'::pg_lsn", "receive")

    def _wait_for(self, condition: str, what: str) -> None:
        for _ in range(400):
            if self.on_standby(condition)[0][0]:
                return
            time.sleep(0.025)
        raise AssertionError(f"the standby did not {what} the primary's WAL in 10 s")

    def stop_replica(self) -> None:
        _db_sh("stop", data=self.replica_dir, port=self.replica_port)

    def start_replica(self) -> None:
        _db_sh("start", data=self.replica_dir, port=self.replica_port)

    def wait_usable(self) -> None:
        """Until the app's check finds the replica usable (a standby started moments ago may not have
        replayed a commit yet, and a loaded machine makes that take a while): a wait, not an assertion."""
        for _ in range(300):
            with self.app.app_context():
                if self.state().usable():
                    return
            time.sleep(0.1)
            self.state().checked_at = self.state().skipped_until = float("-inf")
        raise AssertionError("the replica never became usable")

    def state(self) -> replica.ReplicaState:
        return self.app.extensions[replica.EXTENSION]

    def recheck(self, **settings) -> None:
        """Forget what the app knows of the replica (and change its limits), so the next read checks."""
        state = self.state()
        for name, value in settings.items():
            setattr(state, name, value)
        state.checked_at = state.skipped_until = float("-inf")
        state.awaited = None


@pytest.fixture(scope="session")
def pair():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    port = int(os.environ.get("KIM_TEST_REPLICA_PORT", 25470)) + 2 * int(worker.removeprefix("gw") or 0)
    root = PROJECT_ROOT / "instance" / "test-replica" / worker
    found = Pair(root, port)
    for data in (found.replica_dir, found.primary_dir):  # left by an interrupted run
        _stop_if_running(data)
    shutil.rmtree(root, ignore_errors=True)
    try:
        _db_sh("start", data=found.primary_dir, port=found.primary_port)
        _db_sh("createdb", "kim", data=found.primary_dir, port=found.primary_port)
        app = create_app({
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg2://kim@127.0.0.1:{port}/kim?application_name=kim-test-primary",
            "REPLICA_DATABASE_URL": f"postgresql+psycopg2://kim@127.0.0.1:{port + 1}/kim?application_name=kim-test-replica",
            # The state is checked at every request unless a test says otherwise: tests see at once what they did.
            "REPLICA_CHECK_S": 0, "REPLICA_MAX_LAG_S": 3600, "REPLICA_RETRY_S": 3600,
        })
        app.test_client_class = IsolatedClient

        def writes_on_a_read():  # a GET view that writes without saying so (see its test)
            return {"value": db.session.execute(text("SELECT nextval('coverage_delta_id_seq')")).scalar()}

        app.add_url_rule("/replica-test/writes", "replica_test_writes", writes_on_a_read)

        class MustSeeThePrimary(MethodView):  # a class-based read view marked like the API's
            @replica.reads_primary
            def get(self):
                return {"regions": db.session.execute(text("SELECT count(*) FROM region")).scalar()}

        app.add_url_rule("/replica-test/primary", view_func=MustSeeThePrimary.as_view("replica_test_primary"))
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=str(PROJECT_ROOT / "migrations"))
            load_regions(db.session.connection(), SAMPLE_DIR)
            load_bidang()
            load_activity_types()
            prepare_region_geoms(db.session.connection())
            db.session.commit()
            db.session.remove()
        _db_sh("replica-start", data=found.replica_dir, port=found.replica_port, primary_port=found.primary_port)
        found.app = app
        found.wait_replayed()
        yield found
    finally:
        if found.app is not None:
            with found.app.app_context():
                for engine in db.engines.values():
                    engine.dispose()
        for data in (found.replica_dir, found.primary_dir):
            _stop_if_running(data)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def app(pair):
    """This file's app reads on the pair (it shadows the suite's `app` for these tests only)."""
    pair.resume()
    pair.recheck(check_s=0, max_lag_s=3600, retry_s=3600)
    pair.wait_usable()
    pair.recheck()
    yield pair.app
    pair.resume()
    with pair.app.app_context():
        ids = select(User.id).where(User.email.startswith(EMAIL_PREFIX))
        db.session.execute(delete(ApiToken).where(ApiToken.user_id.in_(ids)))
        db.session.execute(delete(LoginSession).where(LoginSession.user_id.in_(ids)))
        db.session.execute(delete(User).where(User.email.startswith(EMAIL_PREFIX)))
        db.session.commit()
        db.session.remove()
    pair.wait_replayed()


@pytest.fixture(autouse=True)
def transaction():
    """Nothing to roll back: this file's data is committed on its own primary (see `app`)."""
    yield None


@pytest.fixture(autouse=True)
def fresh_rate_limits(app):
    limiter.reset()


@pytest.fixture
def user(app, pair):
    """A verified user committed on the primary and replayed by the standby."""
    with app.app_context():
        found = User(name="Penguji Replika", email=f"{EMAIL_PREFIX}{time.monotonic_ns()}@example.id",
                     password_hash=_hash_once(PASSWORD), email_verified_at=utcnow(), is_active=True)
        db.session.add(found)
        db.session.commit()
        found = db.session.get(User, found.id)
        db.session.expunge(found)
        db.session.remove()
    pair.wait_replayed()
    return found


@contextlib.contextmanager
def statements(app):
    """The statements each engine ran inside the block, the replica's own checks left out."""
    seen = {replica.PRIMARY: [], replica.REPLICA: []}
    with app.app_context():
        engines = {replica.PRIMARY: db.engines[None], replica.REPLICA: db.engines[REPLICA_BIND]}

    def listener_for(name):
        def listener(conn, cursor, statement, parameters, context, executemany):
            if not any(mark in statement for mark in CHECK_STATEMENTS):
                seen[name].append(statement)
        return listener

    listeners = {name: listener_for(name) for name in engines}
    for name, engine in engines.items():
        event.listen(engine, "before_cursor_execute", listeners[name])
    try:
        yield seen
    finally:
        for name, engine in engines.items():
            event.remove(engine, "before_cursor_execute", listeners[name])


def log_in(client, user):
    response = client.post("/masuk", data={"email": user.email, "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def test_without_a_replica_url_there_is_one_engine_and_no_routing():
    app = create_app({"TESTING": True})
    assert "SQLALCHEMY_BINDS" not in app.config or REPLICA_BIND not in app.config["SQLALCHEMY_BINDS"]
    assert replica.EXTENSION not in app.extensions
    with app.app_context():
        assert list(db.engines) == [None]


def test_a_public_read_is_served_by_the_replica(app, pair):
    client = app.test_client()
    with statements(app) as seen:
        response = client.get(PUBLIC_READ)
    assert response.status_code == 200
    assert [r["code"] for r in response.get_json()["items"]]
    assert seen[replica.REPLICA] and not seen[replica.PRIMARY]
    # The standby's own view of who asked: the app's replica connection, by application_name.
    assert pair.on_standby("SELECT pid FROM pg_stat_activity WHERE application_name = 'kim-test-replica'")


def test_statements_per_public_read_are_those_of_a_single_database(app, pair):
    """The hot path gains no round trip: the same statements as on the primary alone, once the
    replica's state is known (it is asked at most every KIM_REPLICA_CHECK_S)."""
    client = app.test_client()
    client.get(PUBLIC_READ)
    pair.state().check_s = 3600  # known now: no check inside the counted requests
    with statements(app) as on_replica:
        client.get(PUBLIC_READ)
    pair.state().skip("the test reads on the primary alone")
    with statements(app) as on_primary:
        client.get(PUBLIC_READ)
    assert len(on_replica[replica.REPLICA]) == len(on_primary[replica.PRIMARY]) > 0
    assert not on_replica[replica.PRIMARY] and not on_primary[replica.REPLICA]


def test_the_state_is_checked_at_most_once_per_interval(app, pair):
    pair.recheck(check_s=3600)
    client = app.test_client()
    before = pair.state().checks
    for _ in range(5):
        assert client.get(PUBLIC_READ).status_code == 200
    assert pair.state().checks == before + 1


def test_login_then_reads_while_the_replica_is_paused(app, pair, user):
    """The login row written at login is found by the next request although the standby holds it back."""
    pair.pause()
    client = app.test_client()
    log_in(client, user)
    with statements(app) as seen:
        page = client.get("/akun")
    assert page.status_code == 200
    assert user.email in page.get_data(as_text=True)
    assert not seen[replica.REPLICA]  # this client wrote: primary until the replica replays it


def test_a_write_then_a_read_by_the_same_user_sees_it_while_another_client_reads_the_replica(app, pair, user):
    writer, other_device = app.test_client(), app.test_client()
    log_in(writer, user)
    log_in(other_device, user)
    pair.wait_replayed()
    pair.recheck()  # the replica has replayed both logins: every client may read it
    with statements(app) as seen:
        assert other_device.get("/akun").status_code == 200
    assert seen[replica.REPLICA]
    pair.pause()
    token_page = writer.post("/akun/token", data={"label": "kunci-baru", "csrf_token": csrf_token(writer)})
    assert token_page.status_code == 200
    assert replica.COOKIE in token_page.headers.get("Set-Cookie", "")

    with statements(app) as seen:
        mine = writer.get("/akun").get_data(as_text=True)
    assert "kunci-baru" in mine
    assert not seen[replica.REPLICA]

    with statements(app) as seen:
        theirs = other_device.get("/akun").get_data(as_text=True)
    assert "kunci-baru" not in theirs  # the paused standby, a moment behind
    assert seen[replica.REPLICA]

    pair.resume()
    pair.wait_replayed()
    pair.recheck()
    with statements(app) as seen:
        mine = writer.get("/akun").get_data(as_text=True)
    assert "kunci-baru" in mine and seen[replica.REPLICA]  # (its login is still looked up on the primary)


def test_a_password_change_ends_the_other_logins_at_once_while_the_replica_is_paused(app, pair, user):
    writer, other_device = app.test_client(), app.test_client()
    log_in(writer, user)
    log_in(other_device, user)
    pair.wait_replayed()
    pair.recheck()
    pair.pause()
    changed = writer.post("/akun/sandi", data={
        "current_password": PASSWORD, "password": "sandi-baru-yang-panjang", "confirm": "sandi-baru-yang-panjang", "csrf_token": csrf_token(writer)})
    assert changed.status_code == 302, changed.get_data(as_text=True)
    answer = other_device.get("/akun")
    assert answer.status_code == 302 and "/masuk" in answer.headers["Location"]


def test_an_api_token_client_reads_its_writes_through_redis(app, pair, user, redis_url, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.delitem(app.extensions, "kim_redis", raising=False)
    client = app.test_client()
    pair.pause()
    made = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD, "label": "sinkron"})
    assert made.status_code == 201
    headers = {"Authorization": f"Bearer {made.get_json()['token']}"}
    client = app.test_client()  # an API client keeps no cookie: only Redis remembers its write
    with statements(app) as seen:
        tokens = client.get("/api/v1/auth/tokens", headers=headers)
    assert tokens.status_code == 200 and [t["label"] for t in tokens.get_json()] == ["sinkron"]
    assert not seen[replica.REPLICA]
    pair.resume()
    pair.wait_replayed()
    pair.recheck()
    with statements(app) as seen:
        assert client.get("/api/v1/auth/tokens", headers=headers).status_code == 200
    assert seen[replica.REPLICA]
    monkeypatch.delitem(app.extensions, "kim_redis", raising=False)


def test_without_redis_an_api_token_client_reads_the_primary(app, pair, user, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.delitem(app.extensions, "kim_redis", raising=False)
    client = app.test_client()
    made = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
    pair.wait_replayed()
    pair.recheck()
    with statements(app) as seen:
        answer = client.get("/api/v1/auth/tokens", headers={"Authorization": f"Bearer {made.get_json()['token']}"})
    assert answer.status_code == 200 and not seen[replica.REPLICA]
    monkeypatch.delitem(app.extensions, "kim_redis", raising=False)


def test_a_replica_lagging_beyond_the_limit_is_skipped(app, pair, user):
    pair.pause()
    with app.app_context():  # a write the paused standby cannot replay
        db.session.execute(text("UPDATE user_account SET name = 'Tertinggal' WHERE id = :id"), {"id": user.id})
        db.session.commit()
        db.session.remove()
    pair.wait_received()  # received, not replayed: a replay delay the check can see
    pair.recheck(max_lag_s=0)
    client = app.test_client()
    with statements(app) as seen:
        assert client.get(PUBLIC_READ).status_code == 200
    assert seen[replica.PRIMARY] and not seen[replica.REPLICA]
    assert "beyond" in pair.state().problem

    pair.resume()
    pair.wait_replayed()
    pair.recheck(max_lag_s=3600)
    with statements(app) as seen:
        assert client.get(PUBLIC_READ).status_code == 200
    assert seen[replica.REPLICA] and not seen[replica.PRIMARY]


def test_a_replica_that_has_not_replayed_the_primary_in_time_is_skipped(app, pair, user):
    """A WAL receiver cut off from its primary shows no replay delay (received = replayed): the
    primary's position seen at one check and still not replayed max_lag_s later tells."""
    pair.pause()
    with app.app_context():
        db.session.execute(text("UPDATE user_account SET name = 'Terputus' WHERE id = :id"), {"id": user.id})
        db.session.commit()
        db.session.remove()
    pair.wait_received()
    state = pair.state()
    pair.recheck()
    client = app.test_client()
    with statements(app) as seen:
        assert client.get(PUBLIC_READ).status_code == 200  # this check notes the primary's position
    assert seen[replica.REPLICA] and state.awaited is not None
    position, _ = state.awaited
    state.awaited = (position, time.monotonic() - 2 * state.max_lag_s)  # as if noted that long ago
    state.checked_at = float("-inf")
    with statements(app) as seen:
        assert client.get(PUBLIC_READ).status_code == 200
    assert not seen[replica.REPLICA] and "not replayed" in state.problem
    pair.resume()
    pair.wait_replayed()
    state.checked_at = state.skipped_until = float("-inf")
    with statements(app) as seen:
        assert client.get(PUBLIC_READ).status_code == 200
    assert seen[replica.REPLICA] and state.awaited is None


def test_a_replica_whose_wal_receiver_stopped_is_skipped(app, pair):
    """No WAL receiver (its primary unreachable): nothing says how old its data is."""
    (conninfo,), = pair.on_standby("SHOW primary_conninfo")
    pair.on_standby("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=postgres connect_timeout=1'")
    pair.on_standby("SELECT pg_reload_conf()")
    try:
        for _ in range(400):  # the receiver restarts with the new conninfo, and fails
            if not pair.on_standby("SELECT pid FROM pg_stat_wal_receiver"):
                break
            time.sleep(0.025)
        pair.recheck()
        client = app.test_client()
        with statements(app) as seen:
            assert client.get(PUBLIC_READ).status_code == 200
        assert not seen[replica.REPLICA] and "receiver" in pair.state().problem
    finally:
        pair.on_standby(f"ALTER SYSTEM SET primary_conninfo = '{conninfo.replace(chr(39), chr(39) * 2)}'")
        pair.on_standby("SELECT pg_reload_conf()")
    pair.wait_replayed()


def test_a_stopped_replica_is_skipped_and_used_again_after_its_restart(app, pair):
    client = app.test_client()
    assert client.get(PUBLIC_READ).status_code == 200  # a pooled replica connection, checked in
    pair.state().check_s = 3600  # the app still believes the replica is fine: the read itself meets the loss
    pair.stop_replica()
    try:
        with statements(app) as seen:
            answers = [client.get(PUBLIC_READ).status_code for _ in range(5)]
            answers += [client.get(path).status_code for path in ("/", "/api/v1/regions/73", "/wilayah/73")]
        assert answers == [200] * len(answers)
        assert seen[replica.PRIMARY] and not seen[replica.REPLICA][1:]
        assert pair.state().problem
    finally:
        pair.start_replica()
    pair.wait_replayed()
    pair.recheck(check_s=0)
    with statements(app) as seen:
        assert client.get(PUBLIC_READ).status_code == 200
    assert seen[replica.REPLICA] and not seen[replica.PRIMARY]


def test_a_replica_refusing_connections_costs_no_error(app, pair):
    pair.stop_replica()
    try:
        with app.app_context():
            db.engines[REPLICA_BIND].dispose()  # no pooled connection: the next one is refused
        pair.recheck(check_s=3600)
        pair.state().checked_at = time.monotonic()  # believed fine: the view's own connect fails
        client = app.test_client()
        with statements(app) as seen:
            assert [client.get(PUBLIC_READ).status_code for _ in range(3)] == [200] * 3
        assert seen[replica.PRIMARY] and not seen[replica.REPLICA]
        assert "lost" in pair.state().problem or "unreachable" in pair.state().problem
    finally:
        pair.start_replica()


def test_a_read_view_that_writes_is_rerun_on_the_primary(app, pair):
    """A GET view that writes without saying so meets the standby's read-only transaction: it is run
    again on the primary, and the client gets its answer."""
    client = app.test_client()
    with statements(app) as seen:
        answer = client.get("/replica-test/writes")
    assert answer.status_code == 200 and answer.get_json()["value"] > 0
    assert [s for s in seen[replica.REPLICA] if "nextval" in s]
    assert [s for s in seen[replica.PRIMARY] if "nextval" in s]
    assert pair.state().problem is None  # a mistaken view is not a replica problem


def test_a_read_view_marked_reads_primary_reads_the_primary(app):
    client = app.test_client()
    with statements(app) as seen:
        assert client.get("/replica-test/primary").get_json()["regions"] > 0
        assert client.head("/replica-test/primary").status_code == 200
    assert seen[replica.PRIMARY] and not seen[replica.REPLICA]


def test_views_that_write_on_get_are_marked_to_read_the_primary(app):
    marked = {name for name, view in app.view_functions.items() if getattr(view, replica.PRIMARY_ONLY, False)}
    assert {"accounts.verify_email"} <= marked
    assert any(name.startswith("campaigns.") for name in marked)


def test_the_read_your_writes_cookie_is_signed(app, pair, user):
    """A forged position is ignored (it could otherwise pin a client to the primary, or be garbage)."""
    client = app.test_client()
    client.set_cookie(replica.COOKIE, "ffffffffffffffff.forged.sig")
    with statements(app) as seen:
        assert client.get(PUBLIC_READ).status_code == 200
    assert seen[replica.REPLICA]


def test_pgbouncer_transaction_pooling_safety_of_the_code():
    """Nothing the app or its migrations run keeps session state a pooled server connection would
    carry to the next client (docs/scaling.md, "pgbouncer"): no session advisory locks, session
    SET or set_config(..., false), LISTEN, WITH HOLD cursors or PREPARE."""
    forbidden = re.compile(
        r"pg_(try_)?advisory_lock(_shared)?\s*\(|\bLISTEN\s+\w|\bWITH\s+HOLD\b|^\s*PREPARE\s|\bSET\s+SESSION\b"
        r"|set_config\([^)]*,\s*(false|False)\s*\)", re.IGNORECASE | re.MULTILINE)
    found = []
    for folder in ("kim_platform", "migrations"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for match in forbidden.finditer(path.read_text()):
                found.append(f"{path.relative_to(PROJECT_ROOT)}: {match.group(0)}")
    assert found == []


def test_the_tiles_data_version_is_kept_per_database(app, pair):
    """A tile built from the replica, a moment behind, must not be cached under the primary's newer
    version (nor the primary's under the replica's): each database has its own version."""
    from kim_platform.extensions import ROUTE
    from kim_platform.maps import tiles

    pair.pause()
    with app.app_context():  # a change of the figures the paused standby does not have yet
        db.session.execute(text("SELECT nextval('coverage_delta_id_seq')"))
        db.session.commit()
        db.session.remove()
    tiles.forget_version()
    versions = {}
    for route in (replica.REPLICA, replica.PRIMARY):
        with app.test_request_context("/"):
            db.session.info[ROUTE] = route
            versions[route] = tiles.data_version()
            assert replica.database_in_use() == route
            db.session.remove()
    assert versions[replica.REPLICA] != versions[replica.PRIMARY]
    tiles.forget_version()
