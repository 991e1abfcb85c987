"""Map benchmark: the national first view and vector tiles against folium's inline pages.

Runs gunicorn on a free loopback port against the development database (which should hold
the national demo set: `make demo-national`), then prints a table and writes
bench/results/<date>-map.json. Figures, not assertions: see README "Performance".
"""
import gzip
import http.client
import json
import math
import os
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VIEWPORT = (1280, 800)  # the national first view on a laptop; a phone needs fewer tiles
CENTER, ZOOM = (-2.5, 118.0), 5


def tile_xy(lat, lon, z):
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def viewport_tiles(lat, lon, z, width, height):
    n = 2 ** z
    cx = (lon + 180) / 360 * n * 256
    cy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n * 256
    xs = range(int((cx - width / 2) // 256), int((cx + width / 2) // 256) + 1)
    ys = range(int((cy - height / 2) // 256), int((cy + height / 2) // 256) + 1)
    return [(z, x, y) for x in xs for y in ys if 0 <= x < n and 0 <= y < n]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port):
        self.port = port

    def get(self, path, gz=True):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        started = time.perf_counter()
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"} if gz else {})
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        connection.close()
        return response.status, body, elapsed


def start_gunicorn(port, env=None):
    """The app as production runs it: gunicorn with 2 x cores + 1 workers, on loopback. The daily
    report cap and the posting rate limits are lifted: the write benchmark posts far beyond them."""
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(2 * os.cpu_count() + 1), "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "kim_platform:create_app()"], cwd=ROOT,
        env={**(env or os.environ), "KIM_MAX_REPORTS_PER_DAY": "1000000",
             "KIM_POST_LIMITS_ACCOUNT": "1000000 per minute", "KIM_POST_LIMITS_ADDRESS": "1000000 per minute"})


def wait_until_up(client, path):
    for _ in range(100):
        try:
            if client.get(path)[0] == 200:
                return
        except OSError:
            time.sleep(0.2)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def measure(client, paths, concurrency):
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(client.get, paths))
    wall = time.perf_counter() - started
    times = [r[2] for r in results]
    sizes = [len(r[1]) for r in results]
    return {"n": len(paths), "p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1),
            "per_s": round(len(paths) / wall, 1), "max_bytes": max(sizes),
            "errors": sum(1 for r in results if r[0] >= 400)}


def naive_folium_pages(app):
    """folium with every KIM inline, the way a quick prototype would do it."""
    import folium
    from folium.plugins import FastMarkerCluster, MarkerCluster
    from sqlalchemy import text

    from kim_platform.extensions import db

    with app.app_context():
        rows = db.session.execute(text(
            "SELECT ST_Y(point), ST_X(point), name FROM kim WHERE status = 'verified'")).all()
    out = {"kims": len(rows)}
    started = time.perf_counter()
    fmap = folium.Map(location=CENTER, zoom_start=ZOOM)
    cluster = MarkerCluster().add_to(fmap)
    for lat, lon, name in rows:
        folium.Marker([lat, lon], popup=name).add_to(cluster)
    page = fmap.get_root().render().encode()
    out["marker_cluster"] = {"raw": len(page), "gzip": len(gzip.compress(page)),
                             "build_s": round(time.perf_counter() - started, 1)}
    started = time.perf_counter()
    fmap = folium.Map(location=CENTER, zoom_start=ZOOM)
    FastMarkerCluster([[lat, lon] for lat, lon, _ in rows]).add_to(fmap)
    page = fmap.get_root().render().encode()
    out["fast_marker_cluster"] = {"raw": len(page), "gzip": len(gzip.compress(page)),
                                  "build_s": round(time.perf_counter() - started, 1)}
    return out


def main():
    sys.path.insert(0, str(ROOT))
    from kim_platform import create_app

    app = create_app()
    port = free_port()
    env = dict(os.environ)
    server = start_gunicorn(port, env)
    try:
        client = Client(port)
        wait_until_up(client, "/peta")
        results = {"date": date.today().isoformat(), "machine": f"{os.cpu_count()} cores"}
        first_view = viewport_tiles(*CENTER, ZOOM, *VIEWPORT)
        total = 0
        for layer in ("regions", "kims"):
            for z, x, y in first_view:
                status, body, _ = client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf")
                total += len(body) if status == 200 else 0
        results["first_view"] = {"tiles": 2 * len(first_view), "gzip_bytes": total}
        results["naive"] = naive_folium_pages(app)
        rng = random.Random(1)
        for layer in ("kims", "regions"):
            for z, center in ((5, (-4.0, 115.0)), (8, (-7.2, 110.0)), (12, (-6.9, 107.6))):
                cx, cy = tile_xy(*center, z)
                span = 3 if z > 5 else 2
                tiles = [(z, cx + dx, cy + dy) for dx in range(-span, span + 1) for dy in range(-span, span + 1)]
                rng.shuffle(tiles)
                paths = [f"/tiles/{layer}/{z}/{x}/{y}.pbf" for z, x, y in tiles]
                # First touch of each tile in each worker is uncached; repeat for the cached figure.
                results[f"{layer}_z{z}_uncached"] = measure(client, paths, 8)
                results[f"{layer}_z{z}_cached"] = measure(client, paths * 8, 8)
    finally:
        server.terminate()
        server.wait(10)
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{results['date']}-map.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {path}")


def print_table(results):
    naive = results["naive"]
    first = results["first_view"]["gzip_bytes"]
    print(f"\nMap benchmark, {results['date']}, {results['machine']}, {naive['kims']} verified KIMs\n")
    print(f"{'national first view (tiles, gzip)':45} {first / 1024:10.1f} KB  ({results['first_view']['tiles']} tiles)")
    for key, label in (("marker_cluster", "folium MarkerCluster page"), ("fast_marker_cluster", "folium FastMarkerCluster page")):
        page = naive[key]
        print(f"{label + ' (gzip)':45} {page['gzip'] / 1024:10.1f} KB  raw {page['raw'] / 1024 / 1024:.1f} MB, "
              f"built in {page['build_s']} s, ratio {page['gzip'] / max(first, 1):.0f}x")
    print(f"\n{'tiles (concurrency 8)':28} {'p50 ms':>8} {'p95 ms':>8} {'tiles/s':>9} {'max B':>8} {'errors':>7}")
    for key, row in results.items():
        if isinstance(row, dict) and "p95_ms" in row:
            print(f"{key:28} {row['p50_ms']:8} {row['p95_ms']:8} {row['per_s']:9} {row['max_bytes']:8} {row['errors']:7}")


if __name__ == "__main__":
    main()
