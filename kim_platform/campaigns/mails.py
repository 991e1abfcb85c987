"""Mails about campaigns: the daily digest of campaigns published for a person's KIMs."""
from flask_babel import gettext as _

from kim_platform.core.urls import absolute_url


def digest(user, campaigns) -> tuple[str, str]:
    """(subject, body) of one person's digest: every campaign not told yet, in one mail."""
    if len(campaigns) == 1:
        subject = _("Information package for your KIM: %(title)s", title=campaigns[0].title)
    else:
        subject = _("%(n)d information packages for your KIM", n=len(campaigns))
    parts = [_("Hello %(name)s,", name=user.name), "",
             _("New information to pass on to the residents of your desa:")]
    for campaign in campaigns:
        parts += ["", f"* {campaign.title} ({campaign.start_on.isoformat()} – {campaign.end_on.isoformat()})",
                  campaign.key_message, absolute_url("campaigns.detail", campaign_id=campaign.id)]
    parts += ["", _("Log where and to how many people you passed it on from the campaign page "
                    "(\"Log a dissemination\").")]
    return subject, "\n".join(parts)
