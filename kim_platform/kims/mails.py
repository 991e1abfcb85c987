"""Mails to a KIM's ketua and admins when its status changes."""
from flask_babel import gettext as _

from kim_platform.accounts.mails import send_quietly
from kim_platform.core.urls import absolute_url


def notify_status(kim, action: str) -> None:
    if action not in ("verify", "reject"):
        return
    link = absolute_url("kims.profile", ref=kim.public_ref)
    for membership in kim.memberships:
        if membership.role not in ("ketua", "admin"):
            continue
        if action == "verify":
            subject = _("%(name)s is verified", name=kim.name)
            body = _("Your KIM %(name)s has been verified with number %(number)s.\n\n%(link)s",
                     name=kim.name, number=kim.number, link=link)
        else:
            subject = _("%(name)s needs changes", name=kim.name)
            body = _("The pembina returned the registration of %(name)s with this reason:\n\n%(reason)s\n\n"
                     "Edit the KIM and submit it again:\n%(link)s", name=kim.name, reason=kim.rejection_reason,
                     link=link)
        send_quietly(membership.user.email, subject, body)
