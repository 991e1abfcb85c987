"""The topology itself: nginx over two nodes, static files and compression by nginx, the client's
address through X-Forwarded-For, a node stopped and restarted, pgbouncer, the streaming replica."""
import gzip
import http.client
import random
import re
import threading
import uuid

import pytest
import redis
import requests

from tests_cluster.helpers import NODES, wait_until

HASHED_STATIC = re.compile(r'/static/[\w./-]+\.[0-9a-f]{12}\.(?:css|js|svg|png)')
# Pages every visitor reads, and the API's reads (GETs: nginx retries them on the other node).
READS = ["/healthz", "/", "/wilayah/33", "/api/v1/regions?per_page=5", "/kim", "/cakupan", "/peta"]


def _nodes_answering(http, count: int, path: str = "/healthz") -> list[str]:
    names = []
    for _ in range(count):
        answer = http.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        names.append(answer.headers.get("X-Kim-Node"))
    return names


def test_both_nodes_answer_through_nginx(http):
    assert set(_nodes_answering(http, 20)) == set(NODES.values())
    page = http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]


def test_a_node_names_itself_only_when_asked_to(cluster, http):
    for node, name in NODES.items():
        direct = http.get(cluster.node_url(node) + "/healthz")
        assert direct.json() == {"status": "ok"} and direct.headers["X-Kim-Node"] == name
        assert direct.headers["Cache-Control"] == "no-store"


def _static_urls(http) -> list[str]:
    urls = sorted(set(HASHED_STATIC.findall(http.get("/").text)))
    assert any(url.endswith(".css") for url in urls) and any(url.endswith(".js") for url in urls)
    return urls


def test_static_files_are_served_by_nginx_as_the_app_would(cluster, http):
    probe = uuid.uuid4().hex
    for url in _static_urls(http):
        answer = http.get(f"{url}?probe={probe}", headers={"Accept-Encoding": "identity"})
        assert answer.status_code == 200, url
        assert "X-Kim-Node" not in answer.headers and answer.headers["Server"].startswith("nginx")
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        # The same bytes the app answers for that name (stylesheets with hashed references).
        node = http.get(cluster.node_url("node-a") + url, headers={"Accept-Encoding": "identity"})
        assert node.content == answer.content, url
    for node in NODES:  # no node saw the requests
        assert probe not in cluster.path(node, "access.log").read_text()


def test_text_static_files_are_gzipped_by_nginx(http):
    stylesheet = next(url for url in _static_urls(http) if url.endswith(".css"))
    plain = http.get(stylesheet, headers={"Accept-Encoding": "identity"})
    packed = http.get(stylesheet, headers={"Accept-Encoding": "gzip"}, stream=True)
    assert packed.headers["Content-Encoding"] == "gzip" and "X-Kim-Node" not in packed.headers
    assert "Accept-Encoding" in packed.headers["Vary"]
    body = packed.raw.read()
    assert len(body) < len(plain.content) / 2
    assert gzip.decompress(body) == plain.content


def test_plain_static_names_revalidate(http):
    first = http.get("/static/css/site.css")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    again = http.get("/static/css/site.css", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_service_worker_and_its_files_work_through_nginx(http):
    worker = http.get("/sw.js")
    assert worker.status_code == 200 and worker.headers["Cache-Control"] == "no-cache"
    assert worker.headers["Service-Worker-Allowed"] == "/"
    urls = set(HASHED_STATIC.findall(worker.text))
    assert urls
    for url in urls:
        answer = http.get(url)
        assert answer.status_code == 200 and "X-Kim-Node" not in answer.headers, url


def test_a_static_file_the_export_lacks_goes_to_the_app(http):
    answer = http.get("/static/no-such-file.js")
    assert answer.status_code == 404 and answer.headers.get("X-Kim-Node") in NODES.values()


def test_the_app_sees_the_clients_address_not_nginxs(cluster):
    """Rate limits count per client address: a failed login from 127.x.y.z (nginx itself connects
    from 127.0.0.1) is counted for 127.x.y.z, also when the client writes its own X-Forwarded-For."""
    address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    connection = http.client.HTTPConnection("127.0.0.1", cluster.ports["http"], timeout=30,
                                            source_address=(address, 0))
    connection.request("POST", "/api/v1/auth/token", body=b'{"email": "nobody@cluster.test", "password": "x"}',
                       headers={"Content-Type": "application/json", "X-Forwarded-For": "198.51.100.7"})
    answer = connection.getresponse()
    answer.read()
    connection.close()
    assert answer.status == 401
    limits = redis.Redis(host="127.0.0.1", port=cluster.ports["redis"], db=1)
    keys = [key.decode() for key in limits.scan_iter(match="*login-address*")]
    assert any(address in key for key in keys), keys
    assert not any("198.51.100.7" in key for key in keys)


def test_node_a_stopped_every_read_is_served_by_b(cluster, http):
    with cluster.stopped("node-a"):
        answers = [http.get(path) for path in READS * 5]
        assert [a.status_code for a in answers] == [200] * len(answers)
        assert {a.headers["X-Kim-Node"] for a in answers} == {"kim-b"}
        # A write nginx could not deliver (refused connection) was never sent: it goes to B.
        login = http.post("/api/v1/auth/token", json={"email": "nobody@cluster.test", "password": "x"})
        assert login.status_code in (401, 429) and login.headers["X-Kim-Node"] == "kim-b"
    wait_until(lambda: set(_nodes_answering(http, 10)) == set(NODES.values()), "both nodes answer again")


def test_a_node_restart_loses_no_request(cluster, cluster_url_reads):
    """`cluster.sh restart node-a` takes it out of nginx first: every read is answered meanwhile."""
    outcomes = cluster_url_reads(lambda: cluster.restart("node-a"))
    assert outcomes["errors"] == [], outcomes["errors"][:5]
    assert outcomes["count"] > 0
    assert cluster.path("node-a", "gunicorn.pid").exists()


@pytest.fixture
def cluster_url_reads(cluster):
    """`run(action)`: GETs from two threads through nginx while `action()` runs; the failures."""
    def run(action):
        stop, errors, count = threading.Event(), [], [0]

        def read():
            with requests.Session() as session:
                while not stop.is_set():
                    for path in READS:
                        try:
                            answer = session.get(cluster.url + path, timeout=30)
                            if answer.status_code != 200:
                                errors.append((path, answer.status_code))
                        except requests.RequestException as error:
                            errors.append((path, repr(error)))
                        count[0] += 1

        threads = [threading.Thread(target=read) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            action()
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        return {"errors": errors, "count": count[0]}

    return run


def test_pgbouncer_pools_in_transaction_mode(cluster, http, psql):
    for port in (cluster.ports["bouncer"], cluster.ports["bouncer_replica"]):
        config = dict((row[0], row[1]) for row in psql(port, "SHOW CONFIG", database="pgbouncer"))
        assert config["pool_mode"] == "transaction"
    _nodes_answering(http, 10, "/wilayah/33")
    pools = psql(cluster.ports["bouncer"], "SHOW POOLS", database="pgbouncer")
    kim = [row for row in pools if row[0] == "kim" and row[1] == "kim"]
    assert kim and kim[0][-1] == "transaction"
    # The nodes' connections reach PostgreSQL through pgbouncer, under the node's name.
    names = {row[0] for row in psql(cluster.ports["pg"],
                                    "SELECT DISTINCT application_name FROM pg_stat_activity WHERE usename = 'kim'")}
    assert names & set(NODES.values()), names
    clients = psql(cluster.ports["bouncer"], "SHOW CLIENTS", database="pgbouncer")
    servers = [row for row in psql(cluster.ports["bouncer"], "SHOW SERVERS", database="pgbouncer")
               if row[2] == "kim"]
    assert len(servers) <= int(config["default_pool_size"]) + int(config["reserve_pool_size"])
    assert len([row for row in clients if row[2] == "kim"]) >= 1


def test_the_replica_streams_from_the_primary(cluster, psql):
    rows = psql(cluster.ports["pg"], "SELECT application_name, state, sync_state, "
                "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), "
                "coalesce(extract(epoch FROM replay_lag), 0) FROM pg_stat_replication")
    assert rows, "no standby connected to the primary"
    name, state, sync_state, lag_bytes, lag_seconds = rows[0]
    assert state == "streaming" and name.startswith("kim-replica")
    assert psql(cluster.ports["replica"], "SELECT pg_is_in_recovery()") == [["t"]]
    # A write on the primary is replayed on the replica.
    marker = uuid.uuid4().hex
    # (in the postgres database: the app's stays the app's)
    psql(cluster.ports["pg"], "CREATE TABLE IF NOT EXISTS cluster_probe (marker text)", database="postgres")
    psql(cluster.ports["pg"], f"INSERT INTO cluster_probe VALUES ('{marker}')", database="postgres")
    wait_until(lambda: psql(cluster.ports["replica"], f"SELECT 1 FROM cluster_probe WHERE marker = '{marker}'",
                            database="postgres"), "the replica replays the primary's write")
    print(f"\nreplica lag: {lag_bytes} bytes, {float(lag_seconds) * 1000:.1f} ms ({sync_state})")


def _public_photo(cluster, psql) -> tuple[str, str]:
    """(activity id, photo key) of a published report of a verified KIM, one nobody asked for yet."""
    rows = psql(cluster.ports["pg"], "SELECT a.id, p.key FROM activity_photo p JOIN activity a ON a.id = p.activity_id "
                "JOIN kim k ON k.id = a.kim_id WHERE a.status = 'published' AND k.status = 'verified' "
                "ORDER BY random() LIMIT 1")
    if not rows:
        pytest.skip("no demo photo of a verified KIM")
    return rows[0][0], rows[0][1]


def _app_saw(cluster, url: str) -> int:
    return sum(cluster.path(node, "access.log").read_text().count(url) for node in NODES)


def test_public_photos_are_cached_by_nginx(cluster, http, psql):
    url = f"/foto/{_public_photo(cluster, psql)[1]}"
    first = http.get(url)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    wait_until(lambda: http.get(url).headers.get("X-Cache-Status") == "HIT", "nginx answers the photo itself")
    seen = _app_saw(cluster, url)
    for _ in range(3):
        again = http.get(url)
        assert again.content == first.content and again.headers["X-Cache-Status"] == "HIT"
    assert _app_saw(cluster, url) == seen


def test_private_photos_are_never_cached_by_nginx(cluster, http, psql):
    """A hidden report's photo: its KIM, the pembina and the direktorat see it, nobody else."""
    activity, key = _public_photo(cluster, psql)
    url = f"/foto/{key}"
    login = http.post("/api/v1/auth/token", json={"email": "direktorat.s1@demo.kim.id",
                                                  "password": "demo-direktorat-2026", "label": "cluster test"})
    assert login.status_code == 201, login.text
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    psql(cluster.ports["pg"], f"UPDATE activity SET status = 'hidden' WHERE id = {activity}")
    try:
        for _ in range(3):
            seen = http.get(url, headers=bearer)
            assert seen.status_code == 200 and seen.headers["Cache-Control"] == "private, no-store"
            assert seen.headers.get("X-Cache-Status") != "HIT" and seen.headers["X-Kim-Node"] in NODES.values()
            anonymous = http.get(url)
            assert anonymous.status_code == 404 and anonymous.headers.get("X-Cache-Status") != "HIT"
    finally:
        psql(cluster.ports["pg"], f"UPDATE activity SET status = 'published' WHERE id = {activity}")
