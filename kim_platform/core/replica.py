"""Reads on a streaming replica (KIM_REPLICA_DATABASE_URL): a second bind chosen per request.

Unset (the single-node default), nothing here runs: one engine, every statement on it. Set, the
replica is Flask-SQLAlchemy's bind `replica` and `db.session` is a `RoutingSession`, which sends
the statements of a read request's view there, and everything else to the primary:

- A GET, HEAD or OPTIONS request's view reads on the replica, unless the view is marked
  `@reads_primary` (or `@transaction.writes_on_get`, which implies it: ONE mark, `PRIMARY_ONLY`).
  The request's before_request hooks and the credential loaders (`on_primary`) always read on the
  primary: a login row written a moment ago is found, a logout or a password change elsewhere
  takes effect at once.
- A flush, an INSERT/UPDATE/DELETE, a `SELECT ... FOR UPDATE` or a text statement that writes goes
  to the primary, and the rest of that request stays there (it then reads what it wrote). A GET
  still commits nothing (core/transaction.py): one transaction per engine, ended at the edge.
- A DB error raised on the replica inside the view (connection refused or dropped, pgbouncer's
  "cannot connect to server", a read-only transaction error, a recovery conflict) reruns the view
  once on the primary: views of read requests change nothing, so they are safe to run twice. A
  streamed answer is not rerun: its body is read after the view returned, so a replica lost while
  it streams ends that download early, as a lost primary would (the client retries, and the replica
  is skipped by then).
- Each process checks the replica at most every KIM_REPLICA_CHECK_S (one statement on the
  replica, one on the primary, on connections of their own; no extra round trip on a request's
  path otherwise): down, promoted (`pg_is_in_recovery()` false), without a WAL receiver, lagging
  beyond KIM_REPLICA_MAX_LAG_S, or not having replayed within that time what the primary had
  flushed (a receiver cut off from its primary reads as no delay), it is skipped for
  KIM_REPLICA_RETRY_S and reads go to the primary, with no error.
- Read your own writes: a request that committed a write on the primary reads
  `pg_current_wal_flush_lsn()` (one statement, only when it wrote) and gives it to its client: a signed
  cookie (browsers, anonymous residents too) and, for an API token's user, a Redis key (KIM_REDIS_URL;
  without Redis an API token's reads always go to the primary). That client's reads go to the
  primary until the replica's replayed LSN (as of the last check) reaches it, for at most
  KIM_READ_YOUR_WRITES_S.
"""
import logging
import math
import threading
import time

from flask import current_app, g, has_request_context, request
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from kim_platform.extensions import PRIMARY, REPLICA, REPLICA_BIND as BIND, ROUTE as _ROUTE, WROTE as _WROTE

log = logging.getLogger(__name__)

EXTENSION = "kim_replica"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRIMARY_ONLY = "kim_primary_only"  # attribute of a view function that must read on the primary
COOKIE = "kim_lsn"
REDIS_KEY = "kim:lsn:user:{}"
_API_WRITER = "kim_api_writer"  # g: the user an API client of this request acts as
_RERUN = "kim_replica_rerun"  # g: the replica failed this request; the error that says so
UNKNOWN_LSN = 2**64 - 1  # the primary's position could not be read: primary for the whole window

STATUS_SQL = text("""
SELECT pg_is_in_recovery() AS standby,
       pg_last_wal_receive_lsn()::text AS received,
       pg_last_wal_replay_lsn()::text AS replayed,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp()) AS since_last_replayed,
       -- no row: no WAL receiver runs; its status is visible only to pg_read_all_stats
       (SELECT coalesce(status, 'streaming') FROM pg_stat_wal_receiver) AS receiver
""")
# Flushed, not written: the standby is sent only flushed WAL, and an idle primary may leave a
# written record (running xacts, every 15 s) unflushed for seconds. A commit (synchronous_commit
# on) is flushed before it returns, so the flushed position covers the request's writes.
PRIMARY_POSITION_SQL = text("SELECT pg_current_wal_flush_lsn()::text")


def lsn_to_int(lsn: str) -> int:
    """'16/B374D848' as a number, to compare positions."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def reads_primary(view):
    """Mark a read view that must see the primary (it writes, or must never be a moment behind)."""
    setattr(view, PRIMARY_ONLY, True)
    return view


class ReplicaState:
    """What this process knows of the replica: usable or skipped until when, and how far it replayed."""

    def __init__(self, engine, primary, check_s: float, max_lag_s: float, retry_s: float):
        self.engine, self.primary = engine, primary
        self.check_s, self.max_lag_s, self.retry_s = check_s, max_lag_s, retry_s
        self.checked_at = -math.inf
        self.skipped_until = -math.inf
        self.replayed = 0
        # (the primary's position, when it was seen) while the replica has not replayed it: a
        # WAL receiver cut off from the primary shows no replay delay, only this can tell.
        self.awaited: tuple[int, float] | None = None
        self.problem: str | None = None
        self.checks = 0
        self._lock = threading.Lock()

    def usable(self) -> bool:
        now = time.monotonic()
        if now < self.skipped_until:
            return False
        if now - self.checked_at >= self.check_s and self._lock.acquire(blocking=False):
            try:
                self._check()
            finally:
                self._lock.release()
        return time.monotonic() >= self.skipped_until

    def _check(self) -> None:
        """One statement on the replica, one on the primary, on connections of their own."""
        self.checks += 1
        try:
            row = self._status()
        except DBAPIError as error:
            self.skip(f"unreachable: {str(error.orig or error).splitlines()[0]}")
            return
        finally:
            self.checked_at = time.monotonic()
            if has_request_context():
                g.pop(_RERUN, None)  # the check's own failures are not a view's
        replayed = lsn_to_int(row.replayed) if row.replayed else 0
        flushed = self._primary_position()
        if self.awaited is not None and replayed >= self.awaited[0]:
            self.awaited = None
        if flushed is not None and flushed > replayed and self.awaited is None:
            self.awaited = (flushed, time.monotonic())
        # The replay delay: 0 when it replayed all the primary flushed, or all it received (the
        # brief's formula); else the age of its last replayed commit, which after a restart of an
        # idle standby is the age of the last write, hence the first test; None when it replayed
        # no commit since it started.
        if (flushed is not None and replayed >= flushed) or (row.received is not None
                                                              and row.received == row.replayed):
            delay = 0.0
        else:
            delay = None if row.since_last_replayed is None else float(row.since_last_replayed)
        if not row.standby:
            self.skip("not in recovery (promoted?)")
        elif row.receiver != "streaming" or row.received is None:
            self.skip(f"its WAL receiver is {row.receiver or 'not running'}")
        elif delay is None:
            self.skip("catching up after its start")
        elif delay > self.max_lag_s:
            self.skip(f"replay delay {delay:.1f} s beyond {self.max_lag_s} s")
        elif self.awaited is not None and time.monotonic() - self.awaited[1] > self.max_lag_s:
            # A WAL receiver cut off from its primary shows no delay: received = replayed.
            self.skip(f"what the primary flushed {self.max_lag_s} s ago is not replayed")
        else:
            self.replayed = max(self.replayed, replayed)
            if self.problem is not None:
                log.warning("Replica back in use (replayed %s)", row.replayed)
            self.problem = None

    def _status(self):
        """The replica's status row; a pooled connection found dead (the replica restarted since)
        is replaced by a fresh one once, as a pre-ping would."""
        for attempt in (1, 2):
            try:
                with self.engine.connect() as connection:
                    return connection.execute(STATUS_SQL).one()  # rolled back as the pool takes it back
            except DBAPIError as error:
                if attempt == 2 or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _primary_position(self) -> int | None:
        try:
            with self.primary.connect() as connection:
                return lsn_to_int(connection.execute(PRIMARY_POSITION_SQL).scalar_one())
        except DBAPIError:
            return None  # the request will meet the primary's trouble itself

    def skip(self, reason: str) -> None:
        """Send reads to the primary for retry_s (the next check is due then)."""
        if self.problem is None:
            log.warning("Replica skipped for %s s: %s", self.retry_s, reason)
        self.problem = reason
        self.skipped_until = time.monotonic() + self.retry_s
        self.checked_at = -math.inf


def state():
    """This app's ReplicaState, or None when no replica is configured."""
    return current_app.extensions.get(EXTENSION)


def database_in_use() -> str:
    """PRIMARY or REPLICA: which database the current statements read (caches keyed by data
    versions must not mix a replica's answers with the primary's versions)."""
    from kim_platform.extensions import db

    return REPLICA if db.session.info.get(_ROUTE) == REPLICA else PRIMARY


class on_primary:  # noqa: N801 - used like a function: `with on_primary():`
    """Statements inside read on the primary, whatever the request's route (credential lookups)."""

    def __enter__(self):
        from kim_platform.extensions import db

        self.info = db.session.info
        self.previous = self.info.get(_ROUTE)
        if self.previous == REPLICA:
            self.info[_ROUTE] = PRIMARY
        return self

    def __exit__(self, *exc):
        if self.previous == REPLICA and self.info.get(_ROUTE) == PRIMARY:
            self.info[_ROUTE] = REPLICA
        return False


# --- the request -------------------------------------------------------------------------

def dispatch(call):
    """Run the view (`call`) on the replica when this request may; rerun it on the primary once
    when the replica fails it. Called by the app's dispatch_request (kim_platform.KimFlask)."""
    replica = current_app.extensions.get(EXTENSION)
    if replica is None:
        return call()
    from kim_platform.extensions import db

    info = db.session.info
    info[_ROUTE] = PRIMARY
    if not _may_read_replica(replica):
        return call()
    info[_ROUTE] = REPLICA
    try:
        return call()
    except Exception:  # noqa: BLE001 - only an error the replica raised is rerun
        failure = g.pop(_RERUN, None)
        if failure is None:
            raise
        log.warning("Read on the replica failed, rerun on the primary: %s %s: %s", request.method,
                    request.path, str(failure).splitlines()[0])
        from kim_platform.core.transaction import start_over

        start_over()
        db.session.info[_ROUTE] = PRIMARY
        return call()


def _may_read_replica(replica) -> bool:
    if request.method not in READ_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint)
    if view is None or _primary_only(view):
        return False
    if not replica.usable():
        return False
    return _client_position() <= replica.replayed


def _primary_only(view) -> bool:
    """The view's mark, or that of the method of a class-based view (flask-smorest's MethodViews)."""
    if getattr(view, PRIMARY_ONLY, False):
        return True
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return False
    method = getattr(view_class, "get" if request.method == "HEAD" else request.method.lower(), None)
    return getattr(method, PRIMARY_ONLY, False)


def _signer():
    return TimestampSigner(current_app.secret_key, salt="kim-read-your-writes")


def _client_position() -> int:
    """The primary's WAL position this client must see (0: none), from its cookie or, for an API
    token, from Redis."""
    position = 0
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            value = _signer().unsign(raw, max_age=current_app.config["READ_YOUR_WRITES_S"])
            position = int(value, 16)
        except (BadSignature, ValueError):
            position = 0
    if request.headers.get("Authorization") and request.path.startswith("/api/"):
        from flask_login import current_user

        from kim_platform.core.redis import REDIS_ERRORS, shared_redis

        if current_user.is_authenticated and getattr(current_user, "via_api_token", False):
            redis = shared_redis()
            if redis is None:
                return UNKNOWN_LSN  # nowhere to remember an API client's writes: read the primary
            try:
                stored = redis.get(REDIS_KEY.format(current_user.id))
            except REDIS_ERRORS:
                return UNKNOWN_LSN
            if stored:
                position = max(position, int(stored, 16))
    return position


def remember_write(response) -> None:
    """After a commit (core/transaction.py): when the request wrote, give its client the primary's
    WAL position, so that its next reads wait for the replica to replay it."""
    replica = current_app.extensions.get(EXTENSION)
    if replica is None:
        return
    from kim_platform.extensions import db

    if not db.session.info.pop(_WROTE, False):
        return
    try:
        position = lsn_to_int(db.session.execute(PRIMARY_POSITION_SQL, bind_arguments={"bind": db.engine})
                              .scalar_one())
    except DBAPIError as error:
        log.warning("WAL position after a commit not read: %s", str(error).splitlines()[0])
        position = UNKNOWN_LSN
        from kim_platform.core.transaction import start_over

        start_over()
    window = current_app.config["READ_YOUR_WRITES_S"]
    value = f"{position:x}"
    response.set_cookie(COOKIE, _signer().sign(value).decode(), max_age=math.ceil(window), httponly=True,
                        samesite="Lax", secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    from flask_login import current_user

    user_id = g.get(_API_WRITER)
    if current_user.is_authenticated and getattr(current_user, "via_api_token", False):
        user_id = current_user.id
    if user_id is not None:
        from kim_platform.core.redis import REDIS_ERRORS, shared_redis

        redis = shared_redis()
        if redis is not None:
            try:
                redis.set(REDIS_KEY.format(user_id), value, ex=math.ceil(window))
            except REDIS_ERRORS as error:
                log.warning("Read-your-writes position not stored in Redis: %s", error)


def api_client_of(user) -> None:
    """The API client of this request will read as `user` (a token was just made for it), so its
    next reads must see this request's writes too."""
    g.setdefault(_API_WRITER, user.id)


def _watch(engine) -> None:
    """Note an error the replica raised inside a request, so `dispatch` reruns the view; skip the
    replica at once when it was a lost connection."""

    @event.listens_for(engine, "handle_error")
    def replica_failed(context):
        if not has_request_context():
            return
        g.setdefault(_RERUN, context.original_exception)
        if _replica_lost(context):
            replica = current_app.extensions.get(EXTENSION)
            if replica is not None:
                replica.skip(f"lost: {str(context.original_exception).splitlines()[0]}")


# SQLSTATEs of an OperationalError that say nothing against the replica itself: a query cancelled
# by a recovery conflict (40001), a deadlock (40P01), a statement timeout (57014).
_PASSING_TROUBLE = frozenset({"40001", "40P01", "57014"})


def _replica_lost(context) -> bool:
    """A lost or refused connection, or pgbouncer's "cannot connect to server" (an OperationalError
    SQLAlchemy does not count as a disconnect); not a read-only error (InternalError) nor a conflict."""
    if context.is_disconnect or context.connection is None:
        return True
    return (isinstance(context.sqlalchemy_exception, OperationalError)
            and getattr(context.original_exception, "pgcode", None) not in _PASSING_TROUBLE)


def engine_options(url: str) -> dict:
    """SQLALCHEMY_BINDS entry of the replica: a short connect timeout and TCP keepalives, so that
    a replica that vanished costs a request a moment before the primary answers it."""
    return {"url": url, "connect_args": {"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 10,
                                         "keepalives_interval": 2, "keepalives_count": 3}}


def add_bind(app) -> None:
    """The replica's bind, before Flask-SQLAlchemy makes the engines (with REPLICA_DATABASE_URL)."""
    if app.config.get("REPLICA_DATABASE_URL"):
        binds = dict(app.config.get("SQLALCHEMY_BINDS") or {})
        binds.setdefault(BIND, engine_options(app.config["REPLICA_DATABASE_URL"]))
        app.config["SQLALCHEMY_BINDS"] = binds


def init_app(app) -> None:
    """With REPLICA_DATABASE_URL set, watch the replica's engine (after `add_bind`, db.init_app)."""
    if not app.config.get("REPLICA_DATABASE_URL"):
        return
    from kim_platform.core import pool
    from kim_platform.extensions import db

    with app.app_context():
        engine = db.engines[BIND]
        primary = db.engine
    pool.install(engine, float(app.config.get("DB_PING_AFTER_IDLE_S", 5)))
    _watch(engine)
    app.extensions[EXTENSION] = ReplicaState(
        engine, primary, check_s=float(app.config["REPLICA_CHECK_S"]), max_lag_s=float(app.config["REPLICA_MAX_LAG_S"]),
        retry_s=float(app.config["REPLICA_RETRY_S"]))

