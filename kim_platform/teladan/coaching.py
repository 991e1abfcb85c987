"""Next steps: the one to three changes that would raise a KIM's score most, in plain words."""
from dataclasses import dataclass
from datetime import timedelta

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from kim_platform.activities.models import Activity, ActivityStatus
from kim_platform.activities.queries import activity_type_names
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, Membership
from kim_platform.teladan.models import KimScore
from kim_platform.teladan.scoring import (
    DESCRIPTION_MIN,
    MIN_MEMBERS,
    PERIOD_DAYS,
    PERIODS,
    SK_VALID_YEARS,
    VARIETY_FULL,
    WEIGHTS,
)


@dataclass
class NextStep:
    key: str
    message: str
    url: str
    gain: float  # points of score it can bring, to order the steps


def next_steps(kim: Kim, score: KimScore | None, limit: int = 3) -> list[NextStep]:
    today = clock.today()
    steps: list[NextStep] = []
    report_url = url_for("activities.report", ref=kim.public_ref)
    edit_url = url_for("kims.edit", ref=kim.public_ref)
    regularity = score.regularity if score else 0.0
    evidence = score.evidence if score else 0.0
    variety = score.variety if score else 0.0
    last = score.last_report_on if score else None
    if last is None or (today - last).days >= PERIOD_DAYS:
        steps.append(NextStep("report", _("No activity reported in the last 30 days: report your next one."),
                              report_url, WEIGHTS["regularity"] / PERIODS + WEIGHTS["recency"] * 0.5))
    if evidence < regularity:
        missing = round((regularity - evidence) * PERIODS / 100)
        steps.append(NextStep("evidence", _("Add photos or links to your reports: %(n)d of the last 6 months have "
                                            "reports without them.", n=missing),
                              url_for("kims.profile", ref=kim.public_ref) + "#kegiatan",
                              WEIGHTS["evidence"] * (regularity - evidence) / 100))
    if variety < 100:
        done = set(db.session.scalars(select(Activity.type).where(
            Activity.kim_id == kim.id, Activity.status == ActivityStatus.PUBLISHED,
            Activity.activity_date > today - timedelta(days=PERIODS * PERIOD_DAYS))))
        names = activity_type_names()
        untried = [slug for slug in sorted(names) if slug not in done]
        if untried:
            steps.append(NextStep("variety", _("Try another kind of activity, for example %(type)s: see how other KIMs "
                                               "did it.", type=names[untried[0]]),
                                  url_for("teladan.examples", jenis=untried[0]),
                                  WEIGHTS["variety"] / VARIETY_FULL))
    part = WEIGHTS["completeness"] / 4
    if not kim.sk_number or not kim.sk_date:
        steps.append(NextStep("sk", _("Add the KIM's SK (decree) number, date and scan."), edit_url, part))
    elif kim.sk_date <= today - timedelta(days=SK_VALID_YEARS * 365):
        steps.append(NextStep("sk", _("The SK is more than %(years)d years old: renew it.", years=SK_VALID_YEARS),
                              edit_url, part))
    members = db.session.scalar(select(func.count()).select_from(Membership).where(Membership.kim_id == kim.id))
    if members < MIN_MEMBERS:
        steps.append(NextStep("members", _("Invite members: a KIM counts as complete from %(n)d members.",
                                           n=MIN_MEMBERS), url_for("kims.members", ref=kim.public_ref), part))
    if len(kim.description or "") < DESCRIPTION_MIN:
        steps.append(NextStep("description", _("Describe the KIM's work in its profile (at least %(n)d characters).",
                                               n=DESCRIPTION_MIN), edit_url, part))
    if not kim.socials:
        steps.append(NextStep("socials", _("Add the KIM's social media accounts to its profile."), edit_url, part))
    steps.sort(key=lambda step: -step.gain)
    return steps[:limit]
