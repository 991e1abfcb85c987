"""The region loader against the real database: counts, nesting, idempotence, updates."""
import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from kim_platform.extensions import db
from kim_platform.regions.loader import RegionDataError, load_regions
from kim_platform.regions.models import Region
from tests.conftest import FULL_DIR, SAMPLE_DIR


def counts_by_level() -> dict[str, int]:
    return dict(db.session.execute(select(Region.level, func.count()).group_by(Region.level)).all())


def test_sample_counts_match_the_data_readme():
    # seed_data/wilayah/README.md, "Sample subset": 2 / 30 / 382 / 3,707.
    assert counts_by_level() == {"provinsi": 2, "kabupaten": 30, "kecamatan": 382, "desa": 3707}
    kinds = dict(db.session.execute(
        select(Region.kind, func.count()).where(Region.level.in_(["kabupaten", "desa"])).group_by(Region.kind)
    ).all())
    assert kinds == {"kabupaten": 27, "kota": 3, "kelurahan": 866, "desa": 2841}
    without_point = db.session.scalars(
        select(Region.code).where(Region.centroid.is_(None)).order_by(Region.code)
    ).all()
    assert without_point == ["73.15.09.1006", "73.22.11.2002", "73.24.06.2017"]


def test_every_parent_exists_and_matches_the_code():
    orphans = db.session.scalar(text(
        "SELECT count(*) FROM region r WHERE r.parent_code IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM region p WHERE p.code = r.parent_code)"
    ))
    assert orphans == 0
    mismatched = db.session.scalar(text(
        "SELECT count(*) FROM region WHERE parent_code IS DISTINCT FROM "
        "nullif(regexp_replace(code, '\\.?[0-9]+$', ''), '')"
    ))
    assert mismatched == 0


def test_boundaries_are_valid_multipolygons_above_desa_level():
    rows = db.session.execute(text(
        "SELECT level, count(*) FILTER (WHERE geom IS NOT NULL), "
        "count(*) FILTER (WHERE geom IS NOT NULL AND (NOT ST_IsValid(geom) "
        "OR GeometryType(geom) <> 'MULTIPOLYGON' OR ST_SRID(geom) <> 4326)) "
        "FROM region GROUP BY level"
    )).all()
    with_boundary = {level: count for level, count, _ in rows}
    assert with_boundary == {"provinsi": 2, "kabupaten": 30, "kecamatan": 382, "desa": 0}
    assert all(invalid == 0 for _, _, invalid in rows)


def test_second_load_changes_nothing():
    before = db.session.scalar(select(func.max(Region.updated_at)))
    report = load_regions(db.session.connection(), SAMPLE_DIR)
    assert report.changed == 0
    assert [level.unchanged for level in report.levels] == [2, 30, 382, 3707]
    assert db.session.scalar(select(func.max(Region.updated_at))) == before


def _copy_sample(tmp_path: Path) -> Path:
    target = tmp_path / "wilayah"
    shutil.copytree(SAMPLE_DIR, target)
    return target


def _rewrite_villages(path: Path, change) -> None:
    with (path / "villages.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows = change(rows)
    with (path / "villages.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["code", "parent_code", "name", "kind", "lat", "lon"])
        writer.writeheader()
        writer.writerows(rows)


def test_newer_data_renames_adds_and_keeps_dropped_codes(tmp_path):
    data = _copy_sample(tmp_path)

    def change(rows):
        renamed = next(row for row in rows if row["code"] == "76.02.01.1002")
        renamed["name"] = "Binanga Baru"
        rows = [row for row in rows if row["code"] != "76.02.01.1003"]  # no longer listed
        rows.append({"code": "76.02.01.2099", "parent_code": "76.02.01", "name": "Desa Percobaan",
                     "kind": "desa", "lat": "-2.68", "lon": "118.89"})
        return rows

    _rewrite_villages(data, change)
    report = load_regions(db.session.connection(), data)
    desa = report.levels[-1]
    assert (desa.inserted, desa.updated) == (1, 1)
    assert report.kept_not_in_data == 1
    assert db.session.get(Region, "76.02.01.1002").name == "Binanga Baru"
    assert db.session.get(Region, "76.02.01.1003") is not None
    added = db.session.get(Region, "76.02.01.2099")
    assert (added.level, added.kind, added.parent_code) == ("desa", "desa", "76.02.01")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda rows: rows + [dict(rows[0])], "duplicate code"),
        (lambda rows: rows + [{**rows[0], "code": "76.02.99.2001", "parent_code": "76.02.99"}],
         "not in the level above"),
        (lambda rows: rows + [{**rows[0], "code": "76.02.01.2098", "parent_code": "76.02.02"}],
         "does not match"),
        (lambda rows: rows + [{**rows[0], "code": "76.02.01.2098", "parent_code": "76.02.01", "lat": "nan", "lon": "119"}],
         "not a finite number"),
        (lambda rows: rows + [{**rows[0], "code": "76.02.01.2098", "parent_code": "76.02.01", "lat": "", "lon": "119"}],
         "both be given"),
        (lambda rows: rows + [{**rows[0], "code": "76.02.01.2098", "parent_code": "76.02.01", "kind": "kota"}], "not valid for desa"),
    ],
)
def test_bad_data_is_refused_before_anything_is_written(tmp_path, change, message):
    data = _copy_sample(tmp_path)
    # A rename earlier in the files must not be half-applied when a later row is bad.
    with (data / "provinces.csv").open(encoding="utf-8") as handle:
        provinces = handle.read().replace("Sulawesi Barat", "Sulawesi Barat Baru")
    (data / "provinces.csv").write_text(provinces, encoding="utf-8")
    _rewrite_villages(data, change)
    with pytest.raises(RegionDataError, match=message):
        load_regions(db.session.connection(), data)
    assert db.session.get(Region, "76").name == "Sulawesi Barat"


def test_full_national_data_loads_with_the_official_totals():
    report = load_regions(db.session.connection(), FULL_DIR)
    assert counts_by_level() == {"provinsi": 38, "kabupaten": 514, "kecamatan": 7285, "desa": 83762}
    kinds = dict(db.session.execute(select(Region.kind, func.count()).group_by(Region.kind)).all())
    assert kinds["kabupaten"] == 416 and kinds["kota"] == 98
    assert kinds["kelurahan"] == 8496 and kinds["desa"] == 75266
    assert db.session.scalar(select(func.count()).where(Region.level == "desa", Region.centroid.is_(None))) == 359
    assert report.levels[-1].with_point == 83762 - 359
