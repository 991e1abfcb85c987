"""Region references: which tables of the domains above hold a region code.

Regions know no KIMs (setup.cfg's import contract), yet a new Kepmendagri must re-code every KIM,
report, pembina scope and campaign target. So each domain declares its columns here from its
`init_app`, and `regions.changes` counts and remaps them without importing any of them:

    register_reference(app, "kims", "kim", "desa_code", kind="desa", label=_l("KIM"),
                       items=waiting_kims, place=place_kim)

`kind` says what the column holds: "desa" (a desa/kelurahan code), "any-level" (a code of any
level, e.g. a campaign target) or "scope" (a provinsi or kabupaten, e.g. a pembina's scope).
Remapping is one set-based UPDATE joined on the temporary table `region_remap (old_code, new_code)`
that `regions.changes.apply_plan` fills; a reference with a constraint the plain UPDATE could break
(a primary key that a merge would duplicate) passes its own `remap(connection) -> rows`.

Apply hooks run around the whole apply in the same transaction: `before(connection)` after the
plan is checked and before anything is written, `after(connection)` once every code is remapped
(coverage rebuilds its aggregates there).
"""
from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import Connection

REFERENCES = "kim_region_references"
HOOKS = "kim_region_apply_hooks"
REFERENCE_KINDS = ("desa", "any-level", "scope")


@dataclass(frozen=True)
class Reference:
    name: str
    table: str
    column: str
    kind: str
    label: Any
    remap: Callable[[Connection], int] | None = None
    # items(connection, codes, limit) -> [{"id", "label", "code", "url"}]: rows on retired codes
    items: Callable[[Connection, list[str], int], list[dict]] | None = None
    # place(connection, item_id, new_code) -> {"old_code", "new_code", "rows"} or None (not found)
    place: Callable[[Connection, int, str], dict | None] | None = None
    # a timestamp column the remap sets to now(), so caches and syncs keyed on it see the change
    touch: str | None = None

    def count_by(self, connection: Connection, keys: list[str], codes: list[str]) -> dict[str, int]:
        """Rows holding each of `codes`, summed per key (a change), in one query."""
        if not codes:
            return {}
        rows = connection.execute(text(
            f"SELECT c.key, count(*) FROM {self.table} t "
            "JOIN unnest(CAST(:keys AS text[]), CAST(:codes AS text[])) AS c(key, code) "
            f'ON t.{self.column} = c.code COLLATE "C" GROUP BY c.key'), {"keys": keys, "codes": codes})
        return dict(rows.all())

    def apply_remap(self, connection: Connection) -> int:
        """Re-code every row whose code the decree replaced (one statement)."""
        if self.remap is not None:
            return self.remap(connection)
        touch = f", {self.touch} = now()" if self.touch else ""
        return connection.execute(text(
            f"UPDATE {self.table} t SET {self.column} = m.new_code{touch} FROM region_remap m "
            f"WHERE t.{self.column} = m.old_code")).rowcount


@dataclass(frozen=True)
class ApplyHook:
    name: str
    before: Callable[[Connection], None] | None
    after: Callable[[Connection], None] | None


def register_reference(app, name: str, table: str, column: str, *, kind: str, label, remap=None,
                       items=None, place=None, touch=None) -> Reference:
    """Declare a column holding region codes (from the owning domain's init_app)."""
    if kind not in REFERENCE_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {REFERENCE_KINDS}")
    registry = app.extensions.setdefault(REFERENCES, {})
    if name in registry:
        raise ValueError(f"region reference {name!r} is registered twice")
    reference = Reference(name, table, column, kind, label, remap, items, place, touch)
    registry[name] = reference
    return reference


def register_apply_hook(app, name: str, *, before=None, after=None) -> ApplyHook:
    """Run `before`/`after` around every apply, inside its transaction."""
    hooks = app.extensions.setdefault(HOOKS, {})
    if name in hooks:
        raise ValueError(f"apply hook {name!r} is registered twice")
    hook = ApplyHook(name, before, after)
    hooks[name] = hook
    return hook


def references() -> list[Reference]:
    """The registered references, in name order (stable output)."""
    registry = current_app.extensions.get(REFERENCES, {})
    return [registry[name] for name in sorted(registry)]


def reference(name: str) -> Reference | None:
    return current_app.extensions.get(REFERENCES, {}).get(name)


def apply_hooks() -> list[ApplyHook]:
    hooks = current_app.extensions.get(HOOKS, {})
    return [hooks[name] for name in sorted(hooks)]
