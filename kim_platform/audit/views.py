"""/audit: the audit log for the directorate and pembina."""
from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from kim_platform import permissions
from kim_platform.audit.queries import visible_entries
from kim_platform.core.pagination import page_arg

bp = Blueprint("audit", __name__)


@bp.get("/audit")
@login_required
def index():
    """Who granted or revoked what, newest first, within the viewer's region."""
    if not permissions.can(current_user, "audit.view"):
        abort(403)
    page = visible_entries(current_user, page_arg(), 50)
    return render_template("audit/index.html", page=page)
