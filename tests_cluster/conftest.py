"""Fixtures of the cluster tests (`make test-cluster`, never part of `make test`).

The session starts the whole topology with `scripts/cluster.sh start` (a no-op for the pieces
already running, so a kept cluster starts in seconds) and stops it at the end unless
KIM_CLUSTER_KEEP=1. Ports come from the same KIM_CLUSTER_* variables the script reads.

A test that stops a piece brings it back itself (`with cluster.stopped("node-a"):`), so the next
test finds the cluster whole. Adding a test: take `cluster` (ports, URLs, pieces, logs), `http` (a
requests session to nginx) and `psql(port, sql)` (rows from any of the cluster's servers);
helpers.py has `NODES` and `wait_until` (poll a condition a counted number of times).
"""
import os
import random
import subprocess
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text


TOKEN_LABEL = "cluster-test"  # the API tokens the tests make (deleted after the session)
ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "cluster.sh"

PORT_DEFAULTS = {
    "pg": ("KIM_CLUSTER_PG_PORT", 61341),
    "replica": ("KIM_CLUSTER_REPLICA_PORT", 61342),
    "bouncer": ("KIM_CLUSTER_BOUNCER_PORT", 64341),
    "bouncer_replica": ("KIM_CLUSTER_BOUNCER_REPLICA_PORT", 64342),
    "redis": ("KIM_CLUSTER_REDIS_PORT", 63341),
    "node_a": ("KIM_CLUSTER_NODE_A_PORT", 5341),
    "node_b": ("KIM_CLUSTER_NODE_B_PORT", 5342),
    "s3": ("KIM_CLUSTER_S3_PORT", 5343),
    "http": ("KIM_CLUSTER_HTTP_PORT", 8341),
}


@dataclass
class Cluster:
    """The running cluster: where each piece listens and how to stop and start it."""

    root: Path
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """nginx, the cluster's public address."""
        return f"http://127.0.0.1:{self.ports['http']}"

    def node_url(self, node: str) -> str:
        """One app node directly (node-a, node-b), behind nginx's back."""
        return f"http://127.0.0.1:{self.ports[node.replace('-', '_')]}"

    def script(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, check=check,
                              timeout=900)

    def start(self, piece: str | None = None) -> None:
        self.script("start", *([piece] if piece else []))

    def stop(self, piece: str | None = None) -> None:
        self.script("stop", *([piece] if piece else []))

    def restart(self, piece: str) -> None:
        self.script("restart", piece)

    @contextmanager
    def stopped(self, piece: str):
        """`piece` stopped inside the block, started again after it, whatever the test did."""
        self.stop(piece)
        try:
            yield
        finally:
            self.start(piece)

    def path(self, *parts: str) -> Path:
        """A file of the cluster (logs, pid files): `cluster.path("node-a", "access.log")`."""
        return self.root.joinpath(*parts)

    def psql(self, port: int, sql: str, database: str = "kim", user: str = "postgres") -> list[list[str]]:
        """The rows `sql` returns on the server (or pgbouncer console) at `port`, as text."""
        answer = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(port), "-U", user, "-d", database, "-c", sql],
            capture_output=True, text=True, timeout=60)
        if answer.returncode:
            raise AssertionError(f"psql on port {port} failed: {answer.stderr.strip()}")
        return [line.split("\t") for line in answer.stdout.splitlines() if line]


def _ports() -> dict[str, int]:
    return {name: int(os.environ.get(variable, default)) for name, (variable, default) in PORT_DEFAULTS.items()}


@pytest.fixture(scope="session")
def cluster():
    """The whole topology, started once for the session (stopped after it unless KIM_CLUSTER_KEEP=1)."""
    root = Path(os.environ.get("KIM_CLUSTER_DIR", ROOT / "instance" / "cluster"))
    running = Cluster(root=root, ports=_ports())
    started = running.script("start", check=False)
    if started.returncode:
        pytest.fail(f"scripts/cluster.sh start failed:\n{started.stdout}\n{started.stderr}", pytrace=False)
    yield running
    if os.environ.get("KIM_CLUSTER_KEEP") != "1":
        running.stop()


@pytest.fixture
def http(cluster):
    """A session to nginx: `http.get("/wilayah/76")` (paths are relative to the cluster's URL)."""
    session = _BaseUrlSession(cluster.url)
    yield session
    session.close()


@pytest.fixture
def psql(cluster):
    """`psql(port, sql, database="kim", user="postgres")`: rows as lists of text."""
    return cluster.psql


class _BaseUrlSession(requests.Session):
    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 30)
        return super().request(method, url if url.startswith("http") else self.base + url, *args, **kwargs)


@pytest.fixture(scope="session")
def primary(cluster):
    """SQLAlchemy engine straight to the primary (not through pgbouncer), as postgres."""
    engine = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{cluster.ports['pg']}/kim",
                           pool_size=2, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def posters(cluster, primary):
    """(kim id, API token, desa code) of 200 distinct ketua/admin accounts of verified KIMs (one KIM
    each, so the per-account limits of one account are never shared by two posters), tokens made by
    the platform's own code on the primary; removed after the module."""
    from kim_platform import create_app
    from kim_platform.accounts.models import User
    from kim_platform.accounts.services import create_api_token
    from kim_platform.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg2://kim@127.0.0.1:{cluster.ports['pg']}/kim",
                      "REPLICA_DATABASE_URL": None, "REDIS_URL": None})
    credentials = []
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT DISTINCT ON (m.user_id) k.id, m.user_id, k.desa_code FROM kim k "
            "JOIN kim_membership m ON m.kim_id = k.id AND m.role IN ('ketua', 'admin') "
            "JOIN user_account u ON u.id = m.user_id AND u.is_active "
            "WHERE k.status = 'verified' ORDER BY m.user_id, k.id")).all()
        for kim_id, user_id, desa_code in random.Random(uuid.uuid4().int).sample(rows, min(200, len(rows))):
            _, secret = create_api_token(db.session.get(User, user_id), TOKEN_LABEL)
            credentials.append((kim_id, secret, desa_code))
        db.session.commit()
        db.session.remove()
    assert len(credentials) >= 50, "the cluster's demo data has too few KIMs with a ketua"
    yield credentials
    with primary.connect() as connection:
        connection.execute(text("DELETE FROM api_token WHERE label = :label"), {"label": TOKEN_LABEL})
