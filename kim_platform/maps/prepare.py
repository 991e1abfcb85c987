"""Fill region_tile_geom: boundaries in Web Mercator, simplified once per zoom band."""
from sqlalchemy import text
from sqlalchemy.engine import Connection

# Metres of simplification per level: about one pixel at the deepest zoom that shows the level
# (provinsi up to z5 ≈ 4.9 km/px, kabupaten up to z8 ≈ 611 m/px, kecamatan beyond ≈ 40–150 m/px).
TOLERANCE_M = {"provinsi": 3500, "kabupaten": 400, "kecamatan": 60}

_SQL = text("""
    WITH desa AS (
        SELECT left(code, 2) AS p, left(code, 5) AS k, left(code, 8) AS c FROM region
        WHERE level = 'desa' AND retired_on IS NULL
    ),
    totals AS (
        SELECT p AS code, count(*) AS n FROM desa GROUP BY p
        UNION ALL SELECT k, count(*) FROM desa GROUP BY k
        UNION ALL SELECT c, count(*) FROM desa GROUP BY c
    ),
    prepared AS (
        SELECT r.code, r.level, r.name, coalesce(t.n, 0) AS desa_total,
               CASE r.level WHEN 'provinsi' THEN :provinsi WHEN 'kabupaten' THEN :kabupaten ELSE :kecamatan END AS tol,
               r.geom
        FROM region r LEFT JOIN totals t ON t.code = r.code
        WHERE r.geom IS NOT NULL AND r.retired_on IS NULL AND r.level IN ('provinsi', 'kabupaten', 'kecamatan')
    )
    INSERT INTO region_tile_geom AS g (code, level, name, desa_total, tolerance_m, geom)
    SELECT code, level, name, desa_total, tol,
           ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SimplifyPreserveTopology(ST_Transform(geom, 3857), tol)), 3))
    FROM prepared
    ON CONFLICT (code) DO UPDATE SET
        level = EXCLUDED.level, name = EXCLUDED.name, desa_total = EXCLUDED.desa_total,
        tolerance_m = EXCLUDED.tolerance_m, geom = EXCLUDED.geom
    WHERE (g.level, g.name, g.desa_total, g.tolerance_m) IS DISTINCT FROM
          (EXCLUDED.level, EXCLUDED.name, EXCLUDED.desa_total, EXCLUDED.tolerance_m)
       OR NOT ST_Equals(g.geom, EXCLUDED.geom)
""")


def prepare_region_geoms(connection: Connection) -> int:
    """Idempotent; returns how many rows were written or changed."""
    result = connection.execute(_SQL, TOLERANCE_M)
    connection.execute(text("DELETE FROM region_tile_geom g WHERE NOT EXISTS "
                            "(SELECT 1 FROM region r WHERE r.code = g.code AND r.geom IS NOT NULL AND r.retired_on IS NULL)"))
    return result.rowcount
