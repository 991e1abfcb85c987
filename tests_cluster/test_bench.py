"""The benchmark run once against the cluster (issue 21): read throughput through nginx with two app
nodes and with one (node B stopped: nginx sends everything to A), and the replica lag seen while
reports are posted. It prints figures; its only assertions are that the runs answered without
errors (speed is never asserted: on 2 cores a second node adds overhead, not capacity).

    make test-cluster PYTEST_ARGS="-k bench -s"
"""
import json
import re
import subprocess
import threading
import time

import requests

from tests_cluster.load import Load

PATHS = ["/api/v1/regions/33.74", "/api/v1/kims?region=33", "/wilayah/33.74", "/api/v1/activities?region=33",
         "/api/v1/coverage?level=kabupaten&parent=33", "/tiles/kims/8/207/134.pbf", "/"]
SECONDS, CONNECTIONS = 15, 16
SCRIPT = """
local paths = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %%d, "duration_us": %%d, "errors": %%d, '
    .. '"p50_ms": %%.2f, "p99_ms": %%.2f}\\n', summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
    + summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def _wrk(url: str, tmp_path) -> dict:
    script = tmp_path / "reads.lua"
    script.write_text(SCRIPT % ", ".join(json.dumps(p) for p in PATHS))
    answer = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "-s", str(script), url],
                            capture_output=True, text=True, timeout=SECONDS + 60)
    result = json.loads(re.search(r"RESULT (\{.*\})", answer.stdout).group(1))
    result["per_s"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
    return result


def test_read_throughput_with_two_nodes_and_one_and_the_replica_lag(cluster, posters, tmp_path):
    for path in PATHS:  # warm both nodes' workers and caches
        for _ in range(4):
            assert requests.get(cluster.url + path, timeout=30).status_code in (200, 204), path
    two = _wrk(cluster.url, tmp_path)
    with cluster.stopped("node-b"):
        one = _wrk(cluster.url, tmp_path)
    lags, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            row = cluster.psql(cluster.ports["pg"],
                               "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), "
                               "coalesce(extract(epoch FROM replay_lag) * 1000, 0) FROM pg_stat_replication")
            if row:
                lags.append((float(row[0][0] or 0), float(row[0][1] or 0)))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    with Load(cluster.url, PATHS, posters=posters[-40:], clients=8, post_share=0.5) as load:
        load.wait_for(400)
    stop.set()
    sampler.join()
    worst_bytes = max((b for b, _ in lags), default=0)
    worst_ms = max((ms for _, ms in lags), default=0)
    print(f"\ncluster bench ({SECONDS} s each, {CONNECTIONS} connections, through nginx):"
          f"\n  two nodes: {two['per_s']} req/s, p50 {two['p50_ms']} ms, p99 {two['p99_ms']} ms, errors {two['errors']}"
          f"\n  one node:  {one['per_s']} req/s, p50 {one['p50_ms']} ms, p99 {one['p99_ms']} ms, errors {one['errors']}"
          f"\n  replica lag while posting ({len(load.acknowledged)} reports, {len(lags)} samples): "
          f"worst {worst_bytes:.0f} bytes, worst replay_lag {worst_ms:.1f} ms")
    assert two["errors"] == 0 and one["errors"] == 0
    assert load.unexpected == [], load.unexpected[:5]
