"""Mails about KIMs: to its ketua and admins when its status changes, and invitations."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kim_platform.accounts.mails import send_quietly
from kim_platform.core.urls import absolute_url
from kim_platform.kims.models import ADMIN, ANGGOTA, KETUA, MANAGER_ROLES
from kim_platform.kims.services import INVITATION_DAYS, invitation_token


def notify_status(kim, action: str) -> None:
    if action not in ("verify", "reject"):
        return
    link = absolute_url("kims.profile", ref=kim.public_ref)
    for membership in kim.memberships:
        if membership.role not in MANAGER_ROLES:
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


ROLE_NAMES = {KETUA: _l("chair (ketua)"), ADMIN: _l("admin"), ANGGOTA: _l("member")}


def send_invitation(invitation, inviter) -> None:
    """The same mail whether or not the address has an account: the link leads to a page where
    its owner, logged in (or after registering with this address), accepts or declines."""
    link = absolute_url("kims.invitation", token=invitation_token(invitation))
    kim = invitation.kim
    send_quietly(invitation.email, _("Invitation to join %(name)s", name=kim.name), _(
        "%(inviter)s invites you to join %(name)s as %(role)s on the KIM Platform.\n\n"
        "Open this link to accept or decline; log in, or register with this email address first:\n%(link)s\n\n"
        "The invitation is valid for %(days)d days. Nobody becomes a member without accepting. If you do not "
        "know this KIM, ignore this message.",
        inviter=inviter.name, name=kim.name, role=ROLE_NAMES[invitation.role], link=link,
        days=INVITATION_DAYS))
