"""/wilayah/perubahan: the history of region codes and what waits to be placed (directorate)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from kim_platform import permissions
from kim_platform.core import transaction
from kim_platform.core.pagination import clamp_int
from kim_platform.regionchanges import queries, services
from kim_platform.regionchanges.forms import PlaceForm

bp = Blueprint("regionchanges", __name__, url_prefix="/wilayah/perubahan")

CHANGE_KINDS = {
    "new": _l("new code"), "remove": _l("removed"), "rename": _l("renamed"), "move": _l("moved"),
    "split": _l("split"), "merge": _l("merged"),
}


@bp.app_template_global()
def change_kind_label(kind: str) -> str:
    return str(CHANGE_KINDS.get(kind, kind))


def _require_directorate() -> None:
    if not permissions.can(current_user, "regions.changes"):
        abort(403)


def _page(form=None, status=200, error_item=None):
    cursor = request.args.get("sebelum")
    page = queries.history(clamp_int(cursor, 0, 1, 2**63 - 1) if cursor else None, 50)
    items, others = queries.waiting_items()
    return render_template("regionchanges/index.html", page=page, items=items, others=others,
                           labels=queries.reference_labels(), form=form or PlaceForm(),
                           error_item=error_item), status


@bp.get("")
@login_required
def index():
    """Every change of a region code, newest first, and the KIMs and reports waiting to be placed."""
    _require_directorate()
    return _page()


@bp.post("/tempatkan")
@login_required
def place():
    """Put one waiting KIM or report under a new desa code (audited)."""
    _require_directorate()
    form = PlaceForm()
    if not form.validate():
        transaction.discard()
        return _page(form, 422, (form.reference.data, form.item_id.data))
    try:
        placed = services.place_waiting(current_user, form.reference.data, form.item_id.data, form.new_code.data)
    except services.RegionChangeRefused as error:
        if error.status in (403, 404):
            abort(error.status)
        transaction.discard()
        form.new_code.errors = list(form.new_code.errors or []) + [str(error.message)]
        return _page(form, 422, (form.reference.data, form.item_id.data))
    flash(_("Placed under %(code)s.", code=placed["new_code"]), "success")
    return redirect(url_for("regionchanges.index"))
