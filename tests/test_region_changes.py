"""A new Kepmendagri (issue 19): diff, apply with history, old codes keep working.

The synthetic change set is built in each test from the loaded sample (Sulawesi Barat, 76):
- a move like Papua 2022: Kabupaten Mamuju 76.02 goes to a new province 77 as 77.01, its
  kecamatan and desa re-coded by prefix (76.02.01.1002 -> 77.01.01.1002);
- a rename: Desa Polewali 76.01.01.2003 gets a new name, same code;
- a merge of two desa: Kalola 76.01.01.2008 into Wulai 76.01.01.2009;
- a split: Randomayang 76.01.01.2004 into two new desa 76.01.01.2010 and 76.01.01.2011, whose
  KIM cannot be placed automatically;
- a removed code: Pangiang 76.01.01.2007;
- a new code: 76.01.01.2012.
"""
import csv
import io
import json
from datetime import date

import pytest
from sqlalchemy import func, select, text

from kim_platform.accounts.models import RoleGrant
from kim_platform.activities.models import Activity
from kim_platform.audit.models import AuditEntry
from kim_platform.config import PROJECT_ROOT
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Kim
from kim_platform.regions.models import Region, RegionChange
from kim_platform.regions.places import PlaceError, check_location
from kim_platform.regions.references import REFERENCES, Reference
from tests.conftest import DESA, csrf_token, login
from tests.test_region_stats import direct_counts, kept_counts

SAMPLE = PROJECT_ROOT / "seed_data" / "wilayah" / "sample"
DECREE = "Kepmendagri 300.2.2-9999/2027"
RENAMED, MERGED, MERGED_INTO = "76.01.01.2003", "76.01.01.2008", "76.01.01.2009"
SPLIT, SPLIT_A, SPLIT_B, REMOVED, NEW = ("76.01.01.2004", "76.01.01.2010", "76.01.01.2011",
                                         "76.01.01.2007", "76.01.01.2012")
MOVED_DESA = "77.01.01.1002"
POINTS = {"76.01.01.2004": (-1.050816, 119.485491), "76.01.01.2008": (-1.105118, 119.520897),
          "76.01.01.2007": (-1.134458, 119.424146), DESA: (-2.749192, 118.967345)}


def _recode(code: str) -> str:
    return "77.01" + code[5:] if code == "76.02" or code.startswith("76.02.") else code


def write_dataset(folder):
    """The sample with the change set above, in the loader's format (CSV and boundaries)."""
    folder.mkdir()
    for stem in ("provinces", "regencies", "districts", "villages"):
        with (SAMPLE / f"{stem}.csv").open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields, rows = reader.fieldnames, list(reader)
        out = []
        for row in rows:
            if row["code"] in (MERGED, REMOVED, SPLIT):
                continue
            row["code"], row["parent_code"] = _recode(row["code"]), _recode(row["parent_code"])
            if row["code"] == "77.01":
                row["parent_code"] = "77"
            if row["code"] == RENAMED:
                row["name"] = "Polewali Baru"
            out.append(row)
        if stem == "provinces":
            out.append({**dict.fromkeys(fields, ""), "code": "77", "name": "Sulawesi Barat Daya"})
        if stem == "villages":
            for code, name in ((SPLIT_A, "Randomayang Utara"), (SPLIT_B, "Randomayang Selatan"), (NEW, "Desa Baru")):
                out.append({**dict.fromkeys(fields, ""), "code": code, "parent_code": "76.01.01", "name": name,
                            "kind": "desa"})
        with (folder / f"{stem}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(out)
        source = SAMPLE / f"{stem}.geojson"
        if source.exists():
            collection = json.loads(source.read_text(encoding="utf-8"))
            for feature in collection["features"]:
                feature["properties"]["code"] = _recode(feature["properties"]["code"])
            (folder / f"{stem}.geojson").write_text(json.dumps(collection), encoding="utf-8")
    mapping = folder.parent / "mapping.csv"
    mapping.write_text(
        "old_code,new_code,kind\n"
        "76.02,77.01,move\n"
        f"{MERGED},{MERGED_INTO},merge\n"
        f"{SPLIT},{SPLIT_A},split\n"
        f"{SPLIT},{SPLIT_B},split\n", encoding="utf-8")
    return folder, mapping


@pytest.fixture
def change_set(tmp_path):
    return write_dataset(tmp_path / "wilayah-2027")


@pytest.fixture
def world(make_kim, make_user):
    """KIMs with reports in the moved kabupaten and in the merged, split and removed desa, and a
    pembina of the moved kabupaten."""
    kims = {code: make_kim(name=f"KIM {code}", desa_code=code, point=POINTS[code])
            for code in (DESA, MERGED, SPLIT, REMOVED)}
    kims["draft"] = make_kim(name="KIM Draf", status="draft")
    for kim in kims.values():
        for n in range(2):
            db.session.add(Activity(kim_id=kim.id, title=f"Kegiatan {n}", activity_date=clock.today(),
                                    type="diskusi", desa_code=kim.desa_code, published_at=clock.utcnow()))
    db.session.flush()
    pembina = make_user(name="Pembina Mamuju", role="pembina", scope="76.02")
    direktorat = make_user(name="Direktorat", role="direktorat")
    db.session.commit()  # as in production: the data is there before the command runs
    return kims, pembina, direktorat


def snapshot() -> dict:
    """What must not change when nothing is written."""
    return {
        "regions": db.session.scalar(select(func.count()).select_from(Region)),
        "retired": db.session.scalar(select(func.count()).where(Region.retired_on.is_not(None))),
        "names": db.session.scalar(select(Region.name).where(Region.code == RENAMED)),
        "history": db.session.scalar(select(func.count()).select_from(RegionChange)),
        "audit": db.session.scalar(select(func.count()).select_from(AuditEntry)),
        "kims": sorted(db.session.execute(select(Kim.id, Kim.desa_code)).all()),
        "reports": sorted(db.session.execute(select(Activity.id, Activity.desa_code)).all()),
        "scopes": sorted(db.session.execute(select(RoleGrant.id, RoleGrant.scope_code)).all()),
        "stats": kept_counts(),
    }


def apply(runner, change_set):
    folder, mapping = change_set
    return runner.invoke(args=["regions", "apply", str(folder), "--mapping", str(mapping),
                               "--decree", DECREE, "--effective", "2027-01-02"])


def test_diff_lists_every_change_with_what_it_touches_and_writes_nothing(runner, change_set, world):
    before = snapshot()
    folder, mapping = change_set
    result = runner.invoke(args=["regions", "diff", str(folder), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "New codes: 2" in out and f"{NEW}  Desa Baru" in out and "77  Sulawesi Barat Daya" in out
    assert f"{REMOVED}  Pangiang  [touches activities 2, kims 1]" in out
    assert f"{RENAMED}  Polewali -> Polewali Baru" in out
    moved = next(line for line in out.splitlines() if line.startswith("  76.02 "))
    assert "-> 77.01 Kabupaten Mamuju" in moved and "below)" in moved
    assert "activities 4, kims 2, pembina_scopes 1" in moved  # with the draft KIM of DESA
    assert f"{MERGED} Kalola -> {MERGED_INTO} Wulai  [touches activities 2, kims 1]" in out
    assert f"{SPLIT} Randomayang -> {SPLIT_A}" in out and f"{SPLIT} Randomayang -> {SPLIT_B}" in out
    assert f"{SPLIT} -> one of {SPLIT_A}, {SPLIT_B}" in out
    db.session.expire_all()
    assert snapshot() == before


def test_diff_refuses_a_mapping_that_does_not_fit(runner, change_set):
    folder, mapping = change_set
    mapping.write_text("old_code,new_code,kind\n76.02,77.02,move\n99.01,77.01,merge\n", encoding="utf-8")
    result = runner.invoke(args=["regions", "diff", str(folder), "--mapping", str(mapping)])
    assert result.exit_code == 1
    assert "77.02 is not in the new dataset" in result.output and "99.01 is not a current region" in result.output


def test_apply_recodes_everything_and_loses_nothing(runner, change_set, world):
    kims, pembina, _ = world
    counts = {"kims": db.session.scalar(select(func.count()).select_from(Kim)),
              "reports": db.session.scalar(select(func.count()).select_from(Activity)),
              "grants": db.session.scalar(select(func.count()).select_from(RoleGrant))}
    result = apply(runner, change_set)
    assert result.exit_code == 0, result.output
    assert f"Applied {DECREE}" in result.output
    db.session.expire_all()
    # Nothing lost.
    assert counts == {"kims": db.session.scalar(select(func.count()).select_from(Kim)),
                      "reports": db.session.scalar(select(func.count()).select_from(Activity)),
                      "grants": db.session.scalar(select(func.count()).select_from(RoleGrant))}
    # Moved with the kabupaten, merged, and waiting under the old code.
    assert db.session.get(Kim, kims[DESA].id).desa_code == MOVED_DESA
    assert db.session.get(Kim, kims["draft"].id).desa_code == MOVED_DESA
    assert db.session.get(Kim, kims[MERGED].id).desa_code == MERGED_INTO
    assert db.session.get(Kim, kims[SPLIT].id).desa_code == SPLIT
    assert db.session.get(Kim, kims[REMOVED].id).desa_code == REMOVED
    assert {a.desa_code for a in db.session.scalars(select(Activity).where(Activity.kim_id == kims[DESA].id))} \
        == {MOVED_DESA}
    assert db.session.scalar(select(func.count()).where(Activity.desa_code.like("76.02.%"))) == 0
    assert db.session.scalar(select(RoleGrant.scope_code).where(RoleGrant.user_id == pembina.id)) == "77.01"
    # Old codes retired, not deleted; the new ones current.
    old = db.session.get(Region, DESA)
    assert (old.retired_on, old.replaced_by) == (date(2027, 1, 2), MOVED_DESA)
    assert db.session.get(Region, "76.02").replaced_by == "77.01"
    assert db.session.get(Region, MERGED).replaced_by == MERGED_INTO
    split = db.session.get(Region, SPLIT)
    assert split.retired_on is not None and split.replaced_by is None
    assert db.session.get(Region, MOVED_DESA).retired_on is None
    assert db.session.get(Region, RENAMED).name == "Polewali Baru"
    assert db.session.get(Region, "76").desa_total == db.session.scalar(text(
        "SELECT count(*) FROM region WHERE level = 'desa' AND code LIKE '76.%' AND retired_on IS NULL"))
    # History: one row per change, the subtree included.
    kinds = dict(db.session.execute(select(RegionChange.kind, func.count()).group_by(RegionChange.kind)).all())
    moved_subtree = db.session.scalar(text("SELECT count(*) FROM region WHERE code LIKE '76.02%'"))
    assert kinds == {"move": moved_subtree, "merge": 1, "split": 2, "remove": 1, "rename": 1, "new": 2}
    change = db.session.scalar(select(RegionChange).where(RegionChange.old_code == DESA))
    assert (change.new_code, change.decree, change.effective_on) == (MOVED_DESA, DECREE, date(2027, 1, 2))
    # Audited, by the system.
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("region.%"))).all()
    assert sorted(set(actions)) == ["region.decree_applied", "region.merge", "region.move", "region.remove",
                                    "region.rename", "region.split"]
    # Coverage equal to a direct count.
    assert kept_counts() == direct_counts()
    assert kept_counts().get("77.01") == (1, 1)  # the draft KIM is not counted
    direct_reports = db.session.scalar(text(
        "SELECT count(*) FROM activity a JOIN kim k ON k.id = a.kim_id WHERE a.status = 'published' "
        "AND k.status IN ('verified', 'inactive') AND a.desa_code LIKE '77.01.%'"))
    kept_reports = db.session.scalar(text(
        "SELECT coalesce(sum(activities), 0) FROM (SELECT activities FROM coverage_stat WHERE code = '77.01' "
        "UNION ALL SELECT activities FROM coverage_delta WHERE code = '77.01') s"))
    assert (kept_reports, direct_reports) == (2, 2)
    assert db.session.scalar(text("SELECT count(*) FROM region_kim_stats WHERE code LIKE '76.02%' "
                                  "AND kim_verified > 0")) == 0


def test_the_apply_is_rolled_back_whole_when_a_late_step_fails(runner, change_set, world, app, monkeypatch):
    before = snapshot()

    def broken(connection):
        raise RuntimeError("remap failed")

    registry = dict(app.extensions[REFERENCES])
    registry["zz_broken"] = Reference("zz_broken", "kim", "desa_code", "desa", "broken", remap=broken)
    monkeypatch.setitem(app.extensions, REFERENCES, registry)
    result = apply(runner, change_set)
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    db.session.expire_all()
    assert snapshot() == before
    assert db.session.get(Region, "77") is None
    assert db.session.scalar(text(
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'kim_stats' AND tgenabled = 'O'")) == 1


def test_old_urls_and_the_api_lead_to_the_new_codes(runner, change_set, world, client):
    kims = world[0]
    assert apply(runner, change_set).exit_code == 0
    response = client.get(f"/wilayah/{DESA}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/wilayah/{MOVED_DESA}?kode_lama={DESA}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Kode lama {DESA} (Binanga) diganti {MOVED_DESA} oleh {DECREE}" in page
    assert client.get("/wilayah/76.02").headers["Location"].endswith("/wilayah/77.01?kode_lama=76.02")
    # A split code stays, says so and names the new desa.
    split = client.get(f"/wilayah/{SPLIT}")
    assert split.status_code == 200
    assert "Dipecah menjadi" in split.get_data(as_text=True) and SPLIT_A in split.get_data(as_text=True)
    # The KIM is still reachable, its profile under the new code.
    profile = client.get(f"/kim/{kims[DESA].public_ref}")
    assert profile.status_code == 200
    body = client.get(f"/api/v1/regions/{DESA}").get_json()
    assert (body["code"], body["replaced_by"], body["retired_on"]) == (DESA, MOVED_DESA, "2027-01-02")
    assert client.get(f"/api/v1/regions/{MOVED_DESA}").get_json()["replaced_by"] is None
    # Lists show only the current regions.
    children = client.get("/api/v1/regions/76/children?per_page=50").get_json()
    assert "76.02" not in [r["code"] for r in children["items"]]
    assert [r["code"] for r in client.get("/api/v1/regions?level=provinsi").get_json()["items"]][-1] == "77"


def test_the_directorate_places_a_waiting_kim(runner, change_set, world, client):
    kims, pembina, direktorat = world
    assert apply(runner, change_set).exit_code == 0
    login(client, pembina)
    assert client.get("/wilayah/perubahan").status_code == 403
    client.post("/keluar", data={"csrf_token": csrf_token(client)})
    login(client, direktorat)
    page = client.get("/wilayah/perubahan").get_data(as_text=True)
    assert "Menunggu ditempatkan" in page and kims[SPLIT].name in page and kims[REMOVED].name in page
    assert kims[DESA].name not in page
    kim = kims[SPLIT]
    # Not one of the new desa: the page comes back with the message, nothing moves.
    wrong = client.post("/wilayah/perubahan/tempatkan", data={
        "csrf_token": csrf_token(client), "reference": "kims", "item_id": kim.id, "new_code": MOVED_DESA})
    assert wrong.status_code == 422
    assert "bukan salah satu wilayah hasil pemekaran" in wrong.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Kim, kim.id).desa_code == SPLIT
    placed = client.post("/wilayah/perubahan/tempatkan", data={
        "csrf_token": csrf_token(client), "reference": "kims", "item_id": kim.id, "new_code": SPLIT_B})
    assert placed.status_code == 302
    db.session.expire_all()
    assert db.session.get(Kim, kim.id).desa_code == SPLIT_B
    assert {a.desa_code for a in db.session.scalars(select(Activity).where(Activity.kim_id == kim.id))} == {SPLIT_B}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "region.placed"))
    assert (entry.actor_id, entry.before, entry.after["code"]) == (direktorat.id, {"code": SPLIT}, SPLIT_B)
    assert kept_counts() == direct_counts()
    # Placed once: it no longer waits.
    again = client.post("/wilayah/perubahan/tempatkan", data={
        "csrf_token": csrf_token(client), "reference": "kims", "item_id": kim.id, "new_code": SPLIT_A})
    assert again.status_code == 404
    page = client.get("/wilayah/perubahan").get_data(as_text=True)
    assert "Kepmendagri 300.2.2-9999/2027" in page and kim.name not in page.split("Riwayat")[0]
    # The history comes in keyset pages of 50, newest first.
    total = db.session.scalar(select(func.count()).select_from(RegionChange))
    assert total > 50
    newest = db.session.scalars(select(RegionChange.id).order_by(RegionChange.id.desc())).all()
    cursor = newest[49]
    assert f"/wilayah/perubahan?sebelum={cursor}" in page
    older = client.get(f"/wilayah/perubahan?sebelum={cursor}").get_data(as_text=True)
    shown = db.session.get(RegionChange, newest[50])
    assert f"/wilayah/{shown.old_code or shown.new_code}" in older


def test_exports_carry_the_current_and_the_former_code(runner, change_set, world, client):
    assert apply(runner, change_set).exit_code == 0
    response = client.get("/cakupan/ekspor.csv?wilayah=77")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [(r["code"], r["former_code"], r["kim_verified"]) for r in rows] == [("77.01", "76.02", "1")]
    kecamatan = list(csv.DictReader(io.StringIO(
        client.get("/cakupan/ekspor.csv?wilayah=76.01").data.decode("utf-8-sig"))))
    assert all(r["former_code"] == "" for r in kecamatan)
    geo = json.loads(client.get("/cakupan/ekspor.geojson?wilayah=77").data)
    assert geo["features"][0]["properties"]["former_code"] == "76.02"


def test_what_is_written_now_takes_the_current_code(runner, change_set, world):
    assert apply(runner, change_set).exit_code == 0
    with pytest.raises(PlaceError) as replaced:
        check_location(DESA, *POINTS[DESA])
    assert MOVED_DESA in str(replaced.value.fields["desa_code"])
    with pytest.raises(PlaceError) as split:
        check_location(SPLIT, *POINTS[SPLIT])
    assert "pilih desa/kelurahan penggantinya" in str(split.value.fields["desa_code"])
    assert check_location(MOVED_DESA, *POINTS[DESA]).code == MOVED_DESA


def test_a_later_decree_sends_old_links_to_the_newest_code(runner, change_set, world, tmp_path, client):
    """92.01 -> 96.01 in one decree, 96.01 -> 97.01 in the next: the oldest link reaches 97.01."""
    assert apply(runner, change_set).exit_code == 0
    second, mapping = write_dataset(tmp_path / "wilayah-2028")
    for stem in ("provinces", "regencies", "districts", "villages"):
        path = second / f"{stem}.csv"
        path.write_text(path.read_text(encoding="utf-8").replace("77.01", "77.02"), encoding="utf-8")
        geo = second / f"{stem}.geojson"
        if geo.exists():
            geo.write_text(geo.read_text(encoding="utf-8").replace('"77.01', '"77.02'), encoding="utf-8")
    mapping.write_text("old_code,new_code,kind\n77.01,77.02,rename\n", encoding="utf-8")
    result = runner.invoke(args=["regions", "apply", str(second), "--mapping", str(mapping),
                                 "--decree", "Kepmendagri 2028", "--effective", "2028-01-01"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Region, DESA).replaced_by == "77.02.01.1002"
    assert db.session.get(Kim, world[0][DESA].id).desa_code == "77.02.01.1002"
    assert client.get(f"/wilayah/{DESA}").headers["Location"].endswith(f"/wilayah/77.02.01.1002?kode_lama={DESA}")


def _kecamatan_split(folder):
    """Kecamatan Banggae 76.05.01 split in two new ones; its desa follow by name, but one was renamed."""
    folder.mkdir()
    with (SAMPLE / "villages.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, villages = reader.fieldnames, list(reader)
    moved = {}
    for n, row in enumerate(r for r in villages if r["parent_code"] == "76.05.01"):
        target = "76.05.20" if n % 2 == 0 else "76.05.21"
        name = "Pangali-Ali Utara" if row["code"] == "76.05.01.1007" else row["name"]
        moved[row["code"]] = {**row, "code": f"{target}.{1001 + n}", "parent_code": target, "name": name}
    for stem in ("provinces", "regencies", "districts", "villages"):
        with (SAMPLE / f"{stem}.csv").open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields, rows = reader.fieldnames, list(reader)
        rows = [moved.get(r["code"], r) for r in rows if r["code"] != "76.05.01"]
        if stem == "districts":
            rows += [{**dict.fromkeys(fields, ""), "code": c, "parent_code": "76.05", "name": name}
                     for c, name in (("76.05.20", "Banggae Barat"), ("76.05.21", "Banggae Timur"))]
        with (folder / f"{stem}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        source = SAMPLE / f"{stem}.geojson"
        if source.exists():
            collection = json.loads(source.read_text(encoding="utf-8"))
            collection["features"] = [f for f in collection["features"] if f["properties"]["code"] != "76.05.01"]
            (folder / f"{stem}.geojson").write_text(json.dumps(collection), encoding="utf-8")
    mapping = folder.parent / "split.csv"
    mapping.write_text("old_code,new_code,kind\n76.05.01,76.05.20,split\n76.05.01,76.05.21,split\n",
                       encoding="utf-8")
    return folder, mapping, moved


def test_a_split_kecamatan_places_its_desa_by_name_and_leaves_the_rest_waiting(runner, tmp_path, make_kim,
                                                                               make_user, client):
    folder, mapping, moved = _kecamatan_split(tmp_path / "split")
    point = (-3.538990, 118.957343)
    renamed = make_kim(name="KIM Pangali", desa_code="76.05.01.1007", point=point)
    followed = make_kim(name="KIM Banggae", desa_code="76.05.01.1001", point=(-3.534334, 118.963420))
    direktorat = make_user(role="direktorat")
    db.session.commit()
    result = runner.invoke(args=["regions", "apply", str(folder), "--mapping", str(mapping),
                                 "--decree", DECREE, "--effective", "2027-01-02"])
    assert result.exit_code == 0, result.output
    assert "76.05.01.1007 -> one of 76.05.20, 76.05.21" in result.output
    db.session.expire_all()
    assert db.session.get(Kim, followed.id).desa_code == moved["76.05.01.1001"]["code"]
    assert db.session.get(Kim, renamed.id).desa_code == "76.05.01.1007"
    assert db.session.get(Region, "76.05.01.1001").replaced_by == moved["76.05.01.1001"]["code"]
    login(client, direktorat)
    page = client.get("/wilayah/perubahan").get_data(as_text=True)
    new_home = moved["76.05.01.1007"]["code"]
    assert "KIM Pangali" in page and f'<option value="{new_home}">' in page
    assert "76.02.01.1002" not in page  # only the desa of the two new kecamatan are offered
    placed = client.post("/wilayah/perubahan/tempatkan", data={
        "csrf_token": csrf_token(client), "reference": "kims", "item_id": renamed.id, "new_code": new_home})
    assert placed.status_code == 302
    db.session.expire_all()
    assert db.session.get(Kim, renamed.id).desa_code == new_home
    assert kept_counts() == direct_counts()


def test_campaign_targets_and_reach_totals_follow_a_moved_kabupaten(runner, change_set, world):
    """A campaign for 76.02 targets 77.01 after the decree; its reach totals are rebuilt under the
    new codes (its per-row triggers stay off during the bulk re-coding) and equal a direct count."""
    from kim_platform.campaigns import reach, services
    from kim_platform.campaigns.models import Campaign, Dissemination

    kims, pembina, _ = world
    today = clock.today()
    campaign = services.publish_campaign(pembina, services.create_campaign(pembina, {
        "title": "Cek Kesehatan Gratis", "key_message": "Datang ke puskesmas.", "targets": ["76.02"],
        "start_date": today.isoformat(), "end_date": today.isoformat()}))
    report = Activity(kim_id=kims[DESA].id, title="Sosialisasi CKG", activity_date=today, type="diseminasi",
                      desa_code=DESA, reach_offline=30, published_at=clock.utcnow())
    db.session.add(report)
    db.session.flush()
    db.session.add(Dissemination(activity_id=report.id, campaign_id=campaign.id, channel="pertemuan-warga"))
    db.session.commit()
    assert reach.totals(campaign).people == 30

    result = apply(runner, change_set)
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.target_codes == ["77.01"]
    regions = dict(db.session.execute(text(
        "SELECT code, people FROM campaign_reach_region WHERE campaign_id = :c AND people <> 0"),
        {"c": campaign.id}).all())
    assert regions == {"77": 30, "77.01": 30, MOVED_DESA[:8]: 30, MOVED_DESA: 30}
    assert reach.totals(campaign).people == 30 and reach.totals(campaign).disseminations == 1
    # The target totals too: rows under the new codes only, the KIMs and desa now there.
    headline = reach.totals(campaign)
    assert (headline.kims_targeted, headline.desa_targeted) == tuple(db.session.execute(text(
        "SELECT (SELECT count(*) FROM kim WHERE status = 'verified' AND desa_code LIKE '77.01.%'), "
        "(SELECT count(*) FROM region WHERE level = 'desa' AND retired_on IS NULL AND code LIKE '77.01.%')")).one())
    assert headline.desa_targeted > 0 and db.session.scalar(text(
        "SELECT count(*) FROM campaign_target_total WHERE campaign_id = :c AND code NOT LIKE '77%'"),
        {"c": campaign.id}) == 0
    enabled = db.session.scalars(text(
        "SELECT tgenabled FROM pg_trigger WHERE (tgname LIKE 'campaign_reach_%' OR tgname LIKE 'campaign_target_%') "
        "AND NOT tgisinternal")).all()
    assert len(enabled) > 3 and set(enabled) == {"O"}  # on again after the apply


def test_aspirations_follow_their_desa_and_their_handler_to_the_new_codes(runner, change_set, world, make_user):
    """An item raised in a desa of the moved kabupaten keeps its history under the new desa code
    and stays with the pembina whose scope moved with it; the diff counts it beforehand."""
    from kim_platform.aspirations import services as aspirations
    from kim_platform.aspirations.models import Aspiration

    kims, pembina, _ = world
    member = make_user(name="Relawan")
    kim = kims[DESA]
    from kim_platform.kims.models import Membership

    db.session.add(Membership(kim_id=kim.id, user_id=member.id, role="anggota"))
    db.session.flush()
    item = aspirations.submit_aspiration(member, kim, {
        "kind": "informasi", "topic": "bansos", "description": "Kapan bantuan cair?", "residents_count": 3})
    assert (item.desa_code, item.handler_scope) == (DESA, "76.02")
    db.session.commit()

    folder, mapping = change_set
    diff = runner.invoke(args=["regions", "diff", str(folder), "--mapping", str(mapping)])
    assert diff.exit_code == 0, diff.output
    moved = next(line for line in diff.output.splitlines() if line.strip().startswith("76.02 "))
    assert "aspirations 1" in moved and "aspiration_handlers 1" in moved, diff.output

    assert apply(runner, change_set).exit_code == 0
    db.session.expire_all()
    item = db.session.get(Aspiration, item.id)
    assert (item.desa_code, item.handler_scope) == (MOVED_DESA, "77.01")
    assert db.session.scalar(select(RoleGrant.scope_code).where(RoleGrant.user_id == pembina.id)) == "77.01"
