"""Mails about aspirations: a new item told to the pembina who handle it, and the daily digest of
items escalated to a pembina provinsi or the directorate (no personal data in either)."""
from flask_babel import gettext as _
from sqlalchemy import select

from kim_platform.core.urls import absolute_url
from kim_platform.extensions import db


def tell_handlers(item) -> int:
    """One mail to each active pembina of the item's handler scope (sent after the response)."""
    from kim_platform.accounts.mails import send_quietly
    from kim_platform.accounts.models import RoleGrant, User
    from kim_platform.aspirations.models import KIND_LABELS

    if item.handler_scope is None:
        return 0
    users = list(db.session.scalars(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
        RoleGrant.role == "pembina", RoleGrant.scope_code == item.handler_scope, User.is_active)))
    for user in users:
        subject = _("New item for your region: %(kind)s from %(kim)s", kind=KIND_LABELS[item.kind], kim=item.kim.name)
        body = "\n".join([_("Hello %(name)s,", name=user.name), "",
                          _("A KIM of your region has recorded a new item. Please verify it within 3 working days "
                            "(by %(due)s).", due=item.due_at.strftime("%Y-%m-%d %H:%M UTC")),
                          "", absolute_url("aspirations.detail", item_id=item.id)])
        send_quietly(user.email, subject, body)
    return len(users)


def escalation_digest(user, entries, region_names: dict) -> tuple[str, str]:
    """(subject, body) of one person's escalation digest: each item by its number, kind, topic,
    kabupaten, level and deadline, with its link; never the description or the resident."""
    from kim_platform.aspirations.models import KIND_LABELS, TOPIC_LABELS
    from datetime import timedelta

    from kim_platform.core.clock import WIB
    from kim_platform.regions.codes import kabupaten_of

    if len(entries) == 1:
        subject = _("An overdue aspiration was escalated to you: #%(id)d", id=entries[0][0].id)
    else:
        subject = _("%(n)d overdue aspirations were escalated to you", n=len(entries))
    parts = [_("Hello %(name)s,", name=user.name), "",
             _("These items passed their deadline without an answer and are now flagged for you:")]
    for item, level in entries:
        where = region_names.get(kabupaten_of(item.desa_code), kabupaten_of(item.desa_code))
        due = (item.due_at.astimezone(WIB) - timedelta(seconds=1)).date().isoformat() if item.due_at else "–"
        flag = _("escalated to the province") if level == 1 else _("escalated to the directorate")
        parts += ["", f"* #{item.id} · {KIND_LABELS[item.kind]} · {TOPIC_LABELS[item.topic]} · {where}",
                  f"  {flag} · " + _("deadline was %(day)s", day=due),
                  "  " + absolute_url("aspirations.detail", item_id=item.id)]
    return subject, "\n".join(parts)
