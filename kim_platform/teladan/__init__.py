"""KIM teladan: a transparent score, model KIMs to follow, and coaching for every KIM.

Scores are refreshed in the transaction that changes what they are made of: a session hook
notes the KIMs whose reports, photos, members or profile were flushed and recomputes just those
before the commit. Time alone also moves them (recency, the six periods): `flask teladan
recompute` does every KIM and should run daily (cron); pages say when it last ran.
"""
from sqlalchemy import event, select
from sqlalchemy.orm import Session

PENDING = "teladan_pending_kims"
PENDING_ACTIVITIES = "teladan_pending_activities"


def _note_changes(session, flush_context) -> None:
    from kim_platform.activities.models import Activity, Photo
    from kim_platform.kims.models import Kim, Membership

    kims = session.info.setdefault(PENDING, set())
    activities = session.info.setdefault(PENDING_ACTIVITIES, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Kim):
            kims.add(obj.id)
        elif isinstance(obj, (Activity, Membership)):
            kims.add(obj.kim_id)
        elif isinstance(obj, Photo):
            activities.add(obj.activity_id)


def _recompute_pending(session) -> None:
    from kim_platform.activities.models import Activity
    from kim_platform.teladan.scoring import recompute

    session.flush()  # commit flushes after this hook; what it would flush must be counted now
    kims = session.info.pop(PENDING, set())
    activities = session.info.pop(PENDING_ACTIVITIES, set())
    if activities:
        kims |= set(session.scalars(select(Activity.kim_id).where(Activity.id.in_(activities))))
    kims.discard(None)
    if kims:
        recompute(sorted(kims))
        session.info.pop(PENDING, None)
        session.info.pop(PENDING_ACTIVITIES, None)


def _forget(session, *args) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(PENDING_ACTIVITIES, None)


def _daily_recompute(day) -> str:
    """`flask jobs daily`: every score as of today (recency decays with time)."""
    from kim_platform.teladan.scoring import recompute_all

    written, seconds = recompute_all()
    return f"{written} KIM scores recomputed in {seconds:.1f} s"


def init_app(app) -> None:
    """Rescore in the transaction (the session hooks above); show the score on the KIM profile
    (slot kim_profile.summary, core.slots)."""
    from kim_platform.kims.slots import PROFILE_SUMMARY
    from kim_platform.teladan import panels

    PROFILE_SUMMARY.register(app, "teladan.score", panels.kim_score, order=10,
                             template="teladan/_kim_panel.html")
    from kim_platform.core.jobs import daily_task

    daily_task(app, "teladan.recompute", 60, _daily_recompute)
    if not event.contains(Session, "after_flush", _note_changes):
        event.listen(Session, "after_flush", _note_changes)
        event.listen(Session, "before_commit", _recompute_pending)
        event.listen(Session, "after_rollback", _forget)
