"""core/redis.py: the shared client exists only when KIM_REDIS_URL is set, with short timeouts."""
import pytest

from kim_platform import create_app
from kim_platform.core.redis import REDIS_ERRORS, shared_redis


def test_no_shared_redis_without_its_url(app):
    with app.app_context():
        assert app.config["REDIS_URL"] is None
        assert shared_redis() is None


def test_the_shared_client_talks_to_the_configured_redis(redis_url):
    app = create_app({"TESTING": True, "REDIS_URL": redis_url})
    with app.app_context():
        client = shared_redis()
        client.set("kim:probe", "1")
        assert client.get("kim:probe") == b"1"
        assert shared_redis() is client  # one client (one pool) per app


def test_a_redis_that_is_down_raises_a_redis_error():
    app = create_app({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:9/0"})  # nothing listens on 9
    with app.app_context():
        with pytest.raises(REDIS_ERRORS):
            shared_redis().ping()
