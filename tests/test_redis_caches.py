"""Tiles, coverage exports and the data version shared by the nodes through Redis (KIM_REDIS_URL),
and bypassed, never an error, when Redis is down."""
import logging

import pytest
from sqlalchemy.engine import make_url

from kim_platform.core import shared_cache
from kim_platform.coverage import exports
from kim_platform.maps import tiles
from tests.conftest import counting, free_port

pytestmark = pytest.mark.usefixtures("steady_demo_flag")

REGIONS_TILE = "/tiles/regions/5/26/16.pbf"
KIMS_TILE = "/tiles/kims/12/3401/2079.pbf"  # Mamuju, where make_kim puts its KIMs


@pytest.fixture(autouse=True)
def empty_caches():
    """Each test starts with empty per-process caches and no version known."""
    for cache in (tiles.shared, exports.shared):
        cache.local.clear()
        cache.clear_counts()
    tiles.forget_version()
    yield
    for cache in (tiles.shared, exports.shared):
        cache.local.clear()
    tiles.forget_version()


def as_other_process():
    """What another machine's worker has: none of this process's per-process caches."""
    tiles.shared.local.clear()
    exports.shared.local.clear()
    tiles.forget_local_version()


def tile_statements(seen) -> list[str]:
    return [s for s in seen if "ST_AsMVT" in s]


@pytest.mark.parametrize("path", [REGIONS_TILE, KIMS_TILE])
def test_a_tile_built_by_one_node_is_a_hit_on_the_other(make_node, redis_url, make_kim, path):
    make_kim()
    node_a, node_b = make_node(REDIS_URL=redis_url), make_node(REDIS_URL=redis_url)
    with counting() as seen:
        first = node_a.test_client().get(path, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and len(tile_statements(seen)) == 1
    as_other_process()
    with counting() as seen:
        second = node_b.test_client().get(path, headers={"Accept-Encoding": "gzip"})
    assert second.status_code == 200
    assert tile_statements(seen) == []  # node B asked Redis, not PostGIS
    assert (tiles.shared.builds, tiles.shared.shared_hits) == (1, 1)
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]


def test_without_redis_each_process_builds_its_own_tiles(make_node):
    node_a, node_b = make_node(), make_node()
    node_a.test_client().get(REGIONS_TILE)
    as_other_process()
    with counting() as seen:
        assert node_b.test_client().get(REGIONS_TILE).status_code == 200
    assert len(tile_statements(seen)) == 1
    assert (tiles.shared.builds, tiles.shared.shared_hits) == (2, 0)


def test_the_nodes_share_the_data_version_and_it_moves_for_both_after_a_write(make_node, redis_url, make_kim):
    node_a, node_b = make_node(REDIS_URL=redis_url), make_node(REDIS_URL=redis_url)
    import redis

    with node_a.app_context():
        before = tiles.data_version()
        # The shared version lives a second; a slow machine must not see it expire right here.
        redis.Redis.from_url(redis_url).pexpire(tiles.VERSION_KEY + tiles._read_database(), 60_000)
    as_other_process()
    with node_b.app_context(), counting() as seen:
        assert tiles.data_version() == before
    assert seen == []  # from Redis: the database is asked once a second between all nodes
    make_kim()  # a write, committed as far as both nodes can tell (the test's one transaction)
    with node_a.app_context():
        tiles.forget_version()  # as one second later: the shared version expired
        after_a = tiles.data_version()
    as_other_process()
    with node_b.app_context():
        after_b = tiles.data_version()
    assert after_a == after_b != before


def test_the_version_is_kept_per_database_read(make_node, redis_url):
    """A version stored for another database (a primary ahead of this node's replica) is not
    taken: the key names the database the session reads (host, port, name; no options)."""
    import redis

    node = make_node(REDIS_URL=redis_url)
    with node.app_context():
        own = tiles.VERSION_KEY + tiles._read_database()
        database = make_url(node.config["SQLALCHEMY_DATABASE_URI"]).database
        assert "application_name" not in own and own.endswith("/" + database)
        redis.Redis.from_url(redis_url).set(tiles.VERSION_KEY + "elsewhere:5432/kim", "aaaaaaaaaaaa")
        assert tiles.data_version() != "aaaaaaaaaaaa"
        tiles.forget_local_version()
        redis.Redis.from_url(redis_url).set(own, "bbbbbbbbbbbb")  # no expiry: it would never move again
        assert tiles.data_version() != "bbbbbbbbbbbb"


def test_a_coverage_export_built_by_one_node_is_a_hit_on_the_other(make_node, redis_url):
    node_a, node_b = make_node(REDIS_URL=redis_url), make_node(REDIS_URL=redis_url)
    first = node_a.test_client().get("/cakupan/ekspor.csv?wilayah=76")
    assert first.status_code == 200
    as_other_process()
    second = node_b.test_client().get("/cakupan/ekspor.csv?wilayah=76")
    assert second.status_code == 200
    assert (exports.shared.builds, exports.shared.shared_hits) == (1, 1)
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]


def test_redis_down_bypasses_the_caches_and_logs_once(make_node, caplog):
    node = make_node(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    client = node.test_client()
    caplog.set_level(logging.WARNING, logger=shared_cache.__name__)
    for path in (REGIONS_TILE, KIMS_TILE, "/tiles/regions/8/212/129.pbf", "/cakupan/ekspor.csv"):
        as_other_process()
        assert client.get(path).status_code in (200, 204), path
    assert tiles.shared.builds == 3 and exports.shared.builds == 1
    warnings = [r for r in caplog.records if r.name == shared_cache.__name__]
    assert len(warnings) == 1 and "bypassed" in warnings[0].getMessage()
    as_other_process()
    assert client.get(REGIONS_TILE).status_code == 200  # served again, still without Redis
