"""KIM health pages: "Perlu perhatian" for the pembina, "sudah dihubungi", "data masih benar"."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kim_platform import permissions
from kim_platform.accounts.forms import PostForm
from kim_platform.core import transaction
from kim_platform.core.pagination import int_arg
from kim_platform.core.urls import safe_next_url
from kim_platform.health import queries, services
from kim_platform.health.models import HealthState
from kim_platform.health.services import HealthError
from kim_platform.kims.queries import get_kim_by_ref

bp = Blueprint("health", __name__)
PER_PAGE = 50
ID_MAX = 2 ** 63 - 1


def _kim_or_404(ref: str):
    kim = get_kim_by_ref(ref)
    if kim is None or not permissions.can_view_kim(current_user, kim):
        abort(404)
    return kim


@bp.get("/pembina/perlu-perhatian")
@login_required
def attention():
    """The KIMs of my scope that need attention: reasons, last report, contact, notes so far."""
    if not permissions.can(current_user, "health.attention"):
        abort(403)
    state = request.args.get("keadaan") if request.args.get("keadaan") in HealthState.NEEDS_ATTENTION else None
    page = queries.attention_list(current_user, cursor=int_arg("setelah", 0, 0, ID_MAX) or None,
                                  per_page=PER_PAGE, state=state)
    kims = [kim for kim, _health in page.rows]
    return render_template("health/attention.html", page=page, state=state, states=HealthState.NEEDS_ATTENTION,
                           contacts=queries.admin_contacts(current_user, kims),
                           notes=queries.notes_of([kim.id for kim in kims], limit_each=3), post_form=PostForm())


@bp.post("/kim/<ref>/sudah-dihubungi")
@login_required
def contact_note(ref: str):
    """"Sudah dihubungi" with a short text, by the pembina of the KIM's region (audited)."""
    kim = _kim_or_404(ref)
    back = safe_next_url(request.form.get("next")) or url_for("health.attention")
    try:
        services.add_contact_note(current_user, kim, request.form.get("body", ""))
    except HealthError as error:
        if error.status in (403, 404):
            raise  # the error page, through core.errors
        transaction.discard()
        flash(str(next(iter(error.fields.values()), error.message)), "error")
        return redirect(back)
    flash(_("Noted: %(name)s has been contacted.", name=kim.name), "success")
    return redirect(back)


@bp.post("/kim/<ref>/data-benar")
@login_required
def confirm(ref: str):
    """"Data masih benar": the KIM's ketua or an admin confirms its profile for another year."""
    kim = _kim_or_404(ref)
    services.confirm_data(current_user, kim)  # refuses with 403 itself
    flash(_("Thank you: the KIM's data is confirmed."), "success")
    return redirect(url_for("kims.profile", ref=kim.public_ref))
