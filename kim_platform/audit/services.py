"""Writing audit entries."""
from kim_platform.audit.models import AuditEntry
from kim_platform.extensions import db


def record(actor, action: str, object_type: str, object_id, scope_code=None, before=None, after=None) -> AuditEntry:
    """Add an audit entry to the current transaction (it commits or rolls back with the change)."""
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        scope_code=scope_code,
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry
