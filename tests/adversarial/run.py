"""`make test-adversarial`: the long checks that do not fit in `make test`.

    crash   16 clients post reports through gunicorn; a worker is killed with SIGKILL, then
            PostgreSQL is stopped with `pg_ctl -m immediate` and started again. Every post
            acknowledged with 201 must be in the database with its photos and their files,
            no photo file may be orphaned, the app must answer 503 while the database is down
            and recover without a restart. The cluster's durability settings are checked.
    brute   login attempts on one account through gunicorn: 429 after the limit, across workers
            when KIM_RATELIMIT_STORAGE_URI points at Redis (a local redis-server is started).
    soak    N clients (SOAK_CLIENTS, default 50) for SOAK_SECONDS (default 600) on a mix of
            reads and writes: errors, and the workers' memory at the start and the end.
    wapiti  Debian's wapiti scanner (xss, sql, permanentxss, file, exec) on loopback for at most
            WAPITI_SECONDS (default 300): no vulnerability and no anomaly (500) may be reported.

Runs against the development database (`make run` data). Prints a summary table per check and
exits non-zero when a check fails.
"""
import http.client
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.map_bench import free_port  # noqa: E402

RUN = f"adv-{int(time.time())}"
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")


def gunicorn(port: int, env: dict | None = None, workers: int = 5) -> subprocess.Popen:
    """The app as in production; the daily report cap and the posting rate limits are lifted, the
    clients post far beyond them from one address."""
    return subprocess.Popen([GUNICORN, "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level",
                             "error", "--graceful-timeout", "5", "kim_platform:create_app()"], cwd=ROOT,
                            env={**os.environ, "KIM_MAX_REPORTS_PER_DAY": "1000000",
                                 "KIM_POST_LIMITS_ACCOUNT": "1000000 per minute",
                                 "KIM_POST_LIMITS_ADDRESS": "1000000 per minute", **(env or {})})


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 30) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_up(port: int, path: str = "/wilayah") -> None:
    for _ in range(150):
        try:
            if request(port, "GET", path)[0] < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the app did not answer on {path}")


def table(title: str, rows: list[tuple[str, object]]) -> None:
    print(f"\n{title}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def posters(app, count: int) -> list[tuple[int, str, str]]:
    """(kim id, token, desa) for `count` KIM admins or ketua of verified KIMs, tokens labelled RUN."""
    from sqlalchemy import text

    from kim_platform.accounts.models import User
    from kim_platform.accounts.services import create_api_token
    from kim_platform.extensions import db

    with app.app_context():
        rows = db.session.execute(text("""
            SELECT DISTINCT ON (k.id) k.id, m.user_id, k.desa_code FROM kim k
            JOIN kim_membership m ON m.kim_id = k.id AND m.role IN ('ketua', 'admin')
            JOIN user_account u ON u.id = m.user_id AND u.is_active
            WHERE k.status = 'verified' ORDER BY k.id LIMIT :n"""), {"n": count}).all()
        out = []
        for kim_id, user_id, desa in rows:
            _, secret = create_api_token(db.session.get(User, user_id), RUN)
            out.append((kim_id, secret, desa))
        db.session.commit()
    if len(out) < count:
        raise SystemExit("not enough verified KIMs with an admin: load the demo data (make run)")
    return out


def jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (random.randint(0, 255), 90, 40)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def post_report(port: int, poster, with_photo: bool, title: str) -> tuple[int, dict | None]:
    kim_id, secret, desa = poster
    fields = {"title": title, "date": date.today().isoformat(), "type": "diskusi", "desa_code": desa,
              "description": "Uji ketahanan.", "reach_offline": "5"}
    headers = {"Authorization": f"Bearer {secret}"}
    if with_photo:
        boundary = "advboundary"
        parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
                 for k, v in fields.items()]
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a.jpg\"\r\n"
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + jpeg() + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    else:
        body = json.dumps(fields).encode()
        headers["Content-Type"] = "application/json"
    status, raw = request(port, "POST", f"/api/v1/kims/{kim_id}/activities", body, headers)
    return status, (json.loads(raw) if status == 201 else None)


def stored_keys(app) -> set[str]:
    from kim_platform.core.storage import storage

    return set(storage().keys_older_than(float("-inf")))  # every file, leftover .part ones too


def check_crash(app) -> bool:
    from sqlalchemy import text

    from kim_platform.core.storage import storage
    from kim_platform.extensions import db

    with app.app_context():
        settings = {name: db.session.execute(text(f"SHOW {name}")).scalar()
                    for name in ("fsync", "synchronous_commit", "full_page_writes")}
        files_before = stored_keys(app)
    crew = posters(app, 16)
    port = free_port()
    server = gunicorn(port)
    wait_up(port)
    stop = threading.Event()
    lock = threading.Lock()
    tally = {"sent": 0, "acknowledged": [], "503": 0, "connection errors": 0, "other": {}}
    phase = {"name": "running", "db_down": False}
    down_answers: list[tuple[int, bytes]] = []
    ok_after_restart = threading.Event()

    def client(n: int) -> None:
        poster = crew[n]
        i = 0
        while not stop.is_set():
            i += 1
            photo = i % 4 == 0
            try:
                status, body = post_report(port, poster, photo, f"{RUN} {n}-{i}")
            except OSError:
                with lock:
                    tally["sent"] += 1
                    tally["connection errors"] += 1
                time.sleep(0.05)
                continue
            with lock:
                tally["sent"] += 1
                if status == 201:
                    tally["acknowledged"].append((body["id"], len(body["photos"]), photo))
                    if phase["name"] == "restarted":
                        ok_after_restart.set()
                elif status == 503:
                    tally["503"] += 1
                else:
                    tally["other"][status] = tally["other"].get(status, 0) + 1

    pool = ThreadPoolExecutor(16)
    for n in range(16):
        pool.submit(client, n)
    time.sleep(4)
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True,
                                              text=True).stdout.split()]
    os.kill(workers[0], signal.SIGKILL)
    phase["name"] = "worker killed"
    time.sleep(4)
    subprocess.run([str(ROOT / "scripts" / "db.sh"), "crash"], check=True)
    phase["name"], phase["db_down"] = "database down", True
    time.sleep(1)
    for path in ("/wilayah", "/api/v1/regions/76"):
        try:
            down_answers.append(request(port, "GET", path))
        except OSError:
            down_answers.append((0, b""))
    time.sleep(3)
    subprocess.run([str(ROOT / "scripts" / "db.sh"), "start"], check=True)
    phase["name"], phase["db_down"] = "restarted", False
    ok_after_restart.wait(timeout=30)
    time.sleep(4)
    stop.set()
    pool.shutdown(wait=True)
    server.send_signal(signal.SIGTERM)
    server.wait(30)

    with app.app_context():
        db.engine.dispose()  # the cluster restarted under this process's pool too
        acknowledged = tally["acknowledged"]
        ids = [a[0] for a in acknowledged]
        found = dict(db.session.execute(text(
            "SELECT a.id, count(p.id) FROM activity a LEFT JOIN activity_photo p ON p.activity_id = a.id "
            "WHERE a.id = ANY(:ids) GROUP BY a.id"), {"ids": ids}).all())
        missing = [i for i in ids if i not in found]
        wrong_photos = [i for i, photos, _ in acknowledged if i in found and found[i] != photos]
        run_rows = db.session.execute(text(
            "SELECT count(*) FROM activity WHERE title LIKE :t"), {"t": f"{RUN} %"}).scalar()
        keys = db.session.execute(text(
            "SELECT p.key, p.thumb_key FROM activity_photo p JOIN activity a ON a.id = p.activity_id "
            "WHERE a.title LIKE :t"), {"t": f"{RUN} %"}).all()
        referenced = {k for pair in keys for k in pair}
        files_now = stored_keys(app)
        new_files = {Path(k).name for k in files_now - files_before}
        orphans = new_files - {Path(k).name for k in referenced}
        missing_files = [k for k in referenced if not storage().exists(k)]
        # clean up what the run wrote
        db.session.execute(text("DELETE FROM activity WHERE title LIKE :t"), {"t": f"{RUN} %"})
        db.session.execute(text("DELETE FROM api_token WHERE label = :r"), {"r": RUN})
        db.session.commit()
        for key in referenced | orphans:
            storage().delete(key)
    friendly = all(status == 503 for status, _ in down_answers) and b"<html" in down_answers[0][1]
    passed = (not missing and not wrong_photos and not orphans and not missing_files and friendly
              and not tally["other"] and ok_after_restart.is_set() and all(v == "on" for v in settings.values()))
    table("crash safety: 16 clients, SIGKILL of a worker, pg_ctl stop -m immediate, restart", [
        ("durability settings", ", ".join(f"{k}={v}" for k, v in settings.items())),
        ("requests sent", tally["sent"]),
        ("acknowledged (201)", len(acknowledged)),
        ("acknowledged found in the database", len(acknowledged) - len(missing)),
        ("with photos: acknowledged / photo rows right", f"{sum(1 for a in acknowledged if a[2])} / "
                                                         f"{sum(1 for a in acknowledged if a[2]) - len(wrong_photos)}"),
        ("rows written by the run (incl. unacknowledged)", run_rows),
        ("503 while the database was down", tally["503"]),
        ("connection errors (killed worker, restarts)", tally["connection errors"]),
        ("other statuses", tally["other"] or "none"),
        ("answers while down", [s for s, _ in down_answers]),
        ("recovered without restarting the app", ok_after_restart.is_set()),
        ("orphan photo files / referenced files missing", f"{len(orphans)} / {len(missing_files)}"),
        ("result", "PASS" if passed else "FAIL"),
    ])
    return passed


def check_brute(app) -> bool:
    """Login throttling through 5 gunicorn workers, in memory (per worker) and with Redis (shared)."""
    results = []
    redis_server = shutil.which("redis-server")
    modes = [("memory (per worker)", {})]
    redis_proc = None
    if redis_server:
        redis_port = free_port()
        redis_proc = subprocess.Popen([redis_server, "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                                      stdout=subprocess.DEVNULL)
        modes.append(("redis (shared)", {"KIM_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis_port}"}))
    try:
        for name, env in modes:
            port = free_port()
            server = gunicorn(port, env)
            try:
                wait_up(port, "/masuk")
                statuses = []
                for i in range(40):
                    body = urlencode({"email": "korban@example.id", "password": f"salah-{i}"})
                    statuses.append(request(port, "POST", "/api/v1/auth/token",
                                            json.dumps({"email": "korban@example.id",
                                                        "password": f"salah-{i}"}).encode(),
                                            {"Content-Type": "application/json"})[0])
                    del body
                first_429 = next((i + 1 for i, s in enumerate(statuses) if s == 429), None)
                results.append((name, first_429, statuses.count(429), len(statuses)))
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
    finally:
        if redis_proc:
            redis_proc.terminate()
            redis_proc.wait(10)
    rows = [(f"{name}: first 429 at attempt / 429s of {n}", f"{first} / {count}") for name, first, count, n in results]
    shared = [r for r in results if r[0].startswith("redis")]
    passed = all(first is not None for _, first, _, _ in results) and all(first <= 6 for _, first, _, _ in shared)
    if not redis_server:
        rows.append(("redis", "redis-server not installed: shared limits not checked"))
    rows.append(("result", "PASS" if passed else "FAIL"))
    table("brute force: 40 logins on one account through 5 workers (limit 5/min per account)", rows)
    return passed


def check_soak(app) -> bool:
    seconds = int(os.environ.get("SOAK_SECONDS", "600"))
    clients = int(os.environ.get("SOAK_CLIENTS", "50"))
    crew = posters(app, 10)
    port = free_port()
    server = gunicorn(port)
    wait_up(port)

    def memory() -> list[float]:
        pids = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        out = []
        for pid in pids:
            status = Path(f"/proc/{pid}/status").read_text()
            out.append(round(int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
                             / 1024, 1))
        return out

    reads = ["/", "/peta", "/kim", "/kegiatan", "/cakupan", "/teladan", "/api/v1/kims?per_page=20",
             "/api/v1/activities", "/api/v1/coverage", "/tiles/kims/5/25/16.pbf", "/tiles/regions/8/212/131.pbf",
             "/api/v1/regions?q=mamuju"]
    start_rss = memory()
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    tally = {"requests": 0, "errors": 0, "writes": 0}

    def client(n: int) -> None:
        rng = random.Random(n)
        while time.monotonic() < stop:
            try:
                if rng.random() < 0.1:
                    status, _ = post_report(port, crew[n % len(crew)], False, f"{RUN} soak {n}")
                    ok = status == 201
                    with lock:
                        tally["writes"] += 1
                else:
                    status, _ = request(port, "GET", rng.choice(reads))
                    ok = status < 400
            except OSError:
                ok = False
            with lock:
                tally["requests"] += 1
                tally["errors"] += 0 if ok else 1

    with ThreadPoolExecutor(clients) as pool:
        for n in range(clients):
            pool.submit(client, n)
    end_rss = memory()
    server.send_signal(signal.SIGTERM)
    server.wait(30)
    with app.app_context():
        from sqlalchemy import text

        from kim_platform.extensions import db
        db.session.execute(text("DELETE FROM activity WHERE title LIKE :t"), {"t": f"{RUN} %"})
        db.session.execute(text("DELETE FROM api_token WHERE label = :r"), {"r": RUN})
        db.session.commit()
    grown = max(end_rss, default=0) - max(start_rss, default=0)
    passed = tally["errors"] == 0 and grown < 50
    table(f"soak: {clients} clients for {seconds} s, 90% reads / 10% report posts", [
        ("requests", tally["requests"]), ("of which posts", tally["writes"]), ("errors", tally["errors"]),
        ("worker RSS at start, MB", start_rss), ("worker RSS at end, MB", end_rss),
        ("result", "PASS" if passed else "FAIL"),
    ])
    return passed


def check_wapiti(app) -> bool:
    """Debian's wapiti (xss, sql, permanentxss, file, exec) against the running app on loopback."""
    import tempfile

    if shutil.which("wapiti") is None:
        table("wapiti", [("result", "SKIPPED: wapiti not installed (make test-adversarial installs it as root)")])
        return True
    seconds = os.environ.get("WAPITI_SECONDS", "300")
    port = free_port()
    server = gunicorn(port)
    wait_up(port)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "wapiti.json"
        started = time.monotonic()
        scan = subprocess.run(["wapiti", "-u", f"http://127.0.0.1:{port}/", "--scope", "folder", "-m",
                        "xss,sql,permanentxss,file,exec", "--max-scan-time", seconds, "--max-links-per-page", "30",
                        "--max-files-per-dir", "40", "-d", "4", "--flush-session",  # no -x: Debian's 3.0.4 crashes on it
                        "-f", "json", "-o", str(report), "--store-session", tmp],
                       capture_output=True, text=True, timeout=int(seconds) + 600)
        elapsed = round(time.monotonic() - started)
        data = json.loads(report.read_text()) if report.exists() else {}
    server.send_signal(signal.SIGTERM)
    server.wait(30)
    findings = {name: len(items) for name, items in (data.get("vulnerabilities") or {}).items() if items}
    anomalies = {name: len(items) for name, items in (data.get("anomalies") or {}).items() if items}
    import re

    found = re.search(r"found (\d+) URLs", scan.stdout)
    crawled = int(found.group(1)) if found else 0
    passed = bool(data) and crawled > 0 and not findings
    table(f"wapiti: xss, sql, permanentxss, file, exec for at most {seconds} s", [
        ("scan time, s", elapsed), ("URLs and forms found", crawled), ("vulnerabilities", findings or "none"),
        ("anomalies (e.g. 500s)", anomalies or "none"), ("result", "PASS" if passed else "FAIL"),
    ])
    return passed and not anomalies


CHECKS = {"crash": check_crash, "brute": check_brute, "soak": check_soak, "wapiti": check_wapiti}


def main() -> None:
    from kim_platform import create_app

    chosen = sys.argv[1:] or list(CHECKS)
    app = create_app()
    outcomes = {name: CHECKS[name](app) for name in chosen}
    table("summary", [(name, "PASS" if ok else "FAIL") for name, ok in outcomes.items()])
    sys.exit(0 if all(outcomes.values()) else 1)


if __name__ == "__main__":
    main()
