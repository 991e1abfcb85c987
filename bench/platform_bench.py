"""The whole-platform benchmark (`make bench`, issue 20): every public read measured against the
framework's own ceiling in the same run.

One gunicorn at a time on loopback, wrk at BENCH_CONNECTIONS (16) connections:
1. the ceiling (bench/ceiling_app.py: bare Flask, one primary-key query on `region`) under the same
   gunicorn settings as the platform, over random region codes;
2. the platform: each public read over thousands of random paths spread across the whole country
   (KIM ids, desa codes and report ids sampled from the database, every kabupaten, many search
   words, common ones such as "Utara" among them), the data version bumped before each run so no
   answer cached by an earlier run can carry it, no If-None-Match; then a "hot path" block (the same
   reads over 10 paths each, plus a conditional run with their ETags where the app sends them), so
   response caching is reported apart; uncached KIM tiles at z5 / z8 / z12 (8 connections, each
   tile requested once per data version); report posting without and with a photo (8 connections;
   every acknowledged report looked up in the database afterwards); worker and PostgreSQL memory;
3. the ceiling again. Ratios use the better of the two ceiling runs (the harder bar).

Prints one table and writes bench/results/<date>.json. Figures, not assertions.

Environment:
  BENCH_SECONDS        seconds per wrk run (default 5; 2 for a quick trial)
  BENCH_CONNECTIONS    connections of the read runs (default 16)
  BENCH_WORKERS        gunicorn workers (default 2 x cores + 1)
  BENCH_WORKER_CLASS   sync (default) or gthread
  BENCH_THREADS        threads per worker with gthread (default 4)
  BENCH_SKIP_GENERATE  1: keep the national demo set already loaded (else clear and generate it)
  BENCH_DATABASE_URL   an existing national database (used as DATABASE_URL; not regenerated when
                       it holds the national set)
  BENCH_POSTERS        accounts posting reports (default 400, one KIM each)
  BENCH_COMPARE        e.g. "sync:5,gthread:5x4,gthread:3x8": only the worker comparison (ceiling
                       and KIM detail per setting), bench/results/<date>-workers.json
"""
import io
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if os.environ.get("BENCH_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]

from bench.map_bench import CENTER, VIEWPORT, ZOOM, Client, free_port, tile_xy, viewport_tiles  # noqa: E402

FLASK = str(ROOT / ".venv" / "bin" / "flask")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WRITE_CONNECTIONS = TILE_CONNECTIONS = 8
NATIONAL_KIMS, NATIONAL_ACTIVITIES = 84_000, 1_000_000
RUN = f"bench-{int(time.time())}"

# Issue 20's targets.
DETAIL_RATIO, OTHER_RATIO = 0.5, 1 / 3
READ_P95_MS, TILE_P95_MS, POSTS_PER_S, WORKER_RSS_MB = 25.0, 15.0, 500.0, 150.0
HOT_PATHS = 10
SAMPLE = 5000  # random ids / codes per read
# Common words of region names: the heavy searches (issue 20); each weighs like ten random words.
COMMON_WORDS = ("Utara", "Selatan", "Barat", "Timur", "Tengah", "Baru", "Jaya", "Sari", "Makmur", "Mulya",
                "Sido", "Kota")

# Limits lifted for the bench's gunicorn only (one client address posts thousands of reports; the
# checks still run on every post). The app's defaults stay as they are.
POSTING_ENV = {"KIM_MAX_REPORTS_PER_DAY": "1000000", "KIM_POST_LIMITS_ACCOUNT": "1000000 per minute",
               "KIM_POST_LIMITS_ADDRESS": "1000000 per minute"}

READ_SCRIPT = """
local paths = {%(paths)s}
local etags = {%(etags)s}
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%%x+)") or "1", 16))
request = function()
  local i = math.random(#paths)
  local headers = {["Accept-Encoding"] = "gzip"}
  if etags[i] then headers["If-None-Match"] = etags[i] end
  return wrk.format("GET", paths[i], headers)
end
"""

# Each path once over all threads: thread k takes paths k, k + n, ...; once its share is sent a
# connection waits (delay) and the thread stops when the last answer is in, so every tile sent is
# counted (wrk still waits out -d). wrk calls the first thread's request() once more before the run,
# to check it: that call sends nothing.
ONCE_SCRIPT = """
local paths = {%(paths)s}
local nthreads = %(threads)d
local counter = 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
function init(args)
  mine = {}
  for i = tid + 1, #paths, nthreads do table.insert(mine, paths[i]) end
  if tid == 0 then sent = -1 else sent = 0 end
  answered = 0
end
delay = function()
  if sent >= #mine then return 600000 end
  return 0
end
request = function()
  sent = sent + 1
  return wrk.format("GET", mine[sent] or mine[1], {["Accept-Encoding"] = "gzip"})
end
response = function(status, headers, body)
  answered = answered + 1
  if answered >= #mine then wrk.thread:stop() end
end
"""

WRITE_SCRIPT = """
local posters = {%(posters)s}
local body_suffix = %(suffix)s
local content_type = %(content_type)s
local threads = {}
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%%x+)") or "1", 16))
function setup(thread) table.insert(threads, thread) end
function init(args) created = 0; ids = "" end
request = function()
  local p = posters[math.random(#posters)]
  return wrk.format("POST", "/api/v1/kims/" .. p[1] .. "/activities",
                    {["Authorization"] = "Bearer " .. p[2], ["Content-Type"] = content_type}, p[3] .. body_suffix)
end
response = function(status, headers, body)
  if status == 201 then
    created = created + 1
    local id = body:match('"url":%%s*"/kegiatan/(%%d+)"')
    if id then ids = ids .. id .. "," end
  end
end
"""

DONE = """
done = function(summary, latency, requests)
  local created, ids = 0, ""
  if threads then for _, t in ipairs(threads) do
    created = created + (t:get("created") or 0)
    ids = ids .. (t:get("ids") or "")
  end end
  io.write("IDS " .. ids .. "\\n")
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "created": %d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), created))
  local parts = {}
  for i = 1, #latency do
    local value, count = latency(i)
    table.insert(parts, string.format("%d:%d", value, count))
  end
  io.write("HISTOGRAM " .. table.concat(parts, ",") .. "\\n")
end
"""


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def lua_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r") + "'"


# --- pure helpers (tests/test_bench_helpers.py)

def percentile_of_histogram(histogram: dict[int, int], p: float) -> float:
    """The p-th percentile (in the histogram's unit) of {value: count}, nearest rank."""
    total = sum(histogram.values())
    if not total:
        return 0.0
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return float(max(histogram))


def verdict(run: dict, ceiling_per_s: float, detail: bool) -> dict:
    """A read's ratio to the ceiling, its targets and whether it meets them (issue 20): at least
    1/2 of the ceiling for detail reads, 1/3 for the others, p95 <= 25 ms, and no errors."""
    target = DETAIL_RATIO if detail else OTHER_RATIO
    ratio = round(run["per_s"] / ceiling_per_s, 3) if ceiling_per_s else 0.0
    met = ratio >= target and run["p95_ms"] <= READ_P95_MS and not run["errors"]
    return {"ratio": ratio, "target_ratio": round(target, 3), "target_p95_ms": READ_P95_MS,
            "met": met, "missed": [] if met else [why for why, bad in (
                ("ratio", ratio < target), ("p95", run["p95_ms"] > READ_P95_MS), ("errors", bool(run["errors"])))
                if bad]}


def better_ceiling(runs: list[dict]) -> dict:
    """The ceiling run the ratios use: the faster one (the harder bar)."""
    return max(runs, key=lambda r: r["per_s"])


# --- running things

def wrk(port: int, script: str, connections: int, seconds: int = SECONDS) -> dict:
    """One wrk run; latency figures in ms, rate in requests per second."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + DONE)
        path = handle.name
    try:
        output = subprocess.run(
            ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
             "-s", path, f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    finally:
        os.unlink(path)
    found = re.search(r"^RESULT (.*)$", output.stdout, re.M)
    if found is None:
        raise RuntimeError(f"wrk gave no result: {output.stdout[-500:]} {output.stderr[-500:]}")
    output = output.stdout
    raw = json.loads(found.group(1))
    found = re.search(r"^HISTOGRAM (.*)$", output, re.M)
    ids = re.search(r"^IDS (.*)$", output, re.M)
    histogram: dict[int, int] = {}
    for pair in (found.group(1).split(",") if found and found.group(1) else []):
        value, count = pair.split(":")
        histogram[int(value)] = histogram.get(int(value), 0) + int(count)
    return {"per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1), "p50_ms": round(raw["p50_us"] / 1000, 1),
            "p95_ms": round(raw["p95_us"] / 1000, 1), "p99_ms": round(raw["p99_us"] / 1000, 1),
            "requests": raw["requests"], "errors": raw["non2xx"] + raw["socket_errors"], "created": raw["created"],
            "_histogram": histogram, "_duration_s": raw["duration_us"] / 1e6,
            "_ids": [int(i) for i in (ids.group(1).split(",") if ids else []) if i]}


def public(run: dict) -> dict:
    return {k: v for k, v in run.items() if not k.startswith("_")}


def read_script(paths: list[str], etags: list[str | None] | None = None) -> str:
    return READ_SCRIPT % {"paths": ", ".join(lua_string(p) for p in paths),
                          "etags": ", ".join("[%d] = %s" % (i + 1, lua_string(e))
                                             for i, e in enumerate(etags or []) if e)}


def once_script(paths: list[str], threads: int) -> str:
    return ONCE_SCRIPT % {"paths": ", ".join(lua_string(p) for p in paths), "threads": threads}


class Server:
    """One gunicorn (the platform or the ceiling) with the run's settings; never two at once."""

    def __init__(self, settings: dict, app: str, env: dict | None = None):
        self.settings, self.app = settings, app
        self.port = free_port()
        command = [GUNICORN, "--workers", str(settings["workers"]), "--worker-class", settings["worker_class"],
                   "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"]
        if settings["worker_class"] == "gthread":
            command += ["--threads", str(settings["threads"])]
        self.command = command + [app]
        self.process = subprocess.Popen(self.command, cwd=ROOT, env={**os.environ, **(env or {})})

    def wait_until_up(self, path: str) -> None:
        client = Client(self.port)
        for _ in range(300):
            try:
                if client.get(path)[0] < 500:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.app} did not answer {path}")

    def workers(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout.split()
        return [int(p) for p in found]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def settings_from_env() -> dict:
    worker_class = os.environ.get("BENCH_WORKER_CLASS", "sync")
    return {"workers": int(os.environ.get("BENCH_WORKERS", 2 * (os.cpu_count() or 1) + 1)),
            "worker_class": worker_class,
            "threads": int(os.environ.get("BENCH_THREADS", "4")) if worker_class == "gthread" else 1}


def describe(settings: dict) -> str:
    threads = f" x {settings['threads']} threads" if settings["worker_class"] == "gthread" else ""
    return f"{settings['workers']} {settings['worker_class']} workers{threads}"


def libpq_url(sqlalchemy_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def measure_ceiling(settings: dict, dsn: str, region_paths: list[str], label: str) -> dict:
    progress(f"ceiling ({label}): bare Flask, one primary-key query, {describe(settings)}")
    server = Server(settings, "bench.ceiling_app:app", {"CEILING_DATABASE_URL": dsn})
    try:
        server.wait_until_up(region_paths[0])
        wrk(server.port, read_script(region_paths[:50]), CONNECTIONS, 1)  # warm-up: connections, imports
        run = public(wrk(server.port, read_script(region_paths), CONNECTIONS))
        run["rss_mb"] = [rss_mb(pid)[0] for pid in server.workers()]
    finally:
        server.stop()
    return {**run, "when": label, "paths": len(region_paths)}


def timed_command(*args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([FLASK, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return round(time.perf_counter() - started, 1), done.stdout


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of one process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = {k: int(v.split()[0]) / 1024 for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
    return round(values.get("VmRSS", 0), 1), round(values.get("VmHWM", 0), 1)


def postgres_memory() -> dict:
    """The cluster's processes: the largest backend's peak RSS and the sum of private memory."""
    pids = [int(p) for p in subprocess.run(["pgrep", "-f", "postgres"], capture_output=True, text=True).stdout.split()]
    peak, private, counted = 0.0, 0.0, 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            if "postgres" not in Path(f"/proc/{pid}/comm").read_text():
                continue
        except OSError:
            continue
        counted += 1
        fields = {k: int(v.split()[0]) / 1024 for k, v in re.findall(r"^(VmHWM|RssAnon):\s+(.*)$", status, re.M)}
        peak = max(peak, fields.get("VmHWM", 0))
        private += fields.get("RssAnon", 0)
    return {"processes": counted, "largest_peak_rss_mb": round(peak, 1), "private_rss_total_mb": round(private, 1)}


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text()
    total_kb = int(re.search(r"^MemTotal:\s+(\d+)", meminfo, re.M).group(1))
    return {"cpu": next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?"),
            "cores": os.cpu_count(), "ram_gb": round(total_kb / 1024 / 1024, 1), "python": platform.python_version(),
            "kernel": platform.release(),
            "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip()}


def command_line() -> str:
    """What ran: `make bench` (or bench-workers) or the script, with the BENCH_ knobs set (a database
    URL only as <set>: it may hold a password)."""
    knobs = " ".join(f"{k}={'<set>' if k == 'BENCH_DATABASE_URL' else shlex.quote(v)}"
                     for k, v in sorted(os.environ.items()) if k.startswith("BENCH_"))
    if os.environ.get("MAKELEVEL"):
        program = "make bench-workers" if os.environ.get("BENCH_COMPARE") else "make bench"
    else:
        program = "python bench/platform_bench.py"
    return " ".join(filter(None, [knobs, program]))


def small_jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 120, 60)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def bump_data_version(app) -> None:
    """Move what maps.tiles.data_version() reads (the coverage_delta sequence; a gap in it changes
    nothing else), then wait out the second each worker keeps its version: every answer cached by
    data version is built afresh."""
    from sqlalchemy import text

    from kim_platform.extensions import db

    with app.app_context():
        db.session.execute(text("SELECT nextval('coverage_delta_id_seq')"))
        db.session.commit()
    time.sleep(1.1)


# --- what to measure

# (name, detail read?) in the order of the table: detail reads aim at 1/2 of the ceiling, others 1/3.
READS = (
    ("region detail /api/v1/regions/<desa>", True),
    ("KIM detail /api/v1/kims/<id>", True),
    ("coverage, kabupaten of a province /api/v1/coverage", False),
    ("KIM list of a kabupaten /api/v1/kims?region=<kab>", False),
    ("activity feed of a kabupaten /api/v1/activities?region=<kab>", False),
    ("page /wilayah/<kab>", False),
    ("region search /api/v1/regions?q=<word>", False),
    ("teladan by region /api/v1/teladan?region=<prov|kab>", False),
    ("page /kegiatan/<id>", True),
    ("page /cakupan?wilayah=<prov|kab>", False),
    ("home page /", False),
    ("page /kim/<ref>", True),
    ("page /aspirasi/publik?wilayah=<kab>", False),
    ("API /api/v1/aspirations/public?region=<kab>", False),
    ("page /aspirasi/publik/<id>", True),
    ("API /api/v1/aspirations/public/<id>", True),
    ("page /kampanye", False),
    ("API /api/v1/campaigns", False),
    ("page /kampanye/<id>", True),
    ("API /api/v1/campaigns/<id>", True),
)
DETAIL = dict(READS)


def prepare(app, posters_wanted: int) -> dict:
    """Paths over the whole country and poster credentials, sampled from the data (deterministic)."""
    from sqlalchemy import text

    from kim_platform.accounts.models import User
    from kim_platform.accounts.services import create_api_token
    from kim_platform.extensions import db

    rng = random.Random(7)

    def rows(sql, **params):
        return db.session.execute(text(sql), params).all()

    def column(sql, **params):
        return [r[0] for r in rows(sql, **params)]

    with app.app_context():
        db.session.execute(text("SELECT setseed(0.7)"))
        regions = column("SELECT code FROM region ORDER BY random() LIMIT :n", n=SAMPLE)
        desa = column("SELECT code FROM region WHERE level = 'desa' ORDER BY random() LIMIT :n", n=SAMPLE)
        kims = rows("SELECT id, coalesce(number, slug) FROM kim WHERE status IN ('verified', 'inactive') "
                    "ORDER BY random() LIMIT :n", n=SAMPLE)
        activities = column("SELECT a.id FROM activity a JOIN kim k ON k.id = a.kim_id WHERE a.status = 'published' "
                            "AND k.status IN ('verified', 'inactive') ORDER BY random() LIMIT :n", n=SAMPLE)
        kabupaten = column("SELECT code FROM region WHERE level = 'kabupaten' ORDER BY code")
        provinces = column("SELECT code FROM region WHERE level = 'provinsi' ORDER BY code")
        names = column("SELECT name FROM region WHERE level IN ('kabupaten', 'kecamatan', 'desa') "
                       "ORDER BY random() LIMIT 20000")
        aspirations = column("SELECT id FROM aspiration WHERE published_at IS NOT NULL ORDER BY random() LIMIT :n",
                             n=SAMPLE)
        campaigns = column("SELECT id FROM campaign WHERE status <> 'draft' ORDER BY random() LIMIT :n", n=SAMPLE)
        points = rows("SELECT ST_Y(point), ST_X(point) FROM kim WHERE status = 'verified' AND point IS NOT NULL "
                      "ORDER BY random() LIMIT 20000")
        posters = []
        for kim_id, user_id, desa_code in rows(
                "SELECT DISTINCT ON (k.id) k.id, m.user_id, k.desa_code FROM kim k "
                "JOIN kim_membership m ON m.kim_id = k.id AND m.role IN ('ketua', 'admin') "
                "JOIN user_account u ON u.id = m.user_id AND u.is_active "
                "WHERE k.status = 'verified' ORDER BY k.id, m.user_id"):
            posters.append((kim_id, user_id, desa_code))
        posters = rng.sample(posters, min(posters_wanted, len(posters)))
        credentials = []
        for kim_id, user_id, desa_code in posters:
            _, secret = create_api_token(db.session.get(User, user_id), RUN)
            credentials.append((kim_id, secret, desa_code))
        db.session.commit()

    words = sorted({w.strip(".,()'") for n in names for w in n.split() if len(w.strip(".,()'")) >= 4})
    searches = rng.sample(words, min(1000, len(words))) + [w for w in COMMON_WORDS for _ in range(10)]
    rng.shuffle(searches)
    places = provinces + kabupaten
    reads = {
        "region detail /api/v1/regions/<desa>": [f"/api/v1/regions/{c}" for c in desa],
        "KIM detail /api/v1/kims/<id>": [f"/api/v1/kims/{k[0]}" for k in kims],
        "coverage, kabupaten of a province /api/v1/coverage": [
            f"/api/v1/coverage?level=kabupaten&parent={p}" for p in provinces],
        "KIM list of a kabupaten /api/v1/kims?region=<kab>": [f"/api/v1/kims?region={c}" for c in kabupaten],
        "activity feed of a kabupaten /api/v1/activities?region=<kab>": [
            f"/api/v1/activities?region={c}" for c in kabupaten],
        "page /wilayah/<kab>": [f"/wilayah/{c}" for c in kabupaten],
        "region search /api/v1/regions?q=<word>": [f"/api/v1/regions?q={quote(w)}" for w in searches],
        "teladan by region /api/v1/teladan?region=<prov|kab>": [f"/api/v1/teladan?region={c}" for c in places],
        "page /kegiatan/<id>": [f"/kegiatan/{a}" for a in activities],
        "page /cakupan?wilayah=<prov|kab>": ["/cakupan"] + [f"/cakupan?wilayah={c}" for c in places],
        "home page /": ["/"],
        "page /kim/<ref>": [f"/kim/{k[1]}" for k in kims],
        "page /aspirasi/publik?wilayah=<kab>": [f"/aspirasi/publik?wilayah={c}" for c in kabupaten],
        "API /api/v1/aspirations/public?region=<kab>": [f"/api/v1/aspirations/public?region={c}" for c in kabupaten],
        "page /aspirasi/publik/<id>": [f"/aspirasi/publik/{a}" for a in aspirations],
        "API /api/v1/aspirations/public/<id>": [f"/api/v1/aspirations/public/{a}" for a in aspirations],
        "page /kampanye": ["/kampanye"],
        "API /api/v1/campaigns": ["/api/v1/campaigns"],
        "page /kampanye/<id>": [f"/kampanye/{c}" for c in campaigns],
        "API /api/v1/campaigns/<id>": [f"/api/v1/campaigns/{c}" for c in campaigns],
    }
    for paths in reads.values():
        rng.shuffle(paths)
    tiles = {}
    for z, wanted in ((5, 0), (8, 0), (12, 600)):
        cells = sorted({(z, *tile_xy(lat, lon, z)) for lat, lon in points})
        rng.shuffle(cells)
        tiles[z] = [f"/tiles/kims/{z}/{x}/{y}.pbf" for z, x, y in (cells[:wanted] if wanted else cells)]
    return {"ceiling": [f"/region/{c}" for c in regions], "reads": reads, "tiles": tiles, "posters": credentials}


def probe(port: int, paths: list[str]) -> dict:
    """Status, ETag and gzip body size of a few paths (each once), after the run."""
    import http.client

    statuses, etags, sizes = [], [], []
    for path in paths[:5]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        sizes.append(len(response.read()))
        statuses.append(response.status)
        etags.append(response.getheader("ETag"))
        connection.close()
    return {"statuses": sorted(set(statuses)), "etag": any(etags), "max_gzip_bytes": max(sizes, default=0)}


def etags_of(port: int, paths: list[str]) -> list[str | None]:
    import http.client

    found = []
    for path in paths:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        response.read()
        found.append(response.getheader("ETag"))
        connection.close()
    return found


def measure_tiles(app, port: int, paths: list[str], min_samples: int) -> dict:
    """Uncached tiles: each tile once per data version, in rounds (the version bumped before each)
    until min_samples tiles are measured (at most ten rounds). p50/p95 over every round; no rate
    (wrk waits out its duration after the last tile)."""
    rounds = max(1, min(10, math.ceil(min_samples / max(len(paths), 1))))
    seconds = max(1, min(SECONDS, math.ceil(len(paths) / 40)))
    histogram: dict[int, int] = {}
    requests, errors = 0, 0
    for _ in range(rounds):
        bump_data_version(app)
        run = wrk(port, once_script(paths, 2), TILE_CONNECTIONS, seconds=seconds)
        for value, count in run["_histogram"].items():
            histogram[value] = histogram.get(value, 0) + count
        requests += run["requests"]
        errors += run["errors"]
    p95 = percentile_of_histogram(histogram, 95) / 1000
    return {"tiles": len(paths), "rounds": rounds, "requests": requests, "errors": errors,
            "p50_ms": round(percentile_of_histogram(histogram, 50) / 1000, 1), "p95_ms": round(p95, 1),
            "target_p95_ms": TILE_P95_MS, "met": p95 <= TILE_P95_MS and not errors}


def version_bump_works(app, port: int, path: str) -> dict:
    """Does bump_data_version() renew cached answers? (a tile's ETag carries the data version)"""
    before = etags_of(port, [path])[0]
    bump_data_version(app)
    after = etags_of(port, [path])[0]
    return {"path": path, "etag_before": before, "etag_after": after,
            "renewed": before is not None and after is not None and after != before}


def posting(port: int, posters: list) -> dict:
    """Reports without and with a photo; a second of posting first warms every worker's write path
    (its reports are removed with the others)."""
    today = date.today().isoformat()

    def json_posters(title: str) -> str:
        return ", ".join("{%d, %s, %s}" % (kim, lua_string(secret), lua_string(json.dumps(
            {"title": title, "date": today, "type": "diskusi", "desa_code": desa,
             "description": "Diskusi warga tentang informasi layanan desa.", "reach_offline": 12})))
            for kim, secret, desa in posters)

    wrk(port, WRITE_SCRIPT % {"posters": json_posters(f"Bench {RUN} warm-up"), "suffix": "''",
                              "content_type": "'application/json'"}, WRITE_CONNECTIONS, 1)
    json_run = wrk(port, WRITE_SCRIPT % {"posters": json_posters(f"Bench {RUN}"), "suffix": "''",
                                         "content_type": "'application/json'"}, WRITE_CONNECTIONS)
    writes = {"json c8": public(json_run)}
    boundary = "benchboundary7d0"
    photo = small_jpeg()
    multipart_posters = []
    for kim, secret, desa in posters:
        fields = {"title": f"Bench {RUN} foto", "date": today, "type": "diskusi", "desa_code": desa,
                  "description": "Diskusi warga dengan foto.", "reach_offline": "12"}
        head = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                       for k, v in fields.items())
        multipart_posters.append("{%d, %s, %s}" % (kim, lua_string(secret), lua_string(head)))
    photo_part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a.jpg\"\r\n"
                  f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    photo_lua = "'" + "".join(f"\\{b:03d}" for b in photo_part) + "'"
    photo_run = wrk(port, WRITE_SCRIPT % {
        "posters": ", ".join(multipart_posters), "suffix": photo_lua,
        "content_type": lua_string(f"multipart/form-data; boundary={boundary}")}, WRITE_CONNECTIONS)
    writes["photo c8"] = public(photo_run)
    writes["_acknowledged_ids"] = json_run["_ids"] + photo_run["_ids"]
    writes["photo c8"]["photo_bytes"] = len(photo)
    writes["json c8"]["target_per_s"] = POSTS_PER_S
    writes["json c8"]["met"] = writes["json c8"]["per_s"] >= POSTS_PER_S and not writes["json c8"]["errors"]
    return writes


def check_and_clean_posts(app, acknowledged_ids: list[int]) -> tuple[int, int]:
    """How many bench reports the database holds, and how many of the acknowledged ones (by the id
    in their 201 answer) it holds; then removes them, their photos and the tokens."""
    from sqlalchemy import text

    from kim_platform.core.storage import storage
    from kim_platform.extensions import db

    with app.app_context():
        found = db.session.execute(text("SELECT count(*) FROM activity WHERE title IN (:a, :b)"),
                                   {"a": f"Bench {RUN}", "b": f"Bench {RUN} foto"}).scalar()
        acknowledged_found = db.session.execute(text(
            "SELECT count(*) FROM activity WHERE id = ANY(:ids) AND title LIKE :t"),
            {"ids": acknowledged_ids, "t": f"Bench {RUN}%"}).scalar()
        keys = db.session.execute(text(
            "SELECT p.key, p.thumb_key FROM activity_photo p JOIN activity a ON a.id = p.activity_id "
            "WHERE a.title LIKE :t"), {"t": f"Bench {RUN}%"}).all()
        db.session.execute(text("DELETE FROM activity WHERE title LIKE :t"), {"t": f"Bench {RUN}%"})
        db.session.execute(text("DELETE FROM api_token WHERE label = :run"), {"run": RUN})
        db.session.commit()
        for key, thumb in keys:
            storage().delete(key)
            if thumb:
                storage().delete(thumb)
    return found, acknowledged_found


def load_data(app, results: dict) -> None:
    from sqlalchemy import text

    from kim_platform.extensions import db

    progress("region load (idempotent)")
    results["region_load_s"], _ = timed_command("regions", "load")
    with app.app_context():
        kims = db.session.execute(text("SELECT count(*) FROM kim")).scalar()
    keep = os.environ.get("BENCH_SKIP_GENERATE") == "1" or bool(os.environ.get("BENCH_DATABASE_URL"))
    if keep and kims >= NATIONAL_KIMS:
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
            "(SELECT count(*) FROM activity), (SELECT count(*) FROM region_tile_geom)")).one()
    results["data"] = {"kims": counts[0], "verified": counts[1], "activities": counts[2],
                       "region_outlines": counts[3]}
    # Fresh planner statistics and visibility maps: a freshly loaded set (scores, regions) may not
    # have been analysed or vacuumed by autovacuum yet; plans made on empty statistics, and
    # index-only scans that visit the heap for every row (the teladan count of a province did
    # 39,703 heap fetches: 49 ms instead of 14), measure the loading, not the platform.
    progress("VACUUM (ANALYZE)")
    started = time.perf_counter()
    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE)"))
    results["analyze_s"] = round(time.perf_counter() - started, 1)


def measure_platform(app, settings: dict, sample: dict, results: dict) -> None:
    server = Server(settings, "kim_platform:create_app()", POSTING_ENV)
    results["platform_command"] = " ".join(server.command[1:])
    try:
        server.wait_until_up("/")
        port = server.port
        reads = {name: paths for name, paths in sample["reads"].items() if paths}
        results["skipped_reads"] = {name: "no such item in the database" for name, paths in sample["reads"].items()
                                    if not paths}
        progress("warm-up: every read a second")
        for paths in reads.values():
            wrk(port, read_script(paths[:200]), CONNECTIONS, 1)

        client = Client(port)
        first_view = viewport_tiles(*CENTER, ZOOM, *VIEWPORT)
        results["map_first_view_gzip_bytes"] = sum(
            len(body) for layer in ("regions", "kims") for z, x, y in first_view
            for status, body, _ in [client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf")] if status == 200)
        results["data_version_bump"] = version_bump_works(app, port, sample["tiles"][5][0])

        progress(f"reads over random paths, {CONNECTIONS} connections, {SECONDS} s each")
        cold = {}
        for name, paths in reads.items():
            bump_data_version(app)
            cold[name] = {**public(wrk(port, read_script(paths), CONNECTIONS)), "paths": len(paths),
                          **probe(port, paths)}
        results["reads"] = cold

        progress(f"hot paths: {HOT_PATHS} per read")
        hot = {}
        for name, paths in reads.items():
            few = paths[:HOT_PATHS]
            hot[name] = {"plain": public(wrk(port, read_script(few), CONNECTIONS))}
            etags = etags_of(port, few)
            if any(etags):
                hot[name]["if_none_match"] = public(wrk(port, read_script(few, etags), CONNECTIONS))
        results["hot"] = hot

        progress(f"uncached KIM tiles, {TILE_CONNECTIONS} connections")
        results["tiles"] = {f"kims z{z}": measure_tiles(app, port, paths, 100 * SECONDS)
                            for z, paths in sample["tiles"].items()}

        progress(f"posting reports, {WRITE_CONNECTIONS} connections, {len(sample['posters'])} accounts")
        results["writes"] = posting(port, sample["posters"])
        results["writes"]["posters"] = len(sample["posters"])
        results["writes"]["gunicorn_env"] = POSTING_ENV

        workers_rss = [rss_mb(pid) for pid in server.workers()]
        results["memory"] = {"workers_rss_mb": [r[0] for r in workers_rss],
                             "workers_peak_rss_mb": [r[1] for r in workers_rss], "postgres": postgres_memory(),
                             "target_worker_rss_mb": WORKER_RSS_MB}
        results["memory"]["met"] = max(results["memory"]["workers_rss_mb"], default=0) <= WORKER_RSS_MB
    finally:
        server.stop()


def compare_workers(app, dsn: str, sample: dict, spec: str) -> None:
    """BENCH_COMPARE: the ceiling and the KIM detail under each worker setting, one after another."""
    rows = []
    detail = sample["reads"]["KIM detail /api/v1/kims/<id>"]
    for item in filter(None, (s.strip() for s in spec.split(","))):
        worker_class, _, count = item.partition(":")
        workers, _, threads = count.partition("x")
        settings = {"workers": int(workers), "worker_class": worker_class, "threads": int(threads or 1)}
        ceiling = measure_ceiling(settings, dsn, sample["ceiling"], describe(settings))
        server = Server(settings, "kim_platform:create_app()")
        try:
            server.wait_until_up("/")
            wrk(server.port, read_script(detail[:200]), CONNECTIONS, 1)
            run = public(wrk(server.port, read_script(detail), CONNECTIONS))
            rss = [rss_mb(pid)[0] for pid in server.workers()]
        finally:
            server.stop()
        rows.append({"setting": describe(settings), **settings, "ceiling": ceiling, "kim_detail": run,
                     "ratio": round(run["per_s"] / ceiling["per_s"], 3) if ceiling["per_s"] else 0,
                     "worker_rss_mb": rss})
    print(f"\nworker settings, {CONNECTIONS} connections, {SECONDS} s per run ({date.today().isoformat()})")
    print(f"{'setting':<28} {'ceiling req/s':>13} {'p95':>7} {'KIM detail req/s':>17} {'p95':>7} {'ratio':>6} "
          f"{'worker RSS MB':>14}")
    for r in rows:
        print(f"{r['setting']:<28} {r['ceiling']['per_s']:>13} {r['ceiling']['p95_ms']:>7} "
              f"{r['kim_detail']['per_s']:>17} {r['kim_detail']['p95_ms']:>7} {r['ratio']:>6} "
              f"{max(r['worker_rss_mb'], default=0):>14}")
    out = ROOT / "bench" / "results" / f"{date.today().isoformat()}-workers.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": date.today().isoformat(), "machine": machine(), "seconds": SECONDS,
                               "connections": CONNECTIONS, "command": command_line(), "rows": rows}, indent=2))
    print(f"written {out.relative_to(ROOT)}")


def main():
    from kim_platform import create_app

    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: run `make bench` (installs Debian's wrk as root) or `apt-get install wrk`")
    settings = settings_from_env()
    started = datetime.now(timezone.utc)
    results: dict = {"date": started.date().isoformat(), "started": started.isoformat(timespec="seconds"),
                     "run": RUN, "machine": machine(), "command": command_line(), "gunicorn": settings,
                     "connections": {"reads": CONNECTIONS, "tiles": TILE_CONNECTIONS, "writes": WRITE_CONNECTIONS},
                     "seconds_per_run": SECONDS}
    app = create_app()
    dsn = libpq_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if os.environ.get("BENCH_COMPARE"):
        compare_workers(app, dsn, prepare(app, 0), os.environ["BENCH_COMPARE"])
        return
    load_data(app, results)
    progress("sampling paths and posting accounts")
    sample = prepare(app, int(os.environ.get("BENCH_POSTERS", "400")))
    try:
        ceilings = [measure_ceiling(settings, dsn, sample["ceiling"], "start")]
        measure_platform(app, settings, sample, results)
        ceilings.append(measure_ceiling(settings, dsn, sample["ceiling"], "end"))
    finally:
        acknowledged_ids = results.get("writes", {}).pop("_acknowledged_ids", [])
        ids_read = len(acknowledged_ids)
        found, acknowledged_found = check_and_clean_posts(app, acknowledged_ids)
    results["ceiling"] = {"runs": ceilings, "used": better_ceiling(ceilings)["when"]}
    ceiling = better_ceiling(ceilings)["per_s"]
    for name, run in results["reads"].items():
        run.update(verdict(run, ceiling, DETAIL[name]))
    for name, runs in results["hot"].items():
        for run in runs.values():
            run["ratio"] = round(run["per_s"] / ceiling, 3) if ceiling else 0.0
    writes = results["writes"]
    writes["acknowledged"] = sum(w["created"] for w in writes.values() if isinstance(w, dict) and "created" in w)
    writes["found_in_database"] = found  # more than acknowledged: posts still open when wrk stopped
    writes["acknowledged_found_by_id"] = acknowledged_found
    # The ids come from the 201 answers ("url": "/kegiatan/<id>"); were they all read, every one must
    # be stored; else only the count can be compared.
    writes["ids_read"] = ids_read == writes["acknowledged"]
    writes["all_acknowledged_found"] = (acknowledged_found == writes["acknowledged"] if writes["ids_read"]
                                        else found >= writes["acknowledged"])
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")

    print_table(results)
    out = ROOT / "bench" / "results" / f"{results['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"written {out.relative_to(ROOT)}")


def print_table(r: dict) -> None:
    m, d = r["machine"], r["data"]
    print(f"\nkim-platform benchmark, {r['started']} ({m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, "
          f"Python {m['python']}, {m['wrk']})")
    print(f"command: {r['command']}")
    print(f"gunicorn {describe(r['gunicorn'])}; wrk on loopback, reads at {r['connections']['reads']} connections, "
          f"tiles and posting at 8; {r['seconds_per_run']} s per run")
    print(f"data: {d['kims']:,} KIMs ({d['verified']:,} verified), {d['activities']:,} reports; region load "
          f"{r['region_load_s']} s; demo generation "
          f"{r['demo_generation_s'] if r['demo_generation_s'] is not None else 'not run (kept)'}"
          f"{' s' if r['demo_generation_s'] is not None else ''}")
    c = r["ceiling"]
    used = better_ceiling(c["runs"])
    print("ceiling (bare Flask, one primary-key query on region): " + "; ".join(
        f"{run['when']} {run['per_s']} req/s p95 {run['p95_ms']} ms" for run in c["runs"])
        + f"; ratios use the {c['used']} run ({used['per_s']} req/s, the better)")
    bump = r["data_version_bump"]
    print(f"data version bump renews cached answers (tile ETag {bump['etag_before']} -> {bump['etag_after']}): "
          f"{'yes' if bump['renewed'] else 'NO'}")
    print()
    head = f"{'read (random paths over the country)':<62} {'paths':>5} {'req/s':>8} {'p95 ms':>7} {'ratio':>6} " \
           f"{'target':>6} {'errors':>6}  result"
    print(head)
    for name, run in r["reads"].items():
        status = "" if run["statuses"] == [200] else f" (status {','.join(map(str, run['statuses']))})"
        result = "met" if run["met"] else "missed: " + ", ".join(run["missed"])
        print(f"{name:<62} {run['paths']:>5} {run['per_s']:>8} {run['p95_ms']:>7} {run['ratio']:>6.2f} "
              f"{run['target_ratio']:>6.2f} {run['errors']:>6}  {result}{status}")
    for name, why in r.get("skipped_reads", {}).items():
        print(f"{name:<62} {'-':>5}  not measured: {why}")
    print(f"targets: ratio to the ceiling >= 1/2 for detail reads, >= 1/3 otherwise; p95 <= {READ_P95_MS:g} ms; "
          f"no errors")
    print(f"\n{'hot paths (' + str(HOT_PATHS) + ' per read; response caching shows here)':<62} {'req/s':>8} "
          f"{'p95 ms':>7} {'ratio':>6}  {'If-None-Match: req/s, p95 ms':>28}")
    for name, runs in r["hot"].items():
        plain, cond = runs["plain"], runs.get("if_none_match")
        conditional = f"{cond['per_s']}, {cond['p95_ms']}" if cond else "no ETag"
        print(f"{name:<62} {plain['per_s']:>8} {plain['p95_ms']:>7} {plain['ratio']:>6.2f}  {conditional:>28}")
    print(f"\n{'uncached KIM tiles, 8 connections':<40} {'tiles':>6} {'rounds':>6} {'measured':>8} {'p50 ms':>7} "
          f"{'p95 ms':>7}  target")
    for name, t in r["tiles"].items():
        print(f"{name:<40} {t['tiles']:>6} {t['rounds']:>6} {t['requests']:>8} {t['p50_ms']:>7} {t['p95_ms']:>7}  "
              f"p95 <= {TILE_P95_MS:g}: {'met' if t['met'] else 'missed'}")
    w = r["writes"]
    print(f"\nposting reports, 8 connections, {w['posters']} accounts (bench gunicorn env: "
          + ", ".join(f"{k}={v}" for k, v in w["gunicorn_env"].items()) + ")")
    for name in ("json c8", "photo c8"):
        run = w[name]
        target = f"target >= {POSTS_PER_S:g}/s: {'met' if run['met'] else 'missed'}" if "met" in run else \
            f"photo {run['photo_bytes'] // 1024} KB"
        print(f"  {name:<10} {run['per_s']:>8}/s  p95 {run['p95_ms']} ms  201s {run['created']}  "
              f"errors {run['errors']}  {target}")
    by_id = w["acknowledged_found_by_id"] if w["ids_read"] else "? (ids not in the answers)"
    print(f"  acknowledged {w['acknowledged']}, of them found by id {by_id}; bench reports "
          f"in the database {w['found_in_database']} (with those still open when wrk stopped): "
          f"{'every acknowledged report stored' if w['all_acknowledged_found'] else 'REPORTS MISSING'}")
    mem = r["memory"]
    print(f"\nworker RSS MB (each): {', '.join(map(str, mem['workers_rss_mb']))}; peak "
          f"{max(mem['workers_peak_rss_mb'], default=0)}; target <= {WORKER_RSS_MB:g}: "
          f"{'met' if mem['met'] else 'missed'}")
    pg = mem["postgres"]
    print(f"PostgreSQL: {pg['processes']} processes, largest backend peak {pg['largest_peak_rss_mb']} MB, "
          f"private memory {pg['private_rss_total_mb']} MB in all")
    outlines = "" if d["region_outlines"] else " (no region outlines: run `flask maps prepare`, as `make bench` does)"
    print(f"map first view (tiles, gzip): {r['map_first_view_gzip_bytes'] / 1024:.1f} KB{outlines}")


if __name__ == "__main__":
    main()
