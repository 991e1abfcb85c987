"""The suite runs in one process or in pytest-xdist workers (`-n 2`): each worker has a database of
its own, and files shared by processes starting together are never seen half-written."""
import os

from sqlalchemy import text
from sqlalchemy.engine import make_url

from kim_platform import config
from kim_platform.extensions import db


def test_each_worker_runs_on_a_database_of_its_own(app):
    with app.app_context():
        name = db.session.scalar(text("SELECT current_database()"))
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    assert name == make_url(config.database_url_for_tests()).database
    if worker:
        assert name.endswith(f"_{worker}")


def test_a_secret_key_written_by_another_process_meanwhile_is_the_one_kept(tmp_path, monkeypatch):
    """Two processes starting together both find no key: the second must not replace the first's
    key (sessions it signed would break) and must read it whole."""
    (tmp_path / "secret_key").write_text("first-process-key")
    real_exists = type(tmp_path).exists
    # This process looked before the other one wrote its key.
    monkeypatch.setattr(type(tmp_path), "exists",
                        lambda path: False if path.name == "secret_key" else real_exists(path))
    assert config._instance_secret_key(tmp_path) == "first-process-key"
    assert (tmp_path / "secret_key").read_text() == "first-process-key"
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
