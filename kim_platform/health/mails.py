"""Mails of KIM health: the SK expiry reminder to a KIM's admins, the pembina's monthly digest."""
from flask_babel import format_date
from flask_babel import gettext as _

from kim_platform.core.urls import absolute_url
from kim_platform.health.models import reason_label, state_label


def sk_reminder(name: str, kim, valid_until, days_left: int) -> tuple[str, str]:
    """(subject, body) of the reminder `days_left` days before the KIM's SK ends."""
    subject = _("The SK of %(kim)s ends on %(date)s", kim=kim.name, date=format_date(valid_until, "long"))
    body = "\n".join([
        _("Hello %(name)s,", name=name), "",
        _("The SK (decree) of %(kim)s is valid until %(date)s, in %(n)d days.", kim=kim.name,
          date=format_date(valid_until, "long"), n=days_left),
        _("Ask the kepala desa or lurah for a new SK in time, then upload it on the KIM's page "
          "(the old SK stays in its history)."), "",
        absolute_url("kims.edit", ref=kim.public_ref),
    ])
    return subject, body


def monthly_digest(user, changes, since) -> tuple[str, str]:
    """(subject, body) of a pembina's monthly digest: the KIMs whose health changed since `since`."""
    subject = _("KIM health in your region: %(n)d changes", n=len(changes))
    parts = [_("Hello %(name)s,", name=user.name), "",
             _("The health of these KIMs in your region changed since %(date)s:", date=format_date(since, "long"))]
    for row in changes[:100]:
        reasons = ", ".join(str(reason_label(r)) for r in row.reasons)
        parts += ["", f"* {row.name} ({row.number or row.slug}): {state_label(row.previous_state)} → "
                      f"{state_label(row.state)}" + (f" ({reasons})" if reasons else ""),
                  absolute_url("kims.profile", ref=row.number or row.slug)]
    if len(changes) > 100:
        parts += ["", _("… and %(n)d more.", n=len(changes) - 100)]
    parts += ["", _("The KIMs that need attention, with their contacts: %(url)s",
                    url=absolute_url("health.attention"))]
    return subject, "\n".join(parts)
