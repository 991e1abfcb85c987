"""Reads: the history of region codes (keyset pages) and what waits to be placed by hand."""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, text

from kim_platform.extensions import db
from kim_platform.regions.changes import waiting_codes
from kim_platform.regions.codes import ancestor_codes
from kim_platform.regions.models import RegionChange
from kim_platform.regions.references import references

MAX_PER_PAGE = 100
ITEMS_LIMIT = 200
CHOICES_LIMIT = 300


@dataclass
class HistoryPage:
    items: list
    next_cursor: int | None
    per_page: int


def history(cursor: int | None = None, per_page: int = 50) -> HistoryPage:
    """Changes newest first, a page after the id `cursor` (no count of all rows)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    stmt = select(RegionChange)
    if cursor is not None:
        stmt = stmt.where(RegionChange.id < cursor)
    rows = list(db.session.scalars(stmt.order_by(RegionChange.id.desc()).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return HistoryPage(rows, rows[-1].id if more and rows else None, per_page)


@dataclass
class WaitingRegion:
    code: str
    name: str
    level: str
    retired_on: date
    decree: str | None = None
    # where what is on it may go: the split's new regions, or the parent of a removed code
    candidates: list[str] = field(default_factory=list)


def waiting_regions(codes: list[str] | None = None) -> dict[str, WaitingRegion]:
    """Retired codes without a successor (all of them, or those of `codes`), with their candidates."""
    codes = waiting_codes(db.session.connection()) if codes is None else codes
    if not codes:
        return {}
    rows = db.session.execute(text(
        "SELECT r.code, r.name, r.level, r.retired_on, p.code AS parent FROM region r "
        "LEFT JOIN region p ON p.code = r.parent_code AND p.retired_on IS NULL "
        "WHERE r.code = ANY(:codes) AND r.retired_on IS NOT NULL AND r.replaced_by IS NULL"), {"codes": codes}).all()
    found = {r.code: WaitingRegion(r.code, r.name, r.level, r.retired_on) for r in rows}
    parents = {r.code: r.parent for r in rows}
    changes = db.session.execute(text(
        "SELECT old_code, new_code, decree FROM region_change "
        "WHERE old_code = ANY(:codes) AND kind IN ('split', 'remove') ORDER BY id"), {"codes": list(found)}).all()
    latest: dict[str, str] = {}
    targets: dict[tuple[str, str], list[str]] = defaultdict(list)
    for old, new, decree in changes:
        latest[old] = decree
        if new:
            targets[(old, decree)].append(new)
    for code, region in found.items():
        region.decree = latest.get(code)
        region.candidates = targets.get((code, region.decree)) or ([parents[code]] if parents[code] else [])
    _inherit_split_targets([r for r in found.values() if not r.candidates])
    return found


def _inherit_split_targets(regions: list[WaitingRegion]) -> None:
    """A desa of a split kecamatan that no name placed goes to one of the kecamatan's new ones."""
    ancestors = {a for r in regions for a in ancestor_codes(r.code)}
    if not ancestors:
        return
    rows = db.session.execute(text(
        "SELECT old_code, new_code FROM region_change WHERE old_code = ANY(:codes) AND kind = 'split' "
        "AND new_code IS NOT NULL ORDER BY id"), {"codes": list(ancestors)}).all()
    split: dict[str, list[str]] = defaultdict(list)
    for old, new in rows:
        split[old].append(new)
    for region in regions:
        nearest = next((a for a in ancestor_codes(region.code) if a in split), None)
        region.candidates = sorted(set(split[nearest])) if nearest else []


@dataclass
class WaitingItem:
    reference: str
    id: int
    label: str
    code: str
    url: str
    region: WaitingRegion
    choices: list[tuple[str, str]]  # (code, name) of the current desa it may go to


def _choices(candidates: list[str]) -> list[tuple[str, str]]:
    """Current desa at or under each candidate code, for the placement form."""
    if not candidates:
        return []
    rows = db.session.execute(text(
        "SELECT code, name FROM region WHERE level = 'desa' AND retired_on IS NULL AND "
        "(code = ANY(:codes) OR code LIKE ANY(:patterns)) ORDER BY code LIMIT :limit"),
        {"codes": candidates, "patterns": [c + ".%" for c in candidates], "limit": CHOICES_LIMIT}).all()
    return [(code, name) for code, name in rows]


def waiting_items(limit: int = ITEMS_LIMIT) -> tuple[list[WaitingItem], dict[str, dict[str, int]]]:
    """The KIMs and reports to place by hand, and, for the references nobody places here (a
    pembina's scope), how many rows sit on a code without successor."""
    regions = waiting_regions()
    if not regions:
        return [], {}
    connection = db.session.connection()
    codes = list(regions)
    items, others = [], {}
    choices: dict[str, list] = {}
    for ref in references():
        if ref.items is None:
            counts = ref.count_by(connection, codes, codes)
            if counts:
                others[ref.name] = {"label": ref.label, "rows": sum(counts.values())}
            continue
        for row in ref.items(connection, codes, limit):
            region = regions[row["code"]]
            if region.code not in choices:
                choices[region.code] = _choices(region.candidates)
            items.append(WaitingItem(ref.name, row["id"], row["label"], row["code"], row["url"], region,
                                     choices[region.code]))
    return items, others


def reference_labels() -> dict[str, object]:
    return {ref.name: ref.label for ref in references()}
