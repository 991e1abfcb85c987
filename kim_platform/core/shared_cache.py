"""Response caches shared by every app node through Redis (KIM_REDIS_URL), a per-process LRU in front.

Unset, a cache is its per-process LRU (core/cache.py) exactly as before. Set, a miss in the LRU asks
Redis, and what is built is stored in both, so a tile or an export built by one node is served by
the others. Keys carry a data version (maps.tiles.data_version) and everything else the answer
depends on, so an entry is never invalidated: it is right for its key or never asked again. The LRU
in front stays correct for the same reason.

Memory: every shared entry has a TTL (KIM_REDIS_CACHE_TTL_S, default 600 s: entries of an old data
version are garbage after the next write anyway) and none is larger than MAX_SHARED_BYTES; with a
`maxmemory` on the Redis, use `maxmemory-policy volatile-lru`, which evicts only keys with a TTL
(these, and the rate-limit windows) and never the job queue's (README, "Redis").

Redis down or failing: the caches are bypassed (built and served, as one node does), the failure is
logged once a minute, and Redis is left alone for BYPASS_S, so one request per process and interval
pays at most the client timeouts of core/redis.py; never an error answer.
"""
import hashlib
import logging
import time
from collections.abc import Callable

from flask import current_app, has_app_context

from kim_platform.core.cache import LruCache
from kim_platform.core.redis import shared_redis

try:
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - redis is a dependency
    RedisError = OSError

log = logging.getLogger(__name__)

KEY_PREFIX = "kim:cache:"
BYPASS_S = 5.0  # after a failure, the caches leave Redis alone this long
LOG_EVERY_S = 60.0
MAX_SHARED_BYTES = 8 * 1024 * 1024  # a value this large would block Redis while it is copied
_OUTAGE = "kim_redis_outage"


def _outage() -> dict:
    """When this app's Redis failed last and when that was logged (per app: tests run several)."""
    return current_app.extensions.setdefault(_OUTAGE, {"until": 0.0, "logged": 0.0})


def usable_redis():
    """The shared client, or None: unset, outside an app, or within BYPASS_S of a failure."""
    if not has_app_context():
        return None
    client = shared_redis()
    if client is None or time.monotonic() < _outage()["until"]:
        return None
    return client


def failed(error: Exception) -> None:
    """Note a Redis failure: bypass it for a while, log it at most once a minute."""
    state = _outage()
    now = time.monotonic()
    state["until"] = now + BYPASS_S
    if now - state["logged"] >= LOG_EVERY_S:
        state["logged"] = now
        log.warning("Redis unavailable, shared caches bypassed for %.0f s: %s", BYPASS_S,
                    str(error).splitlines()[0] if str(error) else type(error).__name__)


def digest(key: tuple) -> str:
    """The key's stable digest (its repr hashed): the Redis key and the answers' ETag."""
    return hashlib.sha1(repr(key).encode(), usedforsecurity=False).hexdigest()[:20]


class SharedCache:
    """`local` (an LruCache of this process) in front of Redis entries named `kim:cache:<name>:…`.

    `shared_hits` counts answers Redis gave, `builds` the answers built here."""

    def __init__(self, name: str, local: LruCache):
        self.name = name
        self.local = local
        self.shared_hits = self.builds = 0

    def get_or_build(self, key: tuple, build: Callable[[], bytes]) -> bytes:
        body = self.local.get(key)
        if body is not None:
            return body
        client = usable_redis()
        redis_key = f"{KEY_PREFIX}{self.name}:{digest(key)}"
        if client is not None:
            try:
                body = client.get(redis_key)
            except RedisError as error:
                failed(error)
                client = None
        if body is not None:
            self.shared_hits += 1
        else:
            body = build()
            self.builds += 1
            if client is not None and len(body) <= MAX_SHARED_BYTES:
                try:
                    client.set(redis_key, body, ex=current_app.config["REDIS_CACHE_TTL_S"])
                except RedisError as error:
                    failed(error)
        self.local.put(key, body)
        return body

    def clear_counts(self) -> None:
        self.shared_hits = self.builds = 0
