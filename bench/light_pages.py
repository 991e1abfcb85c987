"""Light-pages benchmark (issue 16): what a volunteer's phone downloads and how soon it draws.

Runs gunicorn on a free loopback port against the development database (after `make demo`), logs
in as the demo ketua and drives Debian's Chromium through Playwright with Lighthouse's mobile
profile applied over the DevTools protocol: 150 ms RTT, 1.6 Mbps down, 750 kbps up, 4x CPU
slowdown. Lighthouse's DevTools throttling turns these into a request latency of 150 × 3.75 ms and
90% of the throughputs (lighthouse-core/config/constants.js); the same is done here.

For every page a volunteer uses it prints the bytes transferred on a first visit (empty cache,
no service worker) and on a repeat visit (HTTP cache and, once /sw.js exists, the service
worker's cache), and the first contentful paint of "Lapor kegiatan" on a first visit and offline
(only with a service worker: without one it prints "no service worker"). Figures, not
assertions; bench/results/<date>-pages.json keeps them.

    .venv/bin/python bench/light_pages.py          # or: make bench-pages
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
# Lighthouse's mobile profile ("slow 4G", Moto G Power) as its DevTools throttling applies it.
RTT_MS, DOWN_KBPS, UP_KBPS, CPU_SLOWDOWN = 150, 1.6 * 1024, 750, 4
PROFILE = {"offline": False, "latency": RTT_MS * 3.75,
           "downloadThroughput": DOWN_KBPS * 1024 / 8 * 0.9, "uploadThroughput": UP_KBPS * 1024 / 8 * 0.9}
VIEWPORT = {"width": 412, "height": 823}  # Lighthouse's mobile screen
# Base-map tiles come from OpenStreetMap's servers: not ours to count, and not reachable offline.
BLOCKED = ["*tile.openstreetmap.org*"]
TARGETS = {"first_kb": 150, "repeat_kb": 20, "fcp_first_s": 2.0, "fcp_offline_s": 0.5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", "3", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "kim_platform:create_app()"], cwd=ROOT, env=os.environ.copy())


def wait_until_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)


def volunteer() -> tuple[str, str, str]:
    """(email, password, KIM number) of the demo ketua `flask demo generate` printed."""
    from kim_platform import create_app
    from kim_platform.demo.generator import demo_logins
    from kim_platform.extensions import db

    app = create_app()
    with app.app_context(), db.engine.connect() as connection:
        for who, email, password in demo_logins(connection):
            if who.startswith("ketua "):
                return email, password, who.split(" ", 1)[1]
    sys.exit("No demo ketua: run `make demo` (or `flask demo generate`) first.")


def volunteer_pages(kim: str, report_id: int | None) -> list[tuple[str, str]]:
    pages = [("Beranda", "/"), ("Lapor kegiatan", f"/kim/{kim}/lapor"), ("Kegiatan", "/kegiatan"),
             ("Profil KIM", f"/kim/{kim}"), ("Akun saya", "/akun"), ("Direktori KIM", "/kim"),
             ("Peta", "/peta"), ("KIM teladan", "/teladan"), ("Cakupan", "/cakupan")]
    if report_id:
        pages.insert(4, ("Satu kegiatan", f"/kegiatan/{report_id}"))
    return pages


def log_in(context, base: str, email: str, password: str) -> None:
    """Through the context's request API: it shares the cookies, not the page cache."""
    form = context.request.get(f"{base}/masuk").text()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', form)
    answer = context.request.post(f"{base}/masuk", form={"email": email, "password": password,
                                                         "csrf_token": token.group(1)}, max_redirects=0)
    if answer.status not in (302, 303):
        sys.exit(f"Logging in as {email} failed ({answer.status}).")


class Meter:
    """Bytes on the wire for one page (CDP Network.loadingFinished, headers included)."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.setBlockedURLs", {"urls": BLOCKED})
        self.cdp.send("Network.emulateNetworkConditions", PROFILE)
        self.cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        self.bytes = 0
        self.requests = 0
        self.cdp.on("Network.loadingFinished", self._finished)

    def _finished(self, event):
        self.bytes += event.get("encodedDataLength", 0)
        self.requests += 1

    def reset(self):
        self.bytes, self.requests = 0, 0


def fcp(page) -> float | None:
    value = page.evaluate("""() => {
        const entry = performance.getEntriesByName('first-contentful-paint')[0];
        return entry ? entry.startTime : null;
    }""")
    return None if value is None else value / 1000


def visit(page, url: str) -> None:
    page.goto(url, wait_until="load", timeout=120_000)
    try:
        page.wait_for_load_state("networkidle", timeout=30_000)
    except Exception:  # a map that keeps asking for tiles: count what came until then
        pass
    page.wait_for_timeout(1000)  # the icons, asked for after the load, belong to this visit


def has_service_worker(page) -> bool:
    return page.evaluate("""async () => {
        if (!('serviceWorker' in navigator)) return false;
        const registration = await navigator.serviceWorker.getRegistration();
        if (!registration) return false;
        await navigator.serviceWorker.ready;
        return true;
    }""")


def measure(browser, base: str, email: str, password: str, name: str, path: str) -> dict:
    context = browser.new_context(viewport=VIEWPORT, is_mobile=True, has_touch=True, device_scale_factor=2.625,
                                  locale="id-ID")
    sw_bytes = []
    # The service worker's own downloads (its precache) are bytes of the first visit too.
    context.on("requestfinished", lambda request: getattr(request, "service_worker", None) is not None
               and sw_bytes.append(_size(request)))
    log_in(context, base, email, password)
    page = context.new_page()
    meter = Meter(page)
    visit(page, base + path)
    first = {"bytes": meter.bytes, "requests": meter.requests, "fcp_s": fcp(page)}
    worker = has_service_worker(page)
    if worker:
        page.wait_for_timeout(2000)  # let the precache finish
        first["service_worker_bytes"] = sum(sw_bytes)
        first["bytes"] += first["service_worker_bytes"]  # the precache is part of the first visit
    meter.reset()
    visit(page, base + path)
    repeat = {"bytes": meter.bytes, "requests": meter.requests, "fcp_s": fcp(page)}
    offline = None
    if worker:
        context.set_offline(True)
        meter.cdp.send("Network.emulateNetworkConditions", {**PROFILE, "offline": True})
        try:
            visit(page, base + path)
            offline = {"fcp_s": fcp(page)}
        except Exception as error:  # noqa: BLE001 - the page is not available offline
            offline = {"error": str(error).splitlines()[0]}
    context.close()
    return {"name": name, "path": path, "first": first, "repeat": repeat, "service_worker": worker,
            "offline": offline}


def _size(request) -> int:
    try:
        sizes = request.sizes()
        return sizes["responseBodySize"] + sizes["responseHeadersSize"]
    except Exception:  # noqa: BLE001
        return 0


def kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB"


def main() -> None:
    from playwright.sync_api import sync_playwright

    email, password, kim = volunteer()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_gunicorn(port)
    try:
        wait_until_up(base)
        report_id = _a_report(base)
        rows = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for name, path in volunteer_pages(kim, report_id):
                rows.append(measure(browser, base, email, password, name, path))
                print(_line(rows[-1]), flush=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    _summary(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{date.today().isoformat()}-pages.json"
    out.write_text(json.dumps({"profile": {"rtt_ms": RTT_MS, "down_kbps": DOWN_KBPS, "up_kbps": UP_KBPS,
                                           "cpu_slowdown": CPU_SLOWDOWN, "cdp": PROFILE},
                               "targets": TARGETS, "pages": rows}, indent=2))
    print(f"\nwritten to {out.relative_to(ROOT)}")


def _a_report(base: str) -> int | None:
    with urllib.request.urlopen(base + "/api/v1/activities?per_page=1", timeout=30) as response:
        items = json.load(response)["items"]
    return items[0]["id"] if items else None


def _line(row: dict) -> str:
    first, repeat = row["first"], row["repeat"]
    fcp_first = f"{first['fcp_s']:.2f} s" if first["fcp_s"] is not None else "–"
    return (f"{row['name']:<16} {row['path']:<26} first {kb(first['bytes']):>10} ({first['requests']:>2} req, "
            f"FCP {fcp_first})   repeat {kb(repeat['bytes']):>9} ({repeat['requests']:>2} req)"
            + (f"   SW precache {kb(first['service_worker_bytes'])} of the first" if row["service_worker"] else ""))


def _summary(rows: list[dict]) -> None:
    print(f"\nLighthouse mobile profile: {RTT_MS} ms RTT, {DOWN_KBPS / 1024:.1f} Mbps down, {UP_KBPS} kbps up, "
          f"{CPU_SLOWDOWN}x CPU (CDP: latency {PROFILE['latency']:.1f} ms, "
          f"{PROFILE['downloadThroughput'] * 8 / 1000:.0f} / {PROFILE['uploadThroughput'] * 8 / 1000:.0f} kbit/s)")
    largest_first = max(rows, key=lambda r: r["first"]["bytes"])
    largest_repeat = max(rows, key=lambda r: r["repeat"]["bytes"])
    print(f"largest first visit:  {kb(largest_first['first']['bytes'])} ({largest_first['name']}); "
          f"target ≤ {TARGETS['first_kb']} KB")
    print(f"largest repeat visit: {kb(largest_repeat['repeat']['bytes'])} ({largest_repeat['name']}); "
          f"target ≤ {TARGETS['repeat_kb']} KB")
    report = next(r for r in rows if r["name"] == "Lapor kegiatan")
    print(f"Lapor kegiatan FCP, first visit: {report['first']['fcp_s']:.2f} s; target ≤ {TARGETS['fcp_first_s']} s")
    if not report["service_worker"]:
        print("Lapor kegiatan FCP, offline: no service worker (/sw.js not registered): repeat visits come "
              "from the HTTP cache only, and offline nothing opens")
    elif report["offline"] and report["offline"].get("fcp_s") is not None:
        print(f"Lapor kegiatan FCP, offline: {report['offline']['fcp_s']:.2f} s; target ≤ {TARGETS['fcp_offline_s']} s")
    else:
        print(f"Lapor kegiatan offline: did not open ({(report['offline'] or {}).get('error')})")


if __name__ == "__main__":
    main()
