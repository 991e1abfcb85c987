"""The KIM's desa code as a region reference (regions.references): re-coded by a new Kepmendagri,
listed and placed by hand when its desa was split."""
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import text


def waiting_kims(connection, codes: list[str], limit: int) -> list[dict]:
    """KIMs still on a retired code without a successor."""
    rows = connection.execute(text(
        "SELECT id, name, desa_code, coalesce(number, slug) AS ref FROM kim "
        "WHERE desa_code = ANY(:codes) ORDER BY desa_code, id LIMIT :limit"), {"codes": codes, "limit": limit})
    return [{"id": r.id, "label": r.name, "code": r.desa_code, "url": url_for("kims.profile", ref=r.ref)}
            for r in rows]


def place_kim(connection, kim_id: int, new_code: str) -> dict | None:
    """Move one KIM to `new_code`, with its reports that are on the KIM's old code."""
    old = connection.execute(text("SELECT desa_code FROM kim WHERE id = :id"), {"id": kim_id}).scalar()
    if old is None:
        return None
    connection.execute(text("UPDATE kim SET desa_code = :new, updated_at = now() WHERE id = :id"),
                       {"new": new_code, "id": kim_id})
    reports = connection.execute(text(
        "UPDATE activity SET desa_code = :new, updated_at = now() WHERE kim_id = :id AND desa_code = :old"),
        {"new": new_code, "id": kim_id, "old": old}).rowcount
    return {"old_code": old, "new_code": new_code, "rows": 1 + reports}


def register(app) -> None:
    from kim_platform.regions.references import register_reference

    register_reference(app, "kims", "kim", "desa_code", kind="desa", label=_l("KIMs"),
                       items=waiting_kims, place=place_kim, touch="updated_at")
