"""An aspiration's desa and its handler's scope as region references (regions.references), so a
new Kepmendagri re-codes them with the KIMs and reports."""
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import text


def waiting_aspirations(connection, codes: list[str], limit: int) -> list[dict]:
    """Items still on a retired desa code without a successor (shown by number, never by their text:
    the change page is for the directorate, and an item's text is not theirs to read everywhere)."""
    rows = connection.execute(text(
        "SELECT id, desa_code FROM aspiration WHERE desa_code = ANY(:codes) ORDER BY desa_code, id LIMIT :limit"),
        {"codes": codes, "limit": limit})
    return [{"id": r.id, "label": f"#{r.id}", "code": r.desa_code,
             "url": url_for("aspirations.detail", item_id=r.id)} for r in rows]


def place_aspiration(connection, item_id: int, new_code: str) -> dict | None:
    old = connection.execute(text("SELECT desa_code FROM aspiration WHERE id = :id"), {"id": item_id}).scalar()
    if old is None:
        return None
    connection.execute(text("UPDATE aspiration SET desa_code = :new, updated_at = now() WHERE id = :id"),
                       {"new": new_code, "id": item_id})
    return {"old_code": old, "new_code": new_code, "rows": 1}


def register(app) -> None:
    from kim_platform.regions.references import register_reference

    register_reference(app, "aspirations", "aspiration", "desa_code", kind="desa", label=_l("Aspirations"),
                       items=waiting_aspirations, place=place_aspiration, touch="updated_at")
    register_reference(app, "aspiration_handlers", "aspiration", "handler_scope", kind="scope",
                       label=_l("Aspiration handlers"))
