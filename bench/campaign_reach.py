"""Campaign reach benchmark: a national campaign (every province targeted) with BENCH_DISSEMINATIONS
(200,000) dissemination reports over BENCH_KIMS (84,000) KIMs; p50/p95 of the dashboard figures
through the service call (campaigns.reach.dashboard) and through HTTP (GET
/api/v1/campaigns/<id>/reach under gunicorn), beside the headline counted directly from the raw
tables (campaigns.queries.reach) in the same run, which must be equal.

Runs on the development database (DATABASE_URL, or the project's cluster): with fewer demo KIMs
than BENCH_KIMS it generates them (the demo generator, no other reports). The campaign, its
reports, the bench director and their token are marked and removed at the end (BENCH_KEEP=1
keeps them). A campaign of every province has 38 targets, more than the 20 a person may give:
the bench writes them directly. Figures, not assertions: see README "Campaign reach".
"""
import http.client
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.map_bench import free_port, percentile, start_gunicorn  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET_P95_MS = 50
TITLE = "[bench] Kampanye nasional"
BENCH_EMAIL = "bench-campaign-director@example.invalid"


def _get(port, path, token):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    return response.status, body, elapsed


def _measure_http(port, token, path, n, concurrency):
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _: _get(port, path, token), range(n)))
    times = [r[2] for r in results]
    return {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1),
            "errors": sum(1 for r in results if r[0] >= 400), "bytes": max(len(r[1]) for r in results)}


def _measure_call(function, n=60):
    times = []
    for _ in range(n):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1)}


def build(db, kims: int, disseminations: int):
    """The national campaign and its reports (COPY-speed SQL; the totals rebuilt once)."""
    from sqlalchemy import text

    from kim_platform.accounts.models import RoleGrant, User
    from kim_platform.accounts.services import create_api_token
    from kim_platform.campaigns.models import Campaign, CampaignTarget
    from kim_platform.core import clock
    from kim_platform.coverage.aggregates import bulk_writes
    from kim_platform.demo.generator import generate

    connection = db.session.connection()
    have = connection.execute(text("SELECT count(*) FROM kim WHERE is_demo")).scalar()
    if have < kims * 0.9:
        print(f"generating {kims:,} demo KIMs (found {have:,})", flush=True)
        # The missing ones only, under the bench's own seed: `make demo` (seed 1) may be loaded already.
        generate(connection, kims=kims - have, activities=0, seed=84, photos=0)
        db.session.commit()
        connection = db.session.connection()
    director = User(name="Direktur (bench)", email=BENCH_EMAIL, password_hash="!", is_active=True,
                    email_verified_at=clock.utcnow())
    db.session.add(director)
    db.session.flush()
    db.session.add(RoleGrant(user_id=director.id, role="direktorat", scope_code=None))
    db.session.flush()
    db.session.refresh(director)
    _, token = create_api_token(director, "bench")
    today = clock.today()
    campaign = Campaign(title=TITLE, key_message="Benchmark.", status="published", start_on=today - timedelta(days=29),
                        end_on=today + timedelta(days=30), owner_scope=None, created_by_id=director.id,
                        published_at=clock.utcnow())
    db.session.add(campaign)
    db.session.flush()
    for code in connection.execute(text("SELECT code FROM region WHERE level = 'provinsi' ORDER BY code")).scalars():
        db.session.add(CampaignTarget(campaign_id=campaign.id, region_code=code))
    db.session.flush()
    started = time.perf_counter()
    with bulk_writes(connection):  # coverage aggregates: rebuilt once after the load
        connection.execute(text("SELECT setseed(0.17)"))
        # 60 % of the verified KIMs log reports, picked at random (a materialised list, then a hash join).
        connection.execute(text("""
            WITH reached AS (SELECT array_agg(id ORDER BY id) AS ids FROM kim
                             WHERE status = 'verified' AND random() < 0.6),
                 picks AS MATERIALIZED (
                     SELECT reached.ids[1 + floor(random() * cardinality(reached.ids))::int] AS kim_id
                     FROM reached, generate_series(1, :n))
            INSERT INTO activity (kim_id, title, activity_date, type, desa_code, reach_offline, status, is_demo,
                                  published_at)
            SELECT k.id, :title, :start + (random() * 29)::int, 'diseminasi', k.desa_code, (random() * 120)::int,
                   'published', true, now()
            FROM picks JOIN kim k ON k.id = picks.kim_id
        """), {"title": TITLE, "start": today - timedelta(days=29), "n": disseminations})
        connection.execute(text("ALTER TABLE campaign_dissemination DISABLE TRIGGER campaign_reach_dissemination"))
        connection.execute(text("""
            INSERT INTO campaign_dissemination (activity_id, campaign_id, channel)
            SELECT id, :campaign, (ARRAY['pertemuan-warga', 'tempat-ibadah', 'grup-whatsapp', 'rumah-ke-rumah'])
                                  [1 + (id % 4)::int]
            FROM activity WHERE is_demo AND title = :title
        """), {"campaign": campaign.id, "title": TITLE})
        connection.execute(text("ALTER TABLE campaign_dissemination ENABLE TRIGGER campaign_reach_dissemination"))
        connection.execute(text("SELECT campaign_reach_rebuild()"))
    db.session.commit()
    print(f"loaded {disseminations:,} disseminations in {time.perf_counter() - started:.0f} s", flush=True)
    return campaign.id, token


def remove(db):
    from sqlalchemy import text

    from kim_platform.coverage.aggregates import bulk_writes

    connection = db.session.connection()
    with bulk_writes(connection):
        # The campaign's totals go with it (ON DELETE CASCADE): no per-link trigger needed.
        connection.execute(text("ALTER TABLE campaign_dissemination DISABLE TRIGGER campaign_reach_dissemination"))
        connection.execute(text("DELETE FROM campaign WHERE title = :title"), {"title": TITLE})
        connection.execute(text("DELETE FROM activity WHERE is_demo AND title = :title"), {"title": TITLE})
        connection.execute(text("ALTER TABLE campaign_dissemination ENABLE TRIGGER campaign_reach_dissemination"))
        connection.execute(text("DELETE FROM user_account WHERE email = :email"), {"email": BENCH_EMAIL})
    db.session.commit()


def main():
    from kim_platform import create_app
    from kim_platform.campaigns import queries, reach
    from kim_platform.extensions import db

    kims = int(os.environ.get("BENCH_KIMS", "84000"))
    disseminations = int(os.environ.get("BENCH_DISSEMINATIONS", "200000"))
    app = create_app()
    results = {"date": date.today().isoformat(), "machine": f"{os.cpu_count()} cores", "rows": {}}
    with app.app_context():
        remove(db)  # a run stopped halfway
        campaign_id, token = build(db, kims, disseminations)
        try:
            campaign = queries.get_campaign(campaign_id)
            results["kims"] = db.session.execute(db.text("SELECT count(*) FROM kim")).scalar()
            results["disseminations"] = db.session.execute(db.text(
                "SELECT count(*) FROM campaign_dissemination WHERE campaign_id = :c"), {"c": campaign_id}).scalar()
            province = db.session.execute(db.text(
                "SELECT code FROM campaign_reach_region WHERE campaign_id = :c AND depth = 1 ORDER BY reports DESC "
                "LIMIT 1"), {"c": campaign_id}).scalar()
            kabupaten = db.session.execute(db.text(
                "SELECT code FROM campaign_reach_region WHERE campaign_id = :c AND depth = 2 AND code LIKE :p "
                "ORDER BY reports DESC LIMIT 1"), {"c": campaign_id, "p": province + ".%"}).scalar()
            kecamatan = db.session.execute(db.text(
                "SELECT code FROM campaign_reach_region WHERE campaign_id = :c AND depth = 3 AND code LIKE :p "
                "ORDER BY reports DESC LIMIT 1"), {"c": campaign_id, "p": kabupaten + ".%"}).scalar()
            views = [("nation: provinsi", None, None), ("nation: kabupaten", "kabupaten", None),
                     (f"{province}: kabupaten", "kabupaten", province),
                     (f"{province}: kecamatan", "kecamatan", province),
                     (f"{kabupaten}: kecamatan", "kecamatan", kabupaten), (f"{kecamatan}: desa", "desa", kecamatan)]

            started = time.perf_counter()
            direct = queries.reach(campaign)
            direct_ms = round((time.perf_counter() - started) * 1000, 1)
            totals = reach.totals(campaign)
            results["exact"] = (totals.kims_reached, totals.desa_reached, totals.people, totals.disseminations) == (
                direct.kims, direct.desa, direct.people, direct.reports)
            results["direct_headline_ms"] = direct_ms
            for name, level, parent in views:
                results["rows"][name] = {"service": _measure_call(lambda: reach.dashboard(campaign, level, parent))}
            db.session.rollback()

            port = free_port()
            server = start_gunicorn(port)
            try:
                for _ in range(100):
                    try:
                        _get(port, "/api/v1/campaigns", token)
                        break
                    except OSError:
                        time.sleep(0.2)
                for name, level, parent in views:
                    query = "&".join(f"{k}={v}" for k, v in (("level", level), ("parent", parent)) if v)
                    path = f"/api/v1/campaigns/{campaign_id}/reach?{query}"
                    _measure_http(port, token, path, 10, 4)  # warm every worker
                    results["rows"][name]["http"] = _measure_http(port, token, path, 60, 1)
                    results["rows"][name]["http_c8"] = _measure_http(port, token, path, 200, 8)
            finally:
                server.terminate()
                try:
                    server.wait(60)  # a busy machine takes a while to stop 5 workers
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        finally:
            if not os.environ.get("BENCH_KEEP"):
                db.session.rollback()
                remove(db)
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{results['date']}-campaign-reach.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out.relative_to(ROOT)}")


def print_table(results):
    print(f"\nCampaign reach: {results['disseminations']:,} disseminations, {results['kims']:,} KIMs, "
          f"{results['machine']}, target p95 <= {TARGET_P95_MS} ms; exact against a direct count: {results['exact']} "
          f"(direct headline {results['direct_headline_ms']} ms)")
    print(f"{'dashboard figures':28} {'call p50':>9} {'call p95':>9} {'http p50':>9} {'http p95':>9} "
          f"{'c8 p95':>7} {'bytes':>8} {'errors':>6}")
    for name, row in results["rows"].items():
        service, web, busy = row["service"], row["http"], row["http_c8"]
        print(f"{name:28} {service['p50_ms']:>9} {service['p95_ms']:>9} {web['p50_ms']:>9} {web['p95_ms']:>9} "
              f"{busy['p95_ms']:>7} {web['bytes']:>8} {web['errors'] + busy['errors']:>6}")
    print("(ms; call = reach.dashboard in-process; http = GET /api/v1/campaigns/<id>/reach, 1 and 8 concurrent)")


if __name__ == "__main__":
    main()
