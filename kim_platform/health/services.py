"""KIM health writes: the daily states, the SK reminders, the pembina's monthly digest, the
"sudah dihubungi" notes and the admins' yearly "data masih benar".

Operations flush; the request, CLI or daily-job edge commits. The daily functions return the mails
to send (to, subject, body) and send nothing themselves: the job runner sends them after its commit,
so a mail only speaks of what was recorded as sent (a rerun sends nothing)."""
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text

from kim_platform import permissions
from kim_platform.audit.services import record
from kim_platform.core import clock
from kim_platform.core.domain import DomainError
from kim_platform.core.text import text_problem
from kim_platform.extensions import db
from kim_platform.health import mails, queries
from kim_platform.health.models import ContactNote
from kim_platform.kims.models import Kim, KimStatus
from kim_platform.kims.services import authorise

REMINDER_DAYS = (60, 14)  # before the SK's end
NOTE_MAX = 2000


class HealthError(DomainError):
    """A health operation refused: message, fields at fault, HTTP status (core/domain.py)."""


def compute_daily(today: date | None = None) -> int:
    """Every verified KIM's health state as of today (set-based; see health.queries)."""
    return queries.compute_states(today or clock.today())


# Set-based: the reminders due today for every KIM, recorded in one INSERT; only the rows it
# inserted are mailed, so a second run the same day (or the next) finds them sent.
REMINDERS_SQL = text("""
INSERT INTO kim_sk_reminder (kim_id, valid_until, days_before)
SELECT k.id, k.sk_valid_until, d.days
FROM kim k CROSS JOIN (VALUES (60), (14)) AS d(days)
WHERE k.status = :verified_status AND k.sk_valid_until IS NOT NULL
  AND k.sk_valid_until - CAST(:today AS date) BETWEEN 0 AND d.days
  AND (d.days = 14 OR k.sk_valid_until - CAST(:today AS date) > 14)
ON CONFLICT DO NOTHING
RETURNING kim_id, valid_until, days_before
""")
ADMINS_SQL = text("""
SELECT m.kim_id, u.name, u.email FROM kim_membership m JOIN user_account u ON u.id = m.user_id
WHERE m.kim_id = ANY(:ids) AND m.role IN ('ketua', 'admin') AND u.is_active AND u.email_verified_at IS NOT NULL
ORDER BY m.kim_id, u.id
""")


def send_sk_reminders(today: date | None = None) -> list[tuple[str, str, str]]:
    """The SK expiry reminders due (60 and 14 days before the end), each once: to the KIM's ketua
    and admins. Returns the mails; a KIM's new SK end date starts its own reminders."""
    today = today or clock.today()
    due = db.session.execute(REMINDERS_SQL, {"today": today, "verified_status": KimStatus.VERIFIED}).all()
    if not due:
        return []
    kims = {kim.id: kim for kim in db.session.scalars(select(Kim).where(Kim.id.in_({row.kim_id for row in due})))}
    admins: dict[int, list] = {}
    for row in db.session.execute(ADMINS_SQL, {"ids": list(kims)}):
        admins.setdefault(row.kim_id, []).append(row)
    outgoing = []
    for row in due:
        for admin in admins.get(row.kim_id, []):
            outgoing.append((admin.email, *mails.sk_reminder(admin.name, kims[row.kim_id], row.valid_until,
                                                             (row.valid_until - today).days)))
    return outgoing


DIGEST_CLAIM_SQL = text("""
INSERT INTO health_digest (user_id, month)
SELECT g.user_id, CAST(:month AS date) FROM role_grant g JOIN user_account u ON u.id = g.user_id
WHERE g.role = 'pembina' AND u.is_active AND u.email_verified_at IS NOT NULL
ON CONFLICT DO NOTHING
RETURNING user_id
""")
# The changes of state since the start of last month in each claimed pembina's scope, in one query.
DIGEST_CHANGES_SQL = text("""
SELECT g.user_id, k.id AS kim_id, k.name, k.number, k.slug, h.state, h.previous_state, h.reasons
FROM role_grant g
JOIN kim k ON k.desa_code = g.scope_code OR k.desa_code LIKE g.scope_code || '.%'
JOIN kim_health h ON h.kim_id = k.id
WHERE g.role = 'pembina' AND g.user_id = ANY(:users) AND h.state_since >= CAST(:since AS date)
  AND h.previous_state IS NOT NULL AND k.status = :verified_status
ORDER BY g.user_id, h.state DESC, k.name
""")


def send_monthly_digests(today: date | None = None) -> list[tuple[str, str, str]]:
    """Once a month, each pembina's digest of the KIMs of their scope whose health changed since
    the start of last month. Claimed per (pembina, month) first: a rerun sends nothing."""
    today = today or clock.today()
    month = today.replace(day=1)
    since = queries.months_before(month, 1)
    users = [row.user_id for row in db.session.execute(DIGEST_CLAIM_SQL, {"month": month})]
    if not users:
        return []
    changes: dict[int, list] = {}
    for row in db.session.execute(DIGEST_CHANGES_SQL, {"users": users, "since": since,
                                                       "verified_status": KimStatus.VERIFIED}):
        changes.setdefault(row.user_id, []).append(row)
    from kim_platform.accounts.models import User

    outgoing = []
    for user in db.session.scalars(select(User).where(User.id.in_(list(changes)))):
        outgoing.append((user.email, *mails.monthly_digest(user, changes[user.id], since)))
    return outgoing


def add_contact_note(actor, kim: Kim, body) -> ContactNote:
    """"Sudah dihubungi": the pembina of the KIM's region notes they contacted it, and how."""
    authorise(actor, permissions.can_follow_up_kim(actor, kim), kim,
              _l("Only the pembina of the KIM's region note contacts."), error=HealthError)
    body = body.strip() if isinstance(body, str) else ""
    problem = text_problem(body, True) if body else None
    if len(body) < 3 or problem or len(body) > NOTE_MAX:
        message = problem or (_l("At most %(n)d characters.", n=NOTE_MAX) if len(body) > NOTE_MAX
                              else _l("Say briefly how you contacted the KIM."))
        raise HealthError(_l("Some fields need attention."), fields={"body": message})
    note = ContactNote(kim_id=kim.id, author_id=actor.id if permissions.is_person(actor) else None, body=body,
                       created_at=clock.utcnow())
    db.session.add(note)
    db.session.flush()
    record(actor, "kim.contacted", "kim", kim.id, scope_code=kim.desa_code, after={"note_id": note.id, "body": body})
    return note


def confirm_data(actor, kim: Kim) -> Kim:
    """"Data masih benar": the KIM's ketua or an admin confirms its profile (the yearly check); its
    health state is recomputed at once, without the flag."""
    authorise(actor, permissions.can_confirm_kim_data(actor, kim), kim,
              _l("Only the KIM's ketua and admins confirm its data."), error=HealthError)
    before = kim.data_confirmed_at
    kim.data_confirmed_at = clock.utcnow()
    db.session.flush()
    queries.compute_states(clock.today(), kim_id=kim.id)
    record(actor, "kim.data_confirmed", "kim", kim.id, scope_code=kim.desa_code,
           before={"data_confirmed_at": before.isoformat() if before else None},
           after={"data_confirmed_at": kim.data_confirmed_at.isoformat()})
    return kim
