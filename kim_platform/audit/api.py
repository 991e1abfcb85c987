"""/api/v1/audit."""
import marshmallow as ma
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort

from kim_platform import permissions
from kim_platform.api.schemas import PaginationArgs, error_responses, page_body, page_schema
from kim_platform.audit.queries import visible_entries

blp = Blueprint("audit_api", __name__, description="The audit log")


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = ma.fields.DateTime(required=True)
    actor_id = ma.fields.Integer(allow_none=True)
    actor_name = ma.fields.String(allow_none=True)
    action = ma.fields.String(required=True)
    object_type = ma.fields.String(required=True)
    object_id = ma.fields.String(required=True)
    scope_code = ma.fields.String(allow_none=True)
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)


AuditPageSchema = page_schema(AuditEntrySchema, "AuditPage")


@blp.route("")
class AuditLog(MethodView):
    decorators = [login_required]

    @blp.doc(security=[{"bearerAuth": []}, {"cookieAuth": []}])
    @blp.arguments(PaginationArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, AuditPageSchema)
    @error_responses(blp, 401, 403)
    def get(self, page, per_page):
        """Audit entries visible to me, newest first."""
        if not permissions.can(current_user, "audit.view"):
            abort(403, message=_("You may not read the audit log."))
        result = visible_entries(current_user, page, per_page)
        items = [
            {"id": e.id, "at": e.at, "actor_id": e.actor_id, "actor_name": e.actor.name if e.actor else None,
             "action": e.action, "object_type": e.object_type, "object_id": e.object_id,
             "scope_code": e.scope_code, "before": e.before, "after": e.after}
            for e in result.items
        ]
        return page_body(result, items)
