"""Coverage benchmark: /api/v1/coverage, gaps and timeseries through HTTP, each beside the same
answer computed by a direct query over the raw tables in the same run.

Runs gunicorn on a free loopback port against the development database (which should hold the
national demo set: `make demo-national`), prints a table and writes
bench/results/<date>-coverage.json. Figures, not assertions: see README "Performance".
"""
import json
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.map_bench import Client, free_port, measure, start_gunicorn, wait_until_up  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET_P95_MS = 30


def cases(province: str, kabupaten: str, kecamatan: str):
    """(name, path, direct computation) for every figure the issue asks to measure."""
    from kim_platform.coverage import queries

    def gaps_direct(level, parent):
        from sqlalchemy import text

        from kim_platform.extensions import db
        return db.session.execute(text("""
            SELECT r.code, r.name, (SELECT count(*) FROM region d WHERE d.level = 'desa' AND d.code LIKE r.code || '.%')
            FROM region r WHERE r.level = :level AND r.code LIKE :prefix AND NOT EXISTS (
                SELECT 1 FROM kim k WHERE k.status = 'verified' AND k.desa_code LIKE r.code || '.%')
        """), {"level": level, "prefix": (parent + ".%") if parent else "%"}).all()

    return [
        ("nation: provinsi", "/api/v1/coverage?level=provinsi", lambda: queries.direct_coverage_rows("provinsi")),
        ("nation: kabupaten", "/api/v1/coverage?level=kabupaten", lambda: queries.direct_coverage_rows("kabupaten")),
        (f"{province}: kabupaten", f"/api/v1/coverage?level=kabupaten&parent={province}",
         lambda: queries.direct_coverage_rows("kabupaten", province)),
        (f"{province}: kecamatan", f"/api/v1/coverage?level=kecamatan&parent={province}",
         lambda: queries.direct_coverage_rows("kecamatan", province)),
        (f"{kabupaten}: kecamatan", f"/api/v1/coverage?level=kecamatan&parent={kabupaten}",
         lambda: queries.direct_coverage_rows("kecamatan", kabupaten)),
        (f"{kecamatan}: desa", f"/api/v1/coverage?level=desa&parent={kecamatan}",
         lambda: queries.direct_coverage_rows("desa", kecamatan)),
        ("gaps: kabupaten, nation", "/api/v1/coverage/gaps?level=kabupaten", lambda: gaps_direct("kabupaten", None)),
        (f"gaps: kecamatan, {province}", f"/api/v1/coverage/gaps?level=kecamatan&parent={province}",
         lambda: gaps_direct("kecamatan", province)),
        ("timeseries: nation", "/api/v1/coverage/timeseries", lambda: queries.direct_timeseries(None)),
        (f"timeseries: {province}", f"/api/v1/coverage/timeseries?region={province}",
         lambda: queries.direct_timeseries(province)),
        ("page /cakupan", "/cakupan", None),
        (f"page /cakupan?wilayah={province}", f"/cakupan?wilayah={province}", None),
    ]


def timed(function, repeat=3):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def main():
    from kim_platform import create_app
    from kim_platform.extensions import db

    province, kabupaten, kecamatan = os.environ.get("BENCH_REGIONS", "33,33.74,33.74.01").split(",")
    app = create_app()
    port = free_port()
    server = start_gunicorn(port)
    results = {"date": date.today().isoformat(), "machine": f"{os.cpu_count()} cores", "rows": {}}
    try:
        client = Client(port)
        wait_until_up(client, "/api/v1/coverage")
        with app.app_context():
            results["kims"] = db.session.execute(db.text("SELECT count(*) FROM kim")).scalar()
            results["activities"] = db.session.execute(db.text("SELECT count(*) FROM activity")).scalar()
            for name, path, direct in cases(province, kabupaten, kecamatan):
                measure(client, [path] * 10, 4)  # warm every worker
                serial = measure(client, [path] * 60, 1)
                parallel = measure(client, [path] * 200, 8)
                results["rows"][name] = {
                    "path": path, "p50_ms": serial["p50_ms"], "p95_ms": serial["p95_ms"],
                    "c8_p95_ms": parallel["p95_ms"], "c8_per_s": parallel["per_s"], "bytes": serial["max_bytes"],
                    "errors": serial["errors"] + parallel["errors"],
                    "direct_ms": timed(direct) if direct else None,
                }
    finally:
        server.terminate()
        server.wait(10)
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{results['date']}-coverage.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out.relative_to(ROOT)}")


def print_table(results):
    print(f"\nCoverage on {results['kims']:,} KIMs and {results['activities']:,} reports, {results['machine']}, "
          f"target p95 <= {TARGET_P95_MS} ms")
    print(f"{'answer':34} {'p50':>7} {'p95':>7} {'c8 p95':>7} {'c8 req/s':>9} {'direct':>9} {'ratio':>7} {'errors':>6}")
    for name, row in results["rows"].items():
        direct = row["direct_ms"]
        ratio = f"{direct / row['p50_ms']:.0f}x" if direct else "-"
        print(f"{name:34} {row['p50_ms']:>7} {row['p95_ms']:>7} {row['c8_p95_ms']:>7} {row['c8_per_s']:>9} "
              f"{direct if direct is not None else '-':>9} {ratio:>7} {row['errors']:>6}")
    print("(ms; p50/p95 at concurrency 1, c8 = 8 concurrent clients; direct = the same answer from the raw tables)")


if __name__ == "__main__":
    main()
