"""Requests a live server is still answering when a test ends give their connection back.

The browser tests run the app in a threaded werkzeug server; a page left while its vector tiles
load leaves requests running there across the end of the test (the browser has aborted them).
The test fixture used to replace the process-wide `db.session` for every test, so such a request
opened its session in one test's registry and ended it, in its teardown, in the next one's: the
first session kept its connection checked out inside a transaction ("idle in transaction", no
thread holding it) until the live server's pool ran dry. Nothing of this happens outside the
tests: under gunicorn and werkzeug, aborted requests (before, during or after the answer) all
give their connection back.
"""
import socket
import struct
import threading

import pytest
from flask import appcontext_popped
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool
from werkzeug.serving import make_server

from kim_platform import create_app
from kim_platform.extensions import db
from kim_platform.maps import tiles

APPLICATION_NAME = "kim-live-server-sessions-test"
TILES = ["/tiles/regions/5/26/16.pbf", "/tiles/regions/6/53/32.pbf", "/tiles/regions/7/106/65.pbf",
         "/tiles/regions/8/212/130.pbf"]
WAIT_S = 15  # a safety net only: every wait below ends on an event


@pytest.fixture
def live(tmp_path):
    """The app in a threaded werkzeug server on a free port, as the browser tests run it."""
    app = create_app({
        "TESTING": True, "UPLOAD_DIR": str(tmp_path / "uploads"), "MAIL_OUTBOX": str(tmp_path / "mail"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True,
                                      "connect_args": {"application_name": APPLICATION_NAME}},
    })
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, server.server_port
    finally:
        server.shutdown()
        server.server_close()
        with app.app_context():
            db.engine.dispose()


def _idle_in_transaction(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = :name AND state LIKE 'idle in transaction%'"),
                {"name": APPLICATION_NAME})
    finally:
        engine.dispose()


def _abort(sock: socket.socket) -> None:
    """Close as a browser leaving the page does: a reset, nothing read."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_requests_running_when_a_test_ends_give_their_connection_back(live, another_test_transaction):
    app, port = live
    with app.app_context():
        engine = db.engine
    inside, release, ended = threading.Semaphore(0), threading.Event(), threading.Semaphore(0)

    def hold_after_tile_query(connection, cursor, statement, *args):
        if "ST_AsMVT" in statement:  # the request's session holds a connection inside a transaction
            inside.release()
            release.wait(WAIT_S)

    def request_ended(sender, **extra):  # sent after the app context's teardown
        ended.release()

    event.listen(engine, "after_cursor_execute", hold_after_tile_query)
    appcontext_popped.connect(request_ended, app)
    tiles.cache.clear()  # each tile below is built, so each request queries
    sockets = []
    try:
        with another_test_transaction():  # the test the page was opened in
            for path in TILES:
                sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n".encode())
                sockets.append(sock)
            for _ in TILES:
                assert inside.acquire(timeout=WAIT_S)
        with another_test_transaction():  # the next test, while those tiles still load
            for sock in sockets:
                _abort(sock)
            release.set()
            for _ in TILES:
                assert ended.acquire(timeout=WAIT_S)
            assert _idle_in_transaction(app.config["SQLALCHEMY_DATABASE_URI"]) == 0
            assert engine.pool.checkedout() == 0
    finally:
        release.set()
        event.remove(engine, "after_cursor_execute", hold_after_tile_query)
        appcontext_popped.disconnect(request_ended, app)
        for sock in sockets:
            sock.close()
