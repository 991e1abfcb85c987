"""The connection pool's liveness check, paid only where it can find something.

SQLAlchemy's `pool_pre_ping` sends a `SELECT 1` at every checkout: one more round trip for each
request, as costly as a primary-key read itself. A connection that was checked in a moment ago
(as every connection of a busy worker was) is alive; one that sat in the pool longer than
`DB_PING_AFTER_IDLE_S` seconds may have been dropped by a PostgreSQL restart or a firewall, so it
is pinged before use, and a dead one is replaced by a fresh connection (the pool retries the
checkout), as `pool_pre_ping` would. A connection that dies between the check and its use fails
that one request with the 503 of core/errors.py, and the pool then drops all its older
connections (SQLAlchemy's invalidation on a disconnect), so the next request reconnects.
"""
import time

from sqlalchemy import event, exc

_CHECKED_IN_AT = "kim_checked_in_at"


def _now() -> float:
    return time.monotonic()


def install(engine, ping_after_idle_s: float) -> None:
    """Ping a connection at checkout only when it was idle longer than `ping_after_idle_s`
    (0: every checkout, like `pool_pre_ping`; negative: never)."""
    if engine.pool._pre_ping or ping_after_idle_s < 0:  # noqa: SLF001 - pre-ping already checks every checkout
        return

    @event.listens_for(engine, "connect")
    def remember_connect(dbapi_connection, record):
        record.info[_CHECKED_IN_AT] = _now()  # a new connection is alive

    @event.listens_for(engine, "checkin")
    def remember_checkin(dbapi_connection, record):
        record.info[_CHECKED_IN_AT] = _now()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, proxy):
        checked_in = record.info.get(_CHECKED_IN_AT)
        if checked_in is not None and _now() - checked_in <= ping_after_idle_s:
            return
        try:
            if not engine.dialect.do_ping(dbapi_connection):
                raise exc.DisconnectionError("the ping failed")
        except exc.DisconnectionError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of the ping: use another connection
            if not engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise
            raise exc.DisconnectionError(str(error)) from error


def init_app(app) -> None:
    """Install the check on the app's engine (created by Flask-SQLAlchemy's init_app)."""
    from kim_platform.extensions import db

    with app.app_context():
        install(db.engine, float(app.config.get("DB_PING_AFTER_IDLE_S", 5)))
