"""Reading the audit log within what the viewer may see."""
from sqlalchemy import false, or_, select
from sqlalchemy.orm import selectinload

from kim_platform import permissions
from kim_platform.audit.models import AuditEntry
from kim_platform.core.pagination import Page, paginate
from kim_platform.regions.codes import descendant_pattern


def visible_entries(user, page: int = 1, per_page: int = 50) -> Page:
    """Newest first. Direktorat: all entries; pembina: those about their region."""
    stmt = select(AuditEntry).options(selectinload(AuditEntry.actor)).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if not permissions.is_direktorat(user):
        scope = permissions.pembina_scope(user)
        if scope is None:
            stmt = stmt.where(false())
        else:
            stmt = stmt.where(or_(AuditEntry.scope_code == scope,
                                  AuditEntry.scope_code.like(descendant_pattern(scope))))
    return paginate(stmt, page, per_page)
