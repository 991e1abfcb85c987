"""The whole-platform benchmark (`make bench`): the national dataset, gunicorn, wrk on loopback.

Measures, each beside its naive counterpart where one exists (same run, same machine): the
region load and demo generation, the map (first view vs folium's inline pages, tiles), the JSON
APIs at 8 and 32 connections, the pages, activity posting with and without a photo (and then
checks every acknowledged post is in the database), and the memory of the workers and of
PostgreSQL. Prints one table, writes bench/results/<date>.json. Figures, not assertions.

Environment: BENCH_SECONDS (per wrk run, default 5), BENCH_SKIP_GENERATE=1 to keep a national
demo set already loaded (the generation time is then not measured).
"""
import gzip
import io
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.map_bench import (  # noqa: E402
    CENTER,
    VIEWPORT,
    ZOOM,
    Client,
    free_port,
    measure,
    naive_folium_pages,
    start_gunicorn,
    tile_xy,
    viewport_tiles,
    wait_until_up,
)

FLASK = str(ROOT / ".venv" / "bin" / "flask")
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
NATIONAL_KIMS, NATIONAL_ACTIVITIES = 84_000, 1_000_000
RUN = f"bench-{int(time.time())}"

READ_SCRIPT = """
local paths = {%(paths)s}
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%%x+)") or "1", 16))
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept-Encoding"] = "gzip"})
end
"""

WRITE_SCRIPT = """
local posters = {%(posters)s}
local body_suffix = %(suffix)s
local content_type = %(content_type)s
local threads = {}
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%%x+)") or "1", 16))
function setup(thread) table.insert(threads, thread) end
function init(args) created = 0 end
request = function()
  local p = posters[math.random(#posters)]
  return wrk.format("POST", "/api/v1/kims/" .. p[1] .. "/activities",
                    {["Authorization"] = "Bearer " .. p[2], ["Content-Type"] = content_type}, p[3] .. body_suffix)
end
response = function(status, headers, body)
  if status == 201 then created = created + 1 end
end
"""

DONE = """
done = function(summary, latency, requests)
  local created = 0
  if threads then for _, t in ipairs(threads) do created = created + (t:get("created") or 0) end end
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "created": %d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), created))
end
"""


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def lua_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r") + "'"


def wrk(port: int, script: str, connections: int, seconds: int = SECONDS) -> dict:
    """One wrk run; latency figures in ms, rate in requests per second."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + DONE)
        path = handle.name
    try:
        output = subprocess.run(
            ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
             "-s", path, f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    raw = json.loads(re.search(r"^RESULT (.*)$", output, re.M).group(1))
    return {"per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1), "p50_ms": round(raw["p50_us"] / 1000, 1),
            "p95_ms": round(raw["p95_us"] / 1000, 1), "p99_ms": round(raw["p99_us"] / 1000, 1),
            "requests": raw["requests"], "errors": raw["non2xx"] + raw["socket_errors"], "created": raw["created"]}


def read_script(paths: list[str]) -> str:
    return READ_SCRIPT % {"paths": ", ".join(lua_string(p) for p in paths)}


def timed_command(*args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([FLASK, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return round(time.perf_counter() - started, 1), done.stdout


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of one process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = {k: int(v.split()[0]) / 1024 for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
    return round(values.get("VmRSS", 0), 1), round(values.get("VmHWM", 0), 1)


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def postgres_memory() -> dict:
    """The cluster's processes: the largest backend's peak RSS and the sum of private memory."""
    pids = [int(p) for p in subprocess.run(["pgrep", "-f", "postgres"], capture_output=True, text=True).stdout.split()]
    peak, private = 0.0, 0.0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if "postgres" not in Path(f"/proc/{pid}/comm").read_text():
            continue
        fields = {k: int(v.split()[0]) / 1024 for k, v in re.findall(r"^(VmHWM|RssAnon):\s+(.*)$", status, re.M)}
        peak = max(peak, fields.get("VmHWM", 0))
        private += fields.get("RssAnon", 0)
    return {"processes": len(pids), "largest_peak_rss_mb": round(peak, 1), "private_rss_total_mb": round(private, 1)}


def small_jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 120, 60)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def prepare(app) -> dict:
    """Sample paths and poster credentials from the data (deterministic)."""
    from sqlalchemy import text

    from kim_platform.accounts.models import User
    from kim_platform.accounts.services import create_api_token
    from kim_platform.extensions import db

    rng = random.Random(7)
    with app.app_context():
        kims = db.session.execute(text(
            "SELECT id, coalesce(number, slug), desa_code FROM kim WHERE status = 'verified' ORDER BY id")).all()
        sample = rng.sample(kims, 200)
        names = db.session.execute(text(
            "SELECT name FROM region WHERE level IN ('kabupaten', 'kecamatan') ORDER BY code")).scalars().all()
        kabupaten = db.session.execute(text("SELECT code FROM region WHERE level = 'kabupaten' ORDER BY code")).scalars().all()
        provinces = db.session.execute(text("SELECT code FROM region WHERE level = 'provinsi' ORDER BY code")).scalars().all()
        posters = []
        for kim_id, _, desa in rng.sample(kims, 64):
            user_id = db.session.execute(text(
                "SELECT user_id FROM kim_membership WHERE kim_id = :k AND role IN ('ketua', 'admin') LIMIT 1"),
                {"k": kim_id}).scalar()
            if user_id is None:
                continue
            _, secret = create_api_token(db.session.get(User, user_id), RUN)
            posters.append((kim_id, secret, desa))
        db.session.commit()
    bboxes = []
    for _ in range(50):
        lon, lat = rng.uniform(105, 115), rng.uniform(-8, -6)
        bboxes.append(f"{lon:.3f},{lat:.3f},{lon + 0.3:.3f},{lat + 0.2:.3f}")
    return {
        "kims": sample, "posters": posters,
        "api": {
            "regions search": [f"/api/v1/regions?q={n.split()[-1][:6]}" for n in rng.sample(names, 50)],
            "KIM list by bbox": [f"/api/v1/kims?bbox={b}&per_page=50" for b in bboxes],
            "KIM detail": [f"/api/v1/kims/{k[0]}" for k in sample],
            "activity feed by region": [f"/api/v1/activities?region={c}" for c in rng.sample(kabupaten, 50)],
            "coverage by level": [f"/api/v1/coverage?level=kabupaten&parent={p}" for p in provinces]
            + ["/api/v1/coverage?level=provinsi"],
            "teladan by region": [f"/api/v1/teladan?region={p}" for p in provinces],
        },
        "pages": {
            "home /": ["/"],
            "/peta": ["/peta"],
            "/kim/<id>": [f"/kim/{k[1]}" for k in sample[:50]],
            "/cakupan": ["/cakupan"] + [f"/cakupan?wilayah={p}" for p in provinces],
        },
    }


def naive_kim_list(app, bbox: str) -> dict:
    """The KIM list of one bbox as our API serves it vs an ORM loop touching relations per row."""
    from sqlalchemy import select

    from kim_platform.extensions import db
    from kim_platform.kims.models import Kim

    minlon, minlat, maxlon, maxlat = map(float, bbox.split(","))
    with app.test_request_context():
        client = app.test_client()
        ours = []
        for _ in range(5):
            started = time.perf_counter()
            client.get(f"/api/v1/kims?bbox={bbox}&per_page=50")
            ours.append((time.perf_counter() - started) * 1000)
        naive = []
        for _ in range(5):
            started = time.perf_counter()
            from geoalchemy2.functions import ST_MakeEnvelope

            kims = db.session.scalars(select(Kim).where(Kim.status == "verified", Kim.point.intersects(
                ST_MakeEnvelope(minlon, minlat, maxlon, maxlat, 4326))).order_by(Kim.name).limit(50)).all()
            rows = []
            for kim in kims:  # one query per relation per row: the N+1 of a quick prototype
                from kim_platform.regions.models import Region

                desa = db.session.get(Region, kim.desa_code)
                kecamatan = db.session.get(Region, desa.parent_code)
                rows.append({"id": kim.id, "name": kim.name, "desa": desa.name, "kecamatan": kecamatan.name,
                             "members": len(kim.memberships) if hasattr(kim, "memberships") else None,
                             "lat": db.session.scalar(select(Kim.point.ST_Y()).where(Kim.id == kim.id)),
                             "lon": db.session.scalar(select(Kim.point.ST_X()).where(Kim.id == kim.id))})
            json.dumps(rows)
            db.session.expunge_all()
            naive.append((time.perf_counter() - started) * 1000)
    return {"ours_ms": round(statistics.median(ours), 1), "naive_ms": round(statistics.median(naive), 1)}


def main():
    from kim_platform import create_app

    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: run `make bench` (installs Debian's wrk as root) or `apt-get install wrk`")
    results: dict = {"date": date.today().isoformat(), "run": RUN, "machine": {
        "cores": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
        "cpu": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), "?")}}

    # --- data
    progress("region load (idempotent)")
    results["region_load_s"], _ = timed_command("regions", "load")
    app = create_app()
    with app.app_context():
        from sqlalchemy import text

        from kim_platform.extensions import db
        counts = db.session.execute(text("SELECT (SELECT count(*) FROM kim), (SELECT count(*) FROM activity)")).one()
    if os.environ.get("BENCH_SKIP_GENERATE") == "1" and counts[0] >= NATIONAL_KIMS:
        results["demo_generation_s"] = None
    else:
        progress("demo clear and generate: 84k KIMs, 1M reports")
        results["demo_clear_s"], _ = timed_command("demo", "clear")
        seconds, output = timed_command("demo", "generate", "--kims", str(NATIONAL_KIMS), "--activities",
                                        str(NATIONAL_ACTIVITIES), "--seed", "1")
        results["demo_generation_s"] = seconds
        results["demo_generation_output"] = output.strip().splitlines()[-3:]
    with app.app_context():
        counts = db.session.execute(text(
            "SELECT (SELECT count(*) FROM kim), (SELECT count(*) FROM kim WHERE status = 'verified'), "
            "(SELECT count(*) FROM activity)")).one()
    results["data"] = {"kims": counts[0], "verified": counts[1], "activities": counts[2]}
    sample = prepare(app)

    workers = 2 * os.cpu_count() + 1
    port = free_port()
    server = start_gunicorn(port)
    results["workers"] = workers
    try:
        client = Client(port)
        wait_until_up(client, "/peta")

        # --- map: the first view against folium's pages, then tiles
        progress("map: first view, folium pages (about a minute), tiles")
        first_view = viewport_tiles(*CENTER, ZOOM, *VIEWPORT)
        total = 0
        for layer in ("regions", "kims"):
            for z, x, y in first_view:
                status, body, _ = client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf")
                total += len(body) if status == 200 else 0
        results["map"] = {"first_view_gzip_bytes": total, "tiles": 2 * len(first_view),
                          "naive": naive_folium_pages(app)}
        rng = random.Random(1)
        tiles = {}
        for layer in ("kims", "regions"):
            for z, center in ((5, (-4.0, 115.0)), (8, (-7.2, 110.0)), (12, (-6.9, 107.6))):
                cx, cy = tile_xy(*center, z)
                span = 3 if z > 5 else 2
                cells = [(z, cx + dx, cy + dy) for dx in range(-span, span + 1) for dy in range(-span, span + 1)]
                rng.shuffle(cells)
                paths = [f"/tiles/{layer}/{z}/{x}/{y}.pbf" for z, x, y in cells]
                tiles[f"{layer} z{z} uncached c8"] = measure(client, paths, 8)
                tiles[f"{layer} z{z} cached c1"] = measure(client, paths * 2, 1)
                tiles[f"{layer} z{z} cached c8"] = measure(client, paths * 8, 8)
        results["tiles"] = tiles

        # --- APIs and pages under wrk
        progress(f"APIs and pages under wrk, {SECONDS} s per run")
        results["api"] = {name: {f"c{c}": wrk(port, read_script(paths), c) for c in (8, 32)}
                          for name, paths in sample["api"].items()}
        results["api"]["c16 all APIs mixed"] = wrk(port, read_script(
            [p for paths in sample["api"].values() for p in paths]), 16)
        results["pages"] = {}
        for name, paths in sample["pages"].items():
            bodies = [client.get(p, gz=False)[1] for p in paths[:5]]
            results["pages"][name] = {**wrk(port, read_script(paths), 8),
                                      "html_bytes": max(len(b) for b in bodies),
                                      "html_gzip_bytes": max(len(gzip.compress(b)) for b in bodies)}

        # --- naive counterparts measured in this run
        with app.app_context():
            from kim_platform.coverage import queries as coverage

            started = time.perf_counter()
            coverage.direct_coverage_rows("kabupaten", "33")
            direct_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            coverage.coverage_rows("kabupaten", "33")
            ours_ms = (time.perf_counter() - started) * 1000
        results["naive"] = {"coverage kabupaten of a province": {"ours_ms": round(ours_ms, 1),
                                                                "naive_ms": round(direct_ms, 1)},
                            "KIM list, 50 in a bbox": naive_kim_list(app, "110.300,-7.900,110.600,-7.700")}

        # --- writes: JSON and multipart with a photo, every acknowledged post checked afterwards
        progress("posting reports")
        today = date.today().isoformat()
        json_posters = ", ".join("{%d, %s, %s}" % (kim, lua_string(secret), lua_string(json.dumps(
            {"title": f"Bench {RUN}", "date": today, "type": "diskusi", "desa_code": desa,
             "description": "Diskusi warga tentang informasi layanan desa.", "reach_offline": 12})))
            for kim, secret, desa in sample["posters"])
        results["writes"] = {"json c8": wrk(port, WRITE_SCRIPT % {
            "posters": json_posters, "suffix": "''", "content_type": "'application/json'"}, 8)}
        boundary = "benchboundary7d0"
        photo = small_jpeg()
        multipart_posters = []
        for kim, secret, desa in sample["posters"]:
            fields = {"title": f"Bench {RUN} foto", "date": today, "type": "diskusi", "desa_code": desa,
                      "description": "Diskusi warga dengan foto.", "reach_offline": "12"}
            head = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                           for k, v in fields.items())
            multipart_posters.append("{%d, %s, %s}" % (kim, lua_string(secret), lua_string(head)))
        photo_part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a.jpg\"\r\n"
                      f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
        photo_lua = "'" + "".join(f"\\{b:03d}" for b in photo_part) + "'"
        results["writes"]["photo c8"] = wrk(port, WRITE_SCRIPT % {
            "posters": ", ".join(multipart_posters), "suffix": photo_lua,
            "content_type": lua_string(f"multipart/form-data; boundary={boundary}")}, 8)
        results["writes"]["photo c8"]["photo_bytes"] = len(photo)
        acknowledged = sum(w["created"] for w in results["writes"].values())

        # --- memory, while the workers still run
        workers_rss = [rss_mb(pid) for pid in children(server.pid)]
        results["memory"] = {"workers_rss_mb": [r[0] for r in workers_rss],
                             "workers_peak_rss_mb": [r[1] for r in workers_rss], "postgres": postgres_memory()}
    finally:
        server.terminate()
        server.wait(20)

    with app.app_context():
        from kim_platform.core.storage import storage

        found = db.session.execute(text("SELECT count(*) FROM activity WHERE title LIKE :t"),
                                   {"t": f"Bench {RUN}%"}).scalar()
        keys = db.session.execute(text(
            "SELECT p.key, p.thumb_key FROM activity_photo p JOIN activity a ON a.id = p.activity_id "
            "WHERE a.title LIKE :t"), {"t": f"Bench {RUN}%"}).all()
        db.session.execute(text("DELETE FROM activity WHERE title LIKE :t"), {"t": f"Bench {RUN}%"})
        db.session.execute(text("DELETE FROM api_token WHERE label = :run"), {"run": RUN})
        db.session.commit()
        for key, thumb in keys:
            storage().delete(key)
            storage().delete(thumb)
    results["writes"]["acknowledged"] = acknowledged
    results["writes"]["found_in_database"] = found

    print_table(results)
    out = ROOT / "bench" / "results" / f"{results['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"written {out.relative_to(ROOT)}")


def print_table(r: dict) -> None:
    m = r["machine"]
    print(f"\nkim-platform benchmark {r['date']}: {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
          f"gunicorn {r['workers']} workers, wrk on loopback, {SECONDS} s per run")
    d = r["data"]
    print(f"data: {d['kims']:,} KIMs ({d['verified']:,} verified), {d['activities']:,} reports; "
          f"region load {r['region_load_s']} s (nothing changed); demo generation "
          f"{r['demo_generation_s'] if r['demo_generation_s'] is not None else 'not run'} s")
    rows = []
    mp = r["map"]
    naive = mp["naive"]
    ours_kb = mp["first_view_gzip_bytes"] / 1024
    rows.append(("map first view, gzip KB", f"{ours_kb:.1f}", "<= 60",
                 f"folium MarkerCluster {naive['marker_cluster']['gzip'] / 1024:.0f} KB "
                 f"({naive['marker_cluster']['gzip'] / mp['first_view_gzip_bytes']:.0f}x, "
                 f"built in {naive['marker_cluster']['build_s']} s), FastMarkerCluster "
                 f"{naive['fast_marker_cluster']['gzip'] / 1024:.0f} KB "
                 f"({naive['fast_marker_cluster']['gzip'] / mp['first_view_gzip_bytes']:.1f}x)"))
    for name, t in r["tiles"].items():
        target = "p95 <= 15" if name.startswith("kims") and "uncached" in name else (
            ">= 800/s" if "cached c8" in name and name.startswith("kims") else (
                "p95 <= 40" if name.startswith("regions") and "uncached" in name else ""))
        rows.append((f"tiles {name}", f"p50 {t['p50_ms']} p95 {t['p95_ms']} ms, {t['per_s']}/s", target, ""))
    for name, runs in r["api"].items():
        if "c8" in runs:
            rows.append((f"API {name}", f"c8 {runs['c8']['per_s']}/s p95 {runs['c8']['p95_ms']}; "
                         f"c32 {runs['c32']['per_s']}/s p95 {runs['c32']['p95_ms']} ms",
                         "p95 <= 30" if name.startswith("coverage") else "", f"errors {runs['c8']['errors'] + runs['c32']['errors']}"))
        else:
            rows.append((f"API {name}", f"{runs['per_s']}/s p95 {runs['p95_ms']} ms", ">= 1000/s, p95 <= 25",
                         f"errors {runs['errors']}"))
    for name, n in r["naive"].items():
        rows.append((f"naive: {name}", f"ours {n['ours_ms']} ms", "", f"naive {n['naive_ms']} ms "
                     f"({n['naive_ms'] / max(n['ours_ms'], 0.1):.0f}x)"))
    for name, p in r["pages"].items():
        rows.append((f"page {name}", f"p95 {p['p95_ms']} ms, {p['per_s']}/s, {p['html_gzip_bytes'] / 1024:.1f} KB gz",
                     "<= 150 KB gz", f"errors {p['errors']}"))
    for name, w in r["writes"].items():
        if isinstance(w, dict):
            rows.append((f"posting, {name}", f"{w['per_s']}/s p95 {w['p95_ms']} ms",
                         ">= 500/s" if name.startswith("json") else "", f"201s {w['created']}, errors {w['errors']}"))
    rows.append(("posts acknowledged / found", f"{r['writes']['acknowledged']} / {r['writes']['found_in_database']}",
                 "equal", ""))
    mem = r["memory"]
    rows.append(("worker RSS now / peak, MB", f"{max(mem['workers_rss_mb'], default=0)} / "
                 f"{max(mem['workers_peak_rss_mb'], default=0)}", "<= 150", f"{len(mem['workers_rss_mb'])} workers"))
    rows.append(("PostgreSQL", f"largest backend peak {mem['postgres']['largest_peak_rss_mb']} MB",
                 "", f"private total {mem['postgres']['private_rss_total_mb']} MB"))
    width = max(len(row[0]) for row in rows)
    for name, value, target, note in rows:
        print(f"{name:<{width}}  {value:<48} {target:<22} {note}")


if __name__ == "__main__":
    main()
