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

Bytes are counted where they cross the wire: the page's own requests (CDP Network events of the
page; an answer the service worker gave counts 0 there) plus every request the service worker
itself sends (its install, its precache, the pages it fetches network-first and the copies it
keeps; Playwright's context-level request events of service-worker requests). Both are printed,
the worker's separately ("of it: worker"), and both count against the targets, on the first
visit and on the repeat visit alike.

    DATABASE_URL=... .venv/bin/python bench/light_pages.py --pages "Peta,Cakupan"   # a few pages

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
    """Bytes on the wire for one page (CDP Network.loadingFinished, headers included); answers
    the service worker gave are counted apart (`from_worker`): their bytes, if they crossed the
    wire, are the worker's own requests (WorkerMeter)."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.setBlockedURLs", {"urls": BLOCKED})
        self.cdp.send("Network.emulateNetworkConditions", PROFILE)
        self.cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        self._via_worker = set()
        self._urls = {}
        self.reset()
        self.cdp.on("Network.requestWillBeSent", lambda e: self._urls.__setitem__(e["requestId"], e["request"]["url"]))
        self.cdp.on("Network.responseReceived", self._received)
        self.cdp.on("Network.loadingFinished", self._finished)

    def _received(self, event):
        if event.get("response", {}).get("fromServiceWorker"):
            self._via_worker.add(event["requestId"])

    def _finished(self, event):
        self.requests += 1
        if event["requestId"] in self._via_worker:
            self.from_worker += 1
            return
        size = event.get("encodedDataLength", 0)
        self.bytes += size
        self.urls.append((self._urls.get(event["requestId"], "?"), size))

    def reset(self):
        self.bytes, self.requests, self.from_worker, self.urls = 0, 0, 0, []


class WorkerMeter:
    """Every request the service worker sends itself (fetch, importScripts, precache), with its
    headers and compressed body, as Playwright reports them for the browser context."""

    def __init__(self, context):
        self.reset()
        context.on("requestfinished", self._finished)

    def _finished(self, request):
        if getattr(request, "service_worker", None) is None:
            return
        size = _size(request)
        self.bytes += size
        self.requests += 1
        self.urls.append((request.url, size))

    def reset(self):
        self.bytes, self.requests, self.urls = 0, 0, []


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


def has_service_worker(page, wait_s: float = 10) -> bool:
    """The app registers its worker once the page is loaded and idle: wait for it that long."""
    return page.evaluate("""async (waitMs) => {
        if (!('serviceWorker' in navigator)) return false;
        const until = Date.now() + waitMs;
        let registration = await navigator.serviceWorker.getRegistration();
        while (!registration && Date.now() < until) {
            await new Promise(r => setTimeout(r, 200));
            registration = await navigator.serviceWorker.getRegistration();
        }
        if (!registration) return false;
        await navigator.serviceWorker.ready;
        return true;
    }""", wait_s * 1000)


def wait_for_offline_copy(page) -> None:
    """The worker has kept the volunteer's pages (app.js marks <html data-offline-ready>)."""
    try:
        page.wait_for_function("() => document.documentElement.hasAttribute('data-offline-ready')",
                               timeout=60_000)
    except Exception:  # noqa: BLE001 - logged out, or it failed: count what came
        pass
    page.wait_for_timeout(1000)


def measure(browser, base: str, email: str, password: str, name: str, path: str) -> dict:
    context = browser.new_context(viewport=VIEWPORT, is_mobile=True, has_touch=True, device_scale_factor=2.625,
                                  locale="id-ID")
    # The service worker's own downloads (install, precache, network-first pages) are bytes of
    # the visit they happen in, first or repeat.
    workers = WorkerMeter(context)
    log_in(context, base, email, password)
    page = context.new_page()
    meter = Meter(page)
    visit(page, base + path)
    first_fcp = fcp(page)
    worker = has_service_worker(page)
    if worker:
        wait_for_offline_copy(page)
    first = _figures(meter, workers, first_fcp)
    meter.reset()
    workers.reset()
    visit(page, base + path)
    if worker:
        wait_for_offline_copy(page)
    repeat = _figures(meter, workers, fcp(page))
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


def _figures(meter: Meter, workers: WorkerMeter, paint: float | None) -> dict:
    return {"bytes": meter.bytes + workers.bytes, "requests": meter.requests, "fcp_s": paint,
            "page_bytes": meter.bytes, "answered_by_worker": meter.from_worker,
            "page_urls": [[url, size] for url, size in meter.urls if size >= 1024],
            "service_worker_bytes": workers.bytes, "service_worker_requests": workers.requests,
            "service_worker_urls": [[url, size] for url, size in workers.urls]}


def _size(request) -> int:
    """Headers and compressed body. A response taken from the HTTP cache counts its headers (a
    little more than crossed the wire); when Chromium gives no sizes (the worker's importScripts),
    its Content-Length and headers."""
    try:
        sizes = request.sizes()
        total = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        if total > 0:
            return total
    except Exception:  # noqa: BLE001
        pass
    try:
        response = request.response()
        headers = response.headers if response else {}
        return int(headers.get("content-length", 0)) + sum(len(k) + len(v) + 4 for k, v in headers.items())
    except Exception:  # noqa: BLE001
        return 0


def kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB"


def main() -> None:
    import argparse

    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", help="comma-separated page names to measure (default: all)")
    parser.add_argument("--urls", action="store_true", help="list the service worker's requests")
    args = parser.parse_args()
    wanted = {name.strip() for name in args.pages.split(",")} if args.pages else None
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
                if wanted and name not in wanted:
                    continue
                rows.append(measure(browser, base, email, password, name, path))
                print(_line(rows[-1]), flush=True)
                if args.urls:
                    for phase in ("first", "repeat"):
                        for url, size in rows[-1][phase]["service_worker_urls"]:
                            print(f"    {phase:<6} worker {kb(size):>9}  {url.replace(base, '')}")
                        for url, size in rows[-1][phase]["page_urls"]:
                            print(f"    {phase:<6} page   {kb(size):>9}  {url.replace(base, '')}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    _summary(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if wanted:
        return  # a partial run is not kept
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
    worker = lambda f: (f" (of it: worker {kb(f['service_worker_bytes'])} in {f['service_worker_requests']} req)"  # noqa: E731
                        if row["service_worker"] else "")
    return (f"{row['name']:<16} {row['path']:<26} first {kb(first['bytes']):>10}{worker(first)} "
            f"[{first['requests']:>2} page req, FCP {fcp_first}]   repeat {kb(repeat['bytes']):>9}{worker(repeat)} "
            f"[{repeat['requests']:>2} page req, {repeat['answered_by_worker']} answered by the worker]")


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
    report = next((r for r in rows if r["name"] == "Lapor kegiatan"), None)
    if report is None:
        return
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
