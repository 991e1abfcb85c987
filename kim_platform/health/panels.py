"""What health shows in the slots of the KIM profile (core.slots), registered in health.init_app:
its state, SK validity and freshness under the facts, and for the region's pembina the contact
notes (with "sudah dihubungi") and the SK history."""
from kim_platform import permissions
from kim_platform.accounts.forms import PostForm
from kim_platform.core import clock
from kim_platform.health import queries
from kim_platform.health.models import HealthState
from kim_platform.kims.models import KimStatus

CONFIRM_DUE_DAYS = 335  # offer "data masih benar" to its admins once 11 months have passed


def kim_health(kim, viewer) -> dict | None:
    """State and reasons, "SK kedaluwarsa" once past its end (judged today, not only by the last
    daily run), "diperbarui <date>", and the yearly confirmation for the KIM's admins."""
    if kim.status != KimStatus.VERIFIED:
        return None
    today = clock.today()
    confirmed = kim.data_confirmed_at
    may_confirm = permissions.can_confirm_kim_data(viewer, kim)
    due = confirmed is None or (today - confirmed.astimezone(clock.WIB).date()).days >= CONFIRM_DUE_DAYS
    return {"kim": kim, "health": queries.health_of(kim.id), "today": today,
            "sk_expired": kim.sk_valid_until is not None and kim.sk_valid_until < today,
            "updated_on": kim.updated_at.astimezone(clock.WIB).date() if kim.updated_at else None,
            "confirmed_on": confirmed.astimezone(clock.WIB).date() if confirmed else None,
            "may_confirm": may_confirm, "confirm_due": may_confirm and due, "post_form": PostForm(),
            "HealthState": HealthState}


def kim_follow_up(kim, viewer) -> dict | None:
    """For the pembina of the KIM's region: the contact notes so far and a new one; for those who
    see the KIM's private data, its SK history (the files stay private)."""
    follow_up = permissions.can_follow_up_kim(viewer, kim) and kim.status == KimStatus.VERIFIED
    private = permissions.is_authenticated(viewer) and permissions.can_see_private_kim_data(viewer, kim)
    if not follow_up and not private:
        return None
    history = queries.sk_history(kim) if private else []
    notes = queries.notes_of([kim.id], limit_each=10)[kim.id] if follow_up else []
    if not follow_up and not history:
        return None
    return {"kim": kim, "follow_up": follow_up, "notes": notes, "sk_history": history, "post_form": PostForm()}
