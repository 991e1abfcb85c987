"""A new Kepmendagri: compare its region list with the loaded one, then apply it without losing a
KIM, a report or a link.

`plan_changes` reads a dataset (the loader's four CSV files, boundaries optional) and an optional
mapping file (`old_code,new_code,kind`, kind rename|move|split|merge) and works out, writing
nothing: new codes, removed codes, new names, and the codes the mapping replaces. A replaced
region takes its subtree along: a kabupaten moved 92.01 → 96.01 re-codes its kecamatan and desa by
prefix (92.01.05.2001 → 96.01.05.2001) when the new dataset has that code, else by an exact name
under the new parent. What cannot be placed so (the desa of a split kecamatan that went to two new
ones, a desa split in two) waits, under its old code, for the directorate to place it by hand.

`apply_plan` writes it in the caller's transaction, in an order the foreign keys accept: the new
and renamed regions first (the loader's upsert), then every registered reference remapped with one
UPDATE each (regions.references), then the old codes retired (kept, with `retired_on` and
`replaced_by`, so they still resolve), the history rows, and the registered after-hooks.
"""
import bisect
import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from kim_platform.regions.codes import LEVELS, is_valid_code, level_of, normalise_name, parent_of
from kim_platform.regions.loader import DESA_TOTALS, RegionDataError, load_regions, read_level
from kim_platform.regions.models import MAPPING_KINDS
from kim_platform.regions.references import apply_hooks, references


class RegionChangeError(ValueError):
    """The dataset or the mapping file cannot be applied; nothing has been written."""


@dataclass
class Change:
    kind: str  # new | remove | rename | move | split | merge
    old_code: str | None
    new_code: str | None
    old_name: str | None = None
    new_name: str | None = None
    # The mapping row (its old code) this change follows from; None for what the dataset shows by itself.
    root: str | None = None

    @property
    def derived(self) -> bool:
        return self.root is not None and self.root != self.old_code


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    remap: dict[str, str] = field(default_factory=dict)  # old code -> new code (exact)
    retire: dict[str, str | None] = field(default_factory=dict)  # old code -> replaced_by
    waiting: dict[str, list[str]] = field(default_factory=dict)  # old code -> candidate codes
    # per root code (a mapping row's old code, or the changed code): rows of each reference
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def of_kind(self, kind: str, derived: bool | None = None) -> list[Change]:
        return [c for c in self.changes if c.kind == kind and (derived is None or c.derived == derived)]

    @property
    def is_empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class MappingRow:
    old_code: str
    new_code: str
    kind: str
    line: int


def read_mapping(path: Path | None) -> list[MappingRow]:
    """`old_code,new_code,kind` rows (a header line is required)."""
    if path is None:
        return []
    path = Path(path)
    if not path.exists():
        raise RegionChangeError(f"{path} not found")
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or {"old_code", "new_code", "kind"} - {f.strip() for f in reader.fieldnames}:
            raise RegionChangeError(f"{path.name}: the header must be old_code,new_code,kind")
        for line, record in enumerate(reader, start=2):
            record = {(k or "").strip(): (v or "").strip() for k, v in record.items()}
            old, new, kind = record.get("old_code", ""), record.get("new_code", ""), record.get("kind", "")
            if not is_valid_code(old) or not is_valid_code(new):
                raise RegionChangeError(f"{path.name}:{line}: {old!r} or {new!r} is not a region code")
            if kind not in MAPPING_KINDS:
                raise RegionChangeError(f"{path.name}:{line}: kind {kind!r} is not one of {', '.join(MAPPING_KINDS)}")
            if level_of(old) != level_of(new):
                raise RegionChangeError(f"{path.name}:{line}: {old} and {new} are not of the same level")
            rows.append(MappingRow(old, new, kind, line))
    return rows


def read_dataset(data_dir: Path) -> dict[str, tuple[str, str]]:
    """code -> (name, kind) of every region in the new dataset, validated as the loader does."""
    data_dir = Path(data_dir)
    found: dict[str, tuple[str, str]] = {}
    parents = None
    try:
        for level in LEVELS:
            rows = read_level(data_dir, level, parents)
            found.update((row.code, (row.name, row.kind)) for row in rows)
            parents = {row.code for row in rows}
    except RegionDataError as error:
        raise RegionChangeError(str(error)) from None
    return found


def _loaded(connection: Connection) -> dict[str, tuple[str, str]]:
    rows = connection.execute(text("SELECT code, name, kind FROM region WHERE retired_on IS NULL"))
    return {code: (name, kind) for code, name, kind in rows}


class _Fresh:
    """Codes new in the dataset, for the prefix and name searches of the placement."""

    def __init__(self, codes):
        self.codes = sorted(codes)
        self.used: set[str] = set()

    def under(self, ancestor: str, level: str) -> list[str]:
        start = bisect.bisect_left(self.codes, ancestor + ".")
        found = []
        for code in self.codes[start:]:
            if not code.startswith(ancestor + "."):
                break
            if level_of(code) == level:
                found.append(code)
        return found


def plan_changes(connection: Connection, data_dir: Path, mapping_path: Path | None = None) -> Plan:
    """Everything the dataset and the mapping would change, and what it touches. Writes nothing."""
    new = read_dataset(data_dir)
    mapping = read_mapping(mapping_path)
    old = _loaded(connection)
    plan = Plan()
    errors = []

    explicit: dict[str, list[MappingRow]] = defaultdict(list)
    for row in mapping:
        if row.old_code not in old:
            errors.append(f"line {row.line}: {row.old_code} is not a current region")
        if row.new_code not in new:
            errors.append(f"line {row.line}: {row.new_code} is not in the new dataset")
        explicit[row.old_code].append(row)
    for code, rows in explicit.items():
        kinds = {row.kind for row in rows}
        if len(kinds) > 1:
            errors.append(f"{code}: mixed kinds {', '.join(sorted(kinds))}")
        elif rows[0].kind != "split" and len(rows) > 1:
            errors.append(f"{code}: a {rows[0].kind} names one new code, not {len(rows)}")
        elif rows[0].kind == "split" and len({row.new_code for row in rows}) < 2:
            errors.append(f"{code}: a split names at least two new codes")
        elif rows[0].kind in ("rename", "move") and rows[0].new_code in old and rows[0].new_code != code:
            errors.append(f"{code}: {rows[0].new_code} is a current region (a merge, not a {rows[0].kind}?)")
    if errors:
        raise RegionChangeError("The mapping file does not fit:\n" + "\n".join(errors))

    def name(codes, code):
        return codes[code][0] if code in codes else None

    fresh = _Fresh(code for code in new if code not in old)
    candidates_of: dict[str, list[str]] = {}  # a split or waiting code -> where its subtree may go
    root_of: dict[str, str] = {}
    for code in sorted(explicit):
        rows = explicit[code]
        kind = rows[0].kind
        root_of[code] = code
        if kind == "split":
            targets = sorted({row.new_code for row in rows})
            for target in targets:
                plan.changes.append(Change("split", code, target, name(old, code), name(new, target), root=code))
                fresh.used.add(target)
            candidates_of[code] = targets
            if code not in new:
                plan.waiting[code] = targets
        else:
            target = rows[0].new_code
            plan.changes.append(Change(kind, code, target, name(old, code), name(new, target), root=code))
            fresh.used.add(target)
            if target != code:
                plan.remap[code] = target

    # Every current code the dataset no longer lists, parents before children.
    for code in sorted(c for c in old if c not in new):
        if code in explicit:
            continue
        parent = parent_of(code)
        root = root_of.get(parent) if parent else None
        if root is None:
            plan.changes.append(Change("remove", code, None, name(old, code), None, root=code))
            root_of[code] = code
            parent_now = parent if parent in new else None
            plan.waiting[code] = [parent_now] if parent_now else []
            continue
        root_of[code] = root
        level = level_of(code)
        placed = None
        if parent in plan.remap:
            by_prefix = plan.remap[parent] + code[len(parent):]
            if by_prefix in new and by_prefix not in old and by_prefix not in fresh.used:
                placed = by_prefix
            search = [plan.remap[parent]]
        else:
            search = candidates_of.get(parent) or plan.waiting.get(parent) or []
        if placed is None:
            wanted = normalise_name(old[code][0])
            matches = [c for ancestor in search for c in fresh.under(ancestor, level)
                       if c not in fresh.used and normalise_name(new[c][0]) == wanted]
            placed = matches[0] if len(matches) == 1 else None
        if placed:
            fresh.used.add(placed)
            plan.remap[code] = placed
            kind = explicit[root][0].kind if root in explicit else "move"
            plan.changes.append(Change("move" if kind == "split" else kind, code, placed, name(old, code),
                                       name(new, placed), root=root))
        else:
            plan.waiting[code] = search
            candidates_of[code] = search
            # below a removed region it is removed too; below a split one it waits for the split
            kind = "split" if root in explicit else "remove"
            plan.changes.append(Change(kind, code, None, name(old, code), None, root=root))

    for code in sorted(c for c in old if c in new and old[c][0] != new[c][0] and c not in explicit):
        plan.changes.append(Change("rename", code, code, old[code][0], new[code][0]))
    for code in sorted(c for c in new if c not in old and c not in fresh.used):
        plan.changes.append(Change("new", None, code, None, new[code][0]))
    plan.retire = {code: plan.remap.get(code) for code in old if code not in new}
    plan.counts = _counts(connection, plan)
    return plan


def _counts(connection: Connection, plan: Plan) -> dict[str, dict[str, int]]:
    """Rows of each registered reference that each change touches, summed per mapping row."""
    touched: dict[str, str] = {}
    for change in plan.changes:
        if change.old_code:  # a new name touches what shows it, a new code what holds it
            touched[change.old_code] = change.root or change.old_code
    keys, codes = list(touched.values()), list(touched)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for reference in references():
        for key, n in reference.count_by(connection, keys, codes).items():
            counts[key][reference.name] = n
    return dict(counts)


@dataclass
class ApplyResult:
    plan: Plan
    remapped: dict[str, int]  # reference name -> rows re-coded
    retired: int
    history: int


_REMAP_DDL = """
CREATE TEMP TABLE IF NOT EXISTS region_remap (old_code text COLLATE "C" PRIMARY KEY, new_code text COLLATE "C")
    ON COMMIT DROP;
TRUNCATE region_remap;
"""


def apply_plan(connection: Connection, data_dir: Path, plan: Plan, decree: str, effective_on: date) -> ApplyResult:
    """Write the plan in the caller's transaction (it commits or rolls back as a whole)."""
    hooks = apply_hooks()
    for hook in hooks:
        if hook.before:
            hook.before(connection)
    try:
        load_regions(connection, data_dir)
    except RegionDataError as error:
        raise RegionChangeError(str(error)) from None
    # A code an older decree withdrew and this one lists again is current again.
    connection.execute(text(
        "UPDATE region SET retired_on = NULL, replaced_by = NULL "
        "WHERE retired_on IS NOT NULL AND code = ANY(:codes)"),
        {"codes": [c.new_code for c in plan.changes if c.new_code]})
    connection.execute(text(_REMAP_DDL))
    if plan.remap:
        connection.execute(text("INSERT INTO region_remap (old_code, new_code) "
                                "SELECT * FROM unnest(CAST(:old AS text[]), CAST(:new AS text[]))"),
                           {"old": list(plan.remap), "new": list(plan.remap.values())})
    remapped = {}
    for reference in references():
        remapped[reference.name] = reference.apply_remap(connection) if plan.remap else 0
    retired = 0
    if plan.retire:
        retired = connection.execute(text(
            "UPDATE region r SET retired_on = :day, replaced_by = x.new_code, updated_at = now() "
            "FROM unnest(CAST(:old AS text[]), CAST(:new AS text[])) AS x(old_code, new_code) "
            'WHERE r.code = x.old_code COLLATE "C"'),
            {"day": effective_on, "old": list(plan.retire), "new": list(plan.retire.values())}).rowcount
        # Links to a code an earlier decree replaced by one retired now follow to the newest.
        connection.execute(text(
            "UPDATE region r SET replaced_by = m.new_code FROM region_remap m WHERE r.replaced_by = m.old_code"))
    history = 0
    if plan.changes:
        history = connection.execute(text(
            "INSERT INTO region_change (old_code, new_code, kind, old_name, new_name, decree, effective_on) "
            "SELECT o, n, k, on_, nn, :decree, :day FROM unnest(CAST(:o AS text[]), CAST(:n AS text[]), "
            "CAST(:k AS text[]), CAST(:on_ AS text[]), CAST(:nn AS text[])) AS x(o, n, k, on_, nn)"),
            {"decree": decree, "day": effective_on,
             "o": [c.old_code for c in plan.changes], "n": [c.new_code for c in plan.changes],
             "k": [c.kind for c in plan.changes], "on_": [c.old_name for c in plan.changes],
             "nn": [c.new_name for c in plan.changes]}).rowcount
    connection.execute(text("UPDATE region SET desa_total = 0 WHERE retired_on IS NOT NULL AND desa_total <> 0"))
    connection.execute(text(DESA_TOTALS))
    for hook in hooks:
        if hook.after:
            hook.after(connection)
    return ApplyResult(plan, remapped, retired, history)


def waiting_codes(connection: Connection) -> list[str]:
    """Retired codes without a successor (split or removed): what is on them waits to be placed."""
    return list(connection.execute(text(
        "SELECT code FROM region WHERE retired_on IS NOT NULL AND replaced_by IS NULL ORDER BY code")).scalars())
