"""Writes: apply a decree (CLI) and place what it left waiting (the directorate's page)."""
from datetime import date
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from kim_platform import permissions
from kim_platform.audit.services import record
from kim_platform.core.domain import DomainError
from kim_platform.extensions import db
from kim_platform.regionchanges import queries
from kim_platform.regions.changes import ApplyResult, RegionChangeError, apply_plan, plan_changes
from kim_platform.regions.codes import is_valid_code, level_of
from kim_platform.regions.references import reference

DECREE_MAX = 200


class RegionChangeRefused(DomainError):
    """A decree or a placement refused (who may, what input)."""


def _authorise(actor) -> None:
    if not permissions.can_manage_region_changes(actor):
        raise RegionChangeRefused(_l("Only the directorate manages region code changes."), status=403)


def apply_decree(actor, data_dir: Path, mapping_path: Path | None, decree: str, effective_on: date) -> ApplyResult:
    """Apply a new region dataset in the current transaction, audited; flushes, never commits."""
    _authorise(actor)
    decree = (decree or "").strip()
    if not decree or len(decree) > DECREE_MAX:
        raise RegionChangeRefused(_l("Name the decree (at most %(n)d characters).", n=DECREE_MAX),
                                  fields={"decree": _l("Required.")})
    db.session.flush()
    connection = db.session.connection()
    try:
        plan = plan_changes(connection, data_dir, mapping_path)
        result = apply_plan(connection, data_dir, plan, decree, effective_on)
    except RegionChangeError as error:
        raise RegionChangeRefused(str(error), status=422) from None
    for change in plan.changes:
        if change.derived or change.kind == "new":
            continue  # the history table has every row; the audit names what the decree did
        record(actor, f"region.{change.kind}", "region", change.old_code or change.new_code,
               scope_code=change.new_code or change.old_code,
               before={"code": change.old_code, "name": change.old_name},
               after={"code": change.new_code, "name": change.new_name, "decree": decree,
                      "touches": plan.counts.get(change.old_code or "", {})})
    record(actor, "region.decree_applied", "region_change", decree[:40], after={
        "decree": decree, "effective_on": effective_on.isoformat(), "changes": len(plan.changes),
        "new": len(plan.of_kind("new")), "retired": result.retired, "waiting": len(plan.waiting),
        "remapped": result.remapped})
    db.session.flush()
    db.session.expire_all()  # the remap and the retirement were written with SQL
    return result


def place_waiting(actor, reference_name: str, item_id: int, new_code: str) -> dict:
    """Put one KIM or report a decree left on a retired code under one of its successors."""
    _authorise(actor)
    ref = reference(reference_name)
    if ref is None or ref.place is None:
        raise RegionChangeRefused(_l("This item cannot be placed here."), status=404)
    new_code = (new_code or "").strip()
    db.session.flush()
    connection = db.session.connection()
    current = connection.execute(text(f"SELECT {ref.column} FROM {ref.table} WHERE id = :id"),
                                 {"id": item_id}).scalar() if 0 < item_id < 2**63 else None
    waiting = queries.waiting_regions([current]) if current else {}
    if current not in waiting:
        raise RegionChangeRefused(_l("This item is not waiting to be placed."), status=404)
    candidates = waiting[current].candidates
    region = connection.execute(text("SELECT level, retired_on FROM region WHERE code = :code"),
                                {"code": new_code}).one_or_none() if is_valid_code(new_code) else None
    if region is None or region.retired_on is not None or (ref.kind == "desa" and region.level != "desa") \
            or (ref.kind != "desa" and level_of(new_code) != level_of(current)):
        raise RegionChangeRefused(_l("Choose a current region code."), fields={"new_code": _l("Not a current code.")})
    if candidates and not any(new_code == c or new_code.startswith(c + ".") for c in candidates):
        raise RegionChangeRefused(_l("The code is not one of the regions this one was split into."),
                                  fields={"new_code": _l("Not one of the new regions.")})
    placed = ref.place(connection, item_id, new_code)
    if placed is None:
        raise RegionChangeRefused(_l("This item is not waiting to be placed."), status=404)
    record(actor, "region.placed", reference_name, item_id, scope_code=new_code,
           before={"code": placed["old_code"]}, after={"code": new_code, "rows": placed["rows"]})
    db.session.flush()
    db.session.expire_all()
    return placed
