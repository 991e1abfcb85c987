"""The Redis shared by every app node (KIM_REDIS_URL): limits, caches, data version, job queue.

Unset (the single-node default of `make run`), `shared_redis()` is None and every user of it keeps
its per-process behaviour. Set, one client per app (a connection pool per process) with short
timeouts: a Redis that is down must cost a request milliseconds, not the server's worker. Callers
decide what an outage means (caches are bypassed; throttled actions answer 503, see
`kim_platform.core.errors`); they catch `REDIS_ERRORS`."""
from flask import current_app

try:  # redis-py is a dependency; the guard keeps an import error from hiding the real one
    import redis
    REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
except ImportError:  # pragma: no cover
    redis = None
    REDIS_ERRORS = ()

EXTENSION = "kim_redis"


def connect(url: str, **options):
    """A client for `url` with the platform's timeouts (also used by the job worker and tests)."""
    settings = {"socket_connect_timeout": 0.5, "socket_timeout": 2.0, "health_check_interval": 30}
    settings.update(options)
    return redis.Redis.from_url(url, **settings)


def shared_redis():
    """The app's Redis client, or None when KIM_REDIS_URL is unset."""
    app = current_app._get_current_object()
    if EXTENSION not in app.extensions:
        url = app.config.get("REDIS_URL")
        app.extensions[EXTENSION] = connect(url) if url else None
    return app.extensions[EXTENSION]
