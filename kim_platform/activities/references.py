"""The report's desa code as a region reference (regions.references)."""
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import text


def waiting_reports(connection, codes: list[str], limit: int) -> list[dict]:
    """Reports still on a retired code without a successor."""
    rows = connection.execute(text(
        "SELECT id, title, desa_code FROM activity WHERE desa_code = ANY(:codes) ORDER BY desa_code, id LIMIT :limit"),
        {"codes": codes, "limit": limit})
    return [{"id": r.id, "label": r.title, "code": r.desa_code,
             "url": url_for("activities.detail", activity_id=r.id)} for r in rows]


def place_report(connection, activity_id: int, new_code: str) -> dict | None:
    old = connection.execute(text("SELECT desa_code FROM activity WHERE id = :id"), {"id": activity_id}).scalar()
    if old is None:
        return None
    connection.execute(text("UPDATE activity SET desa_code = :new, updated_at = now() WHERE id = :id"),
                       {"new": new_code, "id": activity_id})
    return {"old_code": old, "new_code": new_code, "rows": 1}


def register(app) -> None:
    from kim_platform.regions.references import register_reference

    register_reference(app, "activities", "activity", "desa_code", kind="desa", label=_l("Reports"),
                       items=waiting_reports, place=place_report, touch="updated_at")
