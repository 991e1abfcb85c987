"""Mails about aspirations: a new item told to the pembina who handle it (no personal data)."""
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
