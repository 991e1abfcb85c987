"""Statements, CPU and wall time per tile request, in process, with and without the shared Redis cache.

    DATABASE_URL=postgresql+psycopg2://kim@127.0.0.1:54329/kim_nat \\
    REDIS=redis://127.0.0.1:56451/0 .venv/bin/python bench/redis_tiles.py

Requests a grid of KIM-point tiles (z12 around Jakarta, 320 tiles, the busiest part of the national
data) through the Flask test client: first without KIM_REDIS_URL (a miss builds, a hit comes from the
per-process LRU), then with it (miss: built and stored in Redis; local hit; Redis hit: the per-process
LRU emptied, as another node sees a tile the first built). CPU is this process's (time.process_time);
PostGIS's own work is in the server, counted in the wall time only."""
import os
import statistics
import sys
import time

from sqlalchemy import event

from kim_platform import create_app
from kim_platform.extensions import db
from kim_platform.maps import tiles

X0, Y0, WIDTH, HEIGHT, Z = 3255, 2110, 20, 16, 12  # Jakarta and around, z12


def paths() -> list[str]:
    return [f"/tiles/kims/{Z}/{x}/{y}.pbf" for x in range(X0, X0 + WIDTH) for y in range(Y0, Y0 + HEIGHT)]


def run(client, label: str, seen: list) -> None:
    statements, cpu, wall = [], [], []
    for path in paths():
        before = len(seen)
        c0, w0 = time.process_time(), time.perf_counter()
        response = client.get(path, headers={"Accept-Encoding": "gzip"})
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
        assert response.status_code in (200, 204), (path, response.status_code)
        statements.append(len(seen) - before)
    print(f"{label:32s} n={len(cpu)} statements/req={statistics.mean(statements):.2f} "
          f"cpu ms median={statistics.median(cpu):.2f} mean={statistics.mean(cpu):.2f} "
          f"wall ms median={statistics.median(wall):.2f} mean={statistics.mean(wall):.2f} "
          f"builds={tiles.shared.builds} redis_hits={tiles.shared.shared_hits}")


def measure(redis_url: str | None) -> None:
    app = create_app({"REDIS_URL": redis_url} if redis_url else {})
    seen: list = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: seen.append(1))
        if redis_url:
            from kim_platform.core.redis import shared_redis

            shared_redis().flushdb()
    client = app.test_client()
    tiles.cache.clear()
    tiles.shared.clear_counts()
    tiles.forget_version()
    name = "redis" if redis_url else "no redis"
    client.get("/tiles/kims/5/25/16.pbf")  # warm the pool, the compiled visibility SQL
    tiles.cache.clear()
    tiles.shared.clear_counts()
    run(client, f"{name}: miss (built)", seen)
    run(client, f"{name}: hit (local LRU)", seen)
    if redis_url:
        tiles.cache.clear()
        run(client, f"{name}: hit (Redis, LRU emptied)", seen)


if __name__ == "__main__":
    measure(None)
    if os.environ.get("REDIS"):
        measure(os.environ["REDIS"])
    else:
        print("REDIS unset: skipped the Redis runs", file=sys.stderr)
