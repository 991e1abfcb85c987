"""`flask regions load` through Flask's CLI runner."""
from kim_platform.extensions import db
from kim_platform.regions.models import Region


def test_regions_load_sample_prints_counts_and_time(runner):
    result = runner.invoke(args=["regions", "load", "--sample"])
    assert result.exit_code == 0, result.output
    assert "provinsi:      2 rows, 0 new, 0 updated, 2 unchanged" in result.output
    assert "desa:   3707 rows" in result.output
    assert "Done in" in result.output and "4121 regions, 0 changed" in result.output


def test_regions_load_reports_bad_data_as_a_clean_error(runner, tmp_path):
    (tmp_path / "provinces.csv").write_text("code,parent_code,name,lat,lon\n7,,Broken,,\n", encoding="utf-8")
    result = runner.invoke(args=["regions", "load", "--path", str(tmp_path)])
    assert result.exit_code == 1
    assert "'7' is not a provinsi code" in result.output
    assert db.session.get(Region, "76") is not None


def test_taxonomy_loads_are_idempotent(runner):
    assert runner.invoke(args=["bidang", "load"]).output.strip() == "bidang: 0 added, 0 updated"
    assert runner.invoke(args=["activities", "load-types"]).output.strip() == "activity types: 0 added, 0 updated"
